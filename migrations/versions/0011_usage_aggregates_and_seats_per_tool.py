"""usage aggregates and seats per tool

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:19:57.948842

Usage reports read daily aggregates (UTC day x tool x department x app) instead of
scanning the exchange log; a watermark row says how far they reach. Nothing is
backfilled here: the first refresh (any usage report) folds in the existing log.
Distinct people are exact: each person gets a small number (usage_person_ids, which
holds 63 bits of the keyed hash, never the key) and each day x tool x department x app
a compressed bitmap of the numbers sent, which a report unites.
Tools gain the seats and contract volume IT declares, to compare with actual use.
"""
from alembic import op
import sqlalchemy as sa

import gateway.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usage_categories',
    sa.Column('category', sa.String(length=100), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tool', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('app', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', 'tool', 'department', 'app', 'category', name=op.f('pk_usage_categories'))
    )
    op.create_table('usage_daily',
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('allowed', sa.BigInteger(), nullable=False),
    sa.Column('redacted', sa.BigInteger(), nullable=False),
    sa.Column('denied', sa.BigInteger(), nullable=False),
    sa.Column('records_sent', sa.BigInteger(), nullable=False),
    sa.Column('bytes_in', sa.BigInteger(), nullable=False),
    sa.Column('completed', sa.BigInteger(), nullable=False),
    sa.Column('vendor_errors', sa.BigInteger(), nullable=False),
    sa.Column('bytes_out', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tool', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('app', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', 'tool', 'department', 'app', name=op.f('pk_usage_daily'))
    )
    op.create_table('usage_latency',
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tool', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('app', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', 'tool', 'department', 'app', 'bucket', name=op.f('pk_usage_latency'))
    )
    op.create_table('usage_person_ids',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person', sa.BigInteger(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_person_ids')),
    sa.UniqueConstraint('person', name=op.f('uq_usage_person_ids_person'))
    )
    op.create_index('ix_usage_person_ids_last_day', 'usage_person_ids', ['last_day'], unique=False)
    op.create_table('usage_people_bitmaps',
    sa.Column('people', sa.LargeBinary(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tool', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('app', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', 'tool', 'department', 'app', name=op.f('pk_usage_people_bitmaps'))
    )
    op.create_table('usage_refusals',
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tool', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('app', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', 'tool', 'department', 'app', 'rule', name=op.f('pk_usage_refusals'))
    )
    op.create_table('usage_watermark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_outcome_seq', sa.BigInteger(), nullable=False),
    sa.Column('refreshed_at', gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_watermark'))
    )
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seats', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('contract_volume', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.drop_column('contract_volume')
        batch_op.drop_column('seats')

    op.drop_table('usage_watermark')
    op.drop_table('usage_refusals')
    op.drop_table('usage_people_bitmaps')
    op.drop_index('ix_usage_person_ids_last_day', table_name='usage_person_ids')
    op.drop_table('usage_person_ids')
    op.drop_table('usage_latency')
    op.drop_table('usage_daily')
    op.drop_table('usage_categories')
