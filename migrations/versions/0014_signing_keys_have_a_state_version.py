"""token signing keys have a state version

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 17:40:00.000000

The token signing keys become a snapshot like the catalog: a key made or retired by
`gatehouse keys` moves this version, so every instance signs with the new key, and stops
accepting a retired one, within a second.
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

state_versions = sa.table('state_versions', sa.column('name', sa.String), sa.column('version'))


def upgrade() -> None:
    op.bulk_insert(state_versions, [{"name": "signing_keys", "version": 0}])


def downgrade() -> None:
    op.execute(state_versions.delete().where(state_versions.c.name == 'signing_keys'))
