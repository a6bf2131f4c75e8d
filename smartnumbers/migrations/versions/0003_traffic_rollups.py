"""traffic rollups: calls and revenue per number and hour, per caller and month, for the dashboard

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa

import smartnumbers.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('caller_month',
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('caller_e164', sa.String(length=16), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('payout', smartnumbers.db.Money(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_caller_month_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_caller_month_number_id_smart_number'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('number_id', 'caller_e164', 'period', name=op.f('pk_caller_month'))
    )
    with op.batch_alter_table('caller_month', schema=None) as batch_op:
        batch_op.create_index('ix_caller_month_account_period', ['account_id', 'period', 'payout'], unique=False)

    op.create_table('traffic_hour',
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('hour', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('payout', smartnumbers.db.Money(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_traffic_hour_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_traffic_hour_number_id_smart_number'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('number_id', 'hour', name=op.f('pk_traffic_hour'))
    )
    with op.batch_alter_table('traffic_hour', schema=None) as batch_op:
        batch_op.create_index('ix_traffic_hour_account_hour', ['account_id', 'hour'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('traffic_hour', schema=None) as batch_op:
        batch_op.drop_index('ix_traffic_hour_account_hour')

    op.drop_table('traffic_hour')
    with op.batch_alter_table('caller_month', schema=None) as batch_op:
        batch_op.drop_index('ix_caller_month_account_period')

    op.drop_table('caller_month')
