"""the auditors' query trail, retention anchors; retention and data subjects of tools

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 18:48:45.381025

Every search, report and export of the exchange log is recorded in audit_queries; each
retention prune leaves a signed anchor in audit_retention_anchors. Tools
gain what the record of processing (Art. 30) needs beyond what they had: the data
subjects they hold and how long the vendor keeps the data. Exchanges gain how often the
connection to the vendor was tried again (null in older records, which keep their hashes:
the outcome chain leaves a null later field out of its encoding).
"""
from alembic import op
import sqlalchemy as sa

import gateway.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_queries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('result_count', sa.Integer(), nullable=True),
    sa.Column('manifest', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_queries'))
    )
    with op.batch_alter_table('audit_queries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_queries_at'), ['at'], unique=False)

    op.create_table('audit_retention_anchors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pruned_at', gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('older_than', gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('records_deleted', sa.Integer(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_retention_anchors'))
    )
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retries', sa.Integer(), nullable=True))
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('data_subjects', sa.JSON(), nullable=False, server_default='[]')
        )
        batch_op.add_column(sa.Column('retention', sa.String(length=200), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.drop_column('retries')
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.drop_column('retention')
        batch_op.drop_column('data_subjects')

    with op.batch_alter_table('audit_queries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_queries_at'))

    op.drop_table('audit_queries')
    op.drop_table('audit_retention_anchors')
