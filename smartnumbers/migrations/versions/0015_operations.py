"""rated calls indexed by when they were rated; what each switch disagrees on

The metrics read the calls rated since the last scrape (the CDR lag, hangup to rated) every
few seconds: without the index that is a scan of every rated call. ``serve`` compares each
switch's variables with its settings and keeps the disagreements for ``smartnumbers nodes``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rated_call_rated_at'), ['rated_at'], unique=False)
    with op.batch_alter_table('switch_node_status', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disagreements', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('switch_node_status', schema=None) as batch_op:
        batch_op.drop_column('disagreements')
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rated_call_rated_at'))
