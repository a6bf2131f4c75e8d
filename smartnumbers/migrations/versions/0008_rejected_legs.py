"""rejected legs: the leg records capture refused, with the reason

A CDR or hangup event with values out of any sane range (a timestamp of 25 digits, a leg id
of 500,000 characters, a NUL) is refused at the edge so that it cannot stop the good legs of
its batch; it is recorded here so that ``cdr reconcile`` lists it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

import smartnumbers.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rejected_leg',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Integer(), nullable=False),
    sa.Column('leg_id', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('excerpt', sa.String(length=500), nullable=False),
    sa.Column('file', sa.String(length=255), nullable=True),
    sa.Column('received_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_leg'))
    )
    with op.batch_alter_table('rejected_leg', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_leg_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rejected_leg', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_leg_received_at'))
    op.drop_table('rejected_leg')
