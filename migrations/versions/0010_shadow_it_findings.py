"""shadow-IT findings, unknown names and scanned logs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:21:56.000358

Shadow-IT discovery keeps what its scans found: findings per vendor and department
(deduplicated across scans, with IT's status new/known/ignored), unknown domains and
merchants seen often, and a fingerprint of every log scanned so that scanning a log
again, or the same log grown, never counts a line twice.
"""

from alembic import op
import sqlalchemy as sa

import gateway.db


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_it_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_slug", sa.String(length=64), nullable=False),
        sa.Column("vendor_name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "not_in_catalog",
                "requested",
                "rejected",
                "suspended",
                "retired",
                "bypassing",
                name="catalogstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("new", "known", "ignored", name="findingstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("first_seen", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("spend", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("users", sa.JSON(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("tool_slug", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_it_findings")),
        sa.UniqueConstraint(
            "vendor_slug", "department", name=op.f("uq_shadow_it_findings_vendor_slug_department")
        ),
    )
    with op.batch_alter_table("shadow_it_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shadow_it_findings_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_shadow_it_findings_status"), ["status"], unique=False)

    op.create_table(
        "shadow_it_scanned_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("head_digest", sa.String(length=64), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("first_event", gateway.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_event", gateway.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scanned_at", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_it_scanned_logs")),
    )
    with op.batch_alter_table("shadow_it_scanned_logs", schema=None) as batch_op:
        batch_op.create_index("ix_shadow_it_scanned_logs_head", ["head_digest"], unique=False)

    op.create_table(
        "shadow_it_unknown",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("new", "known", "ignored", name="findingstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_it_unknown")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_shadow_it_unknown_kind_name")),
    )


def downgrade() -> None:
    op.drop_table("shadow_it_unknown")
    with op.batch_alter_table("shadow_it_scanned_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_shadow_it_scanned_logs_head")

    op.drop_table("shadow_it_scanned_logs")
    with op.batch_alter_table("shadow_it_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shadow_it_findings_status"))
        batch_op.drop_index(batch_op.f("ix_shadow_it_findings_state"))

    op.drop_table("shadow_it_findings")
