"""the auditors' trail, checkpoints and retention anchors are append-only

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:40:00.000000

Who searched the log for what (audit_queries), the signed checkpoints and the anchors
retention pruning left are evidence as much as the exchanges are. On PostgreSQL the
trigger function of the exchange log (migration 0004) now guards the checkpoints and
anchors; the trail has one of its own, as an export's row is written when the export
starts and its signed manifest (with the count) is added, once, when it ends.
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ('audit_checkpoints', 'audit_retention_anchors')
QUERY_COLUMNS = ('id', 'at', 'actor', 'kind', 'parameters::text')
TRAIL_TRIGGER = f"""
CREATE FUNCTION gatehouse_audit_trail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('gatehouse.pruning', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END IF;
    IF OLD.manifest IS NOT NULL OR NEW.manifest IS NULL
       OR ({", ".join("NEW." + c for c in QUERY_COLUMNS)})
          IS DISTINCT FROM ({", ".join("OLD." + c for c in QUERY_COLUMNS)}) THEN
        RAISE EXCEPTION '% is append-only: only an export''s manifest and count may be added, once',
            TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_queries_append_only BEFORE UPDATE OR DELETE ON audit_queries
    FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_trail();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(TRAIL_TRIGGER)
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION gatehouse_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP TRIGGER audit_queries_append_only ON audit_queries")
    op.execute("DROP FUNCTION gatehouse_audit_trail()")
