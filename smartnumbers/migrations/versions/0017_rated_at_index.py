"""rated calls indexed by when they were rated

The metrics read the calls rated since the last scrape (the CDR lag, hangup to rated) every
few seconds: without the index that is a scan of every rated call.

Revision ID: 0017
Revises: 0012
Create Date: 2026-12-05
"""
from alembic import op


revision = '0017'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rated_call_rated_at'), ['rated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rated_call_rated_at'))
