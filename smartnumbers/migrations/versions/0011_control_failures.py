"""Live calls whose cost cap or tariff switch could not be applied on the switch

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

import smartnumbers.db


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('control_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_failure'))
    )
    with op.batch_alter_table('control_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_control_failure_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_control_failure_call_id'), ['call_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('control_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_control_failure_call_id'))
        batch_op.drop_index(batch_op.f('ix_control_failure_at'))

    op.drop_table('control_failure')
