"""hash chains in the exchange log; append-only on PostgreSQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:45:00

Existing records are chained here in sequence order (and their outcomes in completion
order), so the log verifies from its first record. On PostgreSQL a trigger makes the
exchange tables append-only: a row may only have its outcome completed, once, and rows
are deleted only by `gatehouse audit prune`, which sets gatehouse.pruning for its
transaction.
"""
from alembic import op
import sqlalchemy as sa

import gateway.db
from gateway.audit.chain import GENESIS, outcome_hash, record_hash


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

INTENT_COLUMNS = (
    "seq", "request_id", "started_at", "client_id", "department", "tool", "operation",
    "method", "path", "purpose", "data_categories::text", "categories_stripped::text",
    "subject_count", "consent_event_ids::text", "country", "transfer_basis", "decision",
    "reasons::text", "policy_version", "bytes_in", "record_hash",
)
APPEND_ONLY = f"""
CREATE FUNCTION gatehouse_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('gatehouse.pruning', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '% is append-only: rows are removed only by gatehouse audit prune',
            TG_TABLE_NAME;
    END IF;
    IF TG_TABLE_NAME <> 'exchanges' THEN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END IF;
    IF OLD.outcome_seq IS NOT NULL
       OR ({", ".join("NEW." + c for c in INTENT_COLUMNS)})
          IS DISTINCT FROM ({", ".join("OLD." + c for c in INTENT_COLUMNS)}) THEN
        RAISE EXCEPTION '% is append-only: only a pending exchange''s outcome may be completed, once',
            TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER exchanges_append_only BEFORE UPDATE OR DELETE ON exchanges
    FOR EACH ROW EXECUTE FUNCTION gatehouse_append_only();
CREATE TRIGGER exchange_subjects_append_only BEFORE UPDATE OR DELETE ON exchange_subjects
    FOR EACH ROW EXECUTE FUNCTION gatehouse_append_only();
"""


def upgrade() -> None:
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('outcome_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('outcome_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_exchanges_outcome_seq'), ['outcome_seq'])
    _chain_existing_records(op.get_bind())
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.alter_column('record_hash', existing_type=sa.String(length=64), nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)
    op.create_table('audit_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('private_key_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_audit_keys_key_id'))
    )
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('created_at', gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints'))
    )


def _chain_existing_records(connection) -> None:
    exchanges = sa.table(
        "exchanges", *[sa.column(name) for name in (
            "seq", "request_id", "started_at", "client_id", "department", "tool", "operation",
            "method", "path", "purpose", "data_categories", "categories_stripped",
            "subject_count", "consent_event_ids", "country", "transfer_basis", "decision",
            "reasons", "policy_version", "bytes_in", "completed_at", "status",
            "upstream_status", "error", "latency_ms", "upstream_latency_ms", "bytes_out",
            "record_hash", "outcome_seq", "outcome_hash", "outcome",
        )]
    )
    subjects = sa.table("exchange_subjects", sa.column("exchange_seq"),
                        sa.column("subject_key"), sa.column("dropped"))
    rows = connection.execute(sa.select(exchanges).order_by(exchanges.c.seq)).mappings().all()
    keys: dict[int, tuple[list, list]] = {}
    for seq, key, dropped in connection.execute(sa.select(subjects)):
        keys.setdefault(seq, ([], []))[1 if dropped else 0].append(key)
    previous, hashes = GENESIS, {}
    for row in rows:
        sent, dropped = keys.get(row["seq"], ([], []))
        values = {**row, "subject_keys": sorted(sent), "dropped_subject_keys": sorted(dropped)}
        previous = hashes[row["seq"]] = record_hash(previous, values)
        connection.execute(exchanges.update().where(exchanges.c.seq == row["seq"])
                           .values(record_hash=previous))
    completed = sorted((r for r in rows if r["outcome"] == "completed"),
                       key=lambda r: (r["completed_at"], r["seq"]))
    previous = GENESIS
    for position, row in enumerate(completed, start=1):
        previous = outcome_hash(previous, hashes[row["seq"]], {**row, "outcome_seq": position})
        connection.execute(exchanges.update().where(exchanges.c.seq == row["seq"])
                           .values(outcome_seq=position, outcome_hash=previous))


def downgrade() -> None:
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_keys')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER exchange_subjects_append_only ON exchange_subjects")
        op.execute("DROP TRIGGER exchanges_append_only ON exchanges")
        op.execute("DROP FUNCTION gatehouse_append_only()")
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_exchanges_outcome_seq'), type_='unique')
        batch_op.drop_column('outcome_hash')
        batch_op.drop_column('outcome_seq')
        batch_op.drop_column('record_hash')
