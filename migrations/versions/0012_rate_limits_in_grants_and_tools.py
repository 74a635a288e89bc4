"""rate limits in grants and tools

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 19:50:00.000000

Grants gain the limits of each app and of the department; tools their own limits, the
vendor's quota and what to do when the counters' store is unreachable (``open``: calls go
on). Existing rows get no limits.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('limits', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('rate_limits', sa.JSON(), nullable=False, server_default='[]')
        )
        batch_op.add_column(
            sa.Column('vendor_quota', sa.JSON(), nullable=False, server_default='[]')
        )
        batch_op.add_column(
            sa.Column(
                'limits_on_store_outage', sa.String(length=6), nullable=False,
                server_default='open',
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.drop_column('limits_on_store_outage')
        batch_op.drop_column('vendor_quota')
        batch_op.drop_column('rate_limits')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_column('limits')
