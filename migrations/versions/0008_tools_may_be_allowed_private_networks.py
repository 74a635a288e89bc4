"""tools may be allowed to reach private networks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:20:00.000000

The gateway now connects to public addresses only, checked after DNS resolution; IT
marks the tools that may reach loopback or private addresses (the demo's sandbox, a
vendor inside the company network). Existing tools get false: one that pointed at a
private address must be allowed explicitly.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'allow_private_network', sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.drop_column('allow_private_network')
