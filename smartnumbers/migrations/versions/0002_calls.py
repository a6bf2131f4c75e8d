"""calls: captured legs, call records, price list, rated calls, statements, adjustments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa

import smartnumbers.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('captured_leg',
    sa.Column('leg_id', sa.String(length=64), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('is_a_leg', sa.Boolean(), nullable=False),
    sa.Column('started_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sources', sa.Integer(), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('raw_event', sa.LargeBinary(), nullable=True),
    sa.Column('raw_cdr', sa.LargeBinary(), nullable=True),
    sa.Column('received_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('leg_id', name=op.f('pk_captured_leg'))
    )
    with op.batch_alter_table('captured_leg', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_captured_leg_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_captured_leg_started_at'), ['started_at'], unique=False)

    op.create_table('price_list_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('range_class', sa.Enum('freephone', 'shared_cost', 'premium', name='range_class', native_enum=False, length=32), nullable=False),
    sa.Column('origin', sa.Enum('fixed', 'mobile', 'withheld', 'abroad', name='caller_origin', native_enum=False, length=32), nullable=False),
    sa.Column('interconnection_per_minute', smartnumbers.db.Money(), nullable=False),
    sa.Column('owner_per_minute', smartnumbers.db.Money(), nullable=False),
    sa.Column('payout_share_percent', smartnumbers.db.Money(), nullable=False),
    sa.Column('updated_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_list_item')),
    sa.UniqueConstraint('range_class', 'origin', name=op.f('uq_price_list_item_range_class'))
    )
    op.create_table('statement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('issued_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payout', smartnumbers.db.Money(), nullable=False),
    sa.Column('owner_cost', smartnumbers.db.Money(), nullable=False),
    sa.Column('payfast_fee', smartnumbers.db.Money(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_statement_account_id_account'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement')),
    sa.UniqueConstraint('account_id', 'period', name=op.f('uq_statement_account_id'))
    )
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_account_id'), ['account_id'], unique=False)

    op.create_table('call_record',
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('dialled', sa.String(length=64), nullable=False),
    sa.Column('caller_e164', sa.String(length=16), nullable=True),
    sa.Column('caller_withheld', sa.Boolean(), nullable=False),
    sa.Column('caller_origin', sa.Enum('fixed', 'mobile', 'withheld', 'abroad', name='caller_origin', native_enum=False, length=32), nullable=False),
    sa.Column('started_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered', sa.Boolean(), nullable=False),
    sa.Column('ring_s', sa.Integer(), nullable=False),
    sa.Column('talk_s', sa.Integer(), nullable=False),
    sa.Column('cause', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.JSON(), nullable=False),
    sa.Column('segments', sa.JSON(), nullable=False),
    sa.Column('built_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_call_record_account_id_account'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_call_record_number_id_smart_number'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('call_id', name=op.f('pk_call_record'))
    )
    with op.batch_alter_table('call_record', schema=None) as batch_op:
        batch_op.create_index('ix_call_record_account_started', ['account_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_record_caller_e164'), ['caller_e164'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_record_number_id'), ['number_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_record_started_at'), ['started_at'], unique=False)

    op.create_table('rated_call',
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('tariff_version_ids', sa.String(length=200), nullable=False),
    sa.Column('tariff_codes', sa.String(length=200), nullable=False),
    sa.Column('caller_exact', smartnumbers.db.Money(), nullable=False),
    sa.Column('caller', smartnumbers.db.Money(), nullable=False),
    sa.Column('caller_excl_vat', smartnumbers.db.Money(), nullable=False),
    sa.Column('vat', smartnumbers.db.Money(), nullable=False),
    sa.Column('interconnection_exact', smartnumbers.db.Money(), nullable=False),
    sa.Column('interconnection', smartnumbers.db.Money(), nullable=False),
    sa.Column('net_revenue', smartnumbers.db.Money(), nullable=False),
    sa.Column('owner_cost_exact', smartnumbers.db.Money(), nullable=False),
    sa.Column('owner_cost', smartnumbers.db.Money(), nullable=False),
    sa.Column('payout_exact', smartnumbers.db.Money(), nullable=False),
    sa.Column('payout', smartnumbers.db.Money(), nullable=False),
    sa.Column('payfast_fee', smartnumbers.db.Money(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('rated_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_rated_call_account_id_account'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['call_id'], ['call_record.call_id'], name=op.f('fk_rated_call_call_id_call_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_rated_call_number_id_smart_number'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['statement_id'], ['statement.id'], name=op.f('fk_rated_call_statement_id_statement'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('call_id', name=op.f('pk_rated_call'))
    )
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.create_index('ix_rated_call_account_period', ['account_id', 'period'], unique=False)
        batch_op.create_index(batch_op.f('ix_rated_call_number_id'), ['number_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rated_call_statement_id'), ['statement_id'], unique=False)

    op.create_table('rating_adjustment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('caller', smartnumbers.db.Money(), nullable=False),
    sa.Column('payout', smartnumbers.db.Money(), nullable=False),
    sa.Column('owner_cost', smartnumbers.db.Money(), nullable=False),
    sa.Column('payfast_fee', smartnumbers.db.Money(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_rating_adjustment_account_id_account'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['call_id'], ['call_record.call_id'], name=op.f('fk_rating_adjustment_call_id_call_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['statement_id'], ['statement.id'], name=op.f('fk_rating_adjustment_statement_id_statement'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_adjustment'))
    )
    with op.batch_alter_table('rating_adjustment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_adjustment_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_adjustment_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_adjustment_statement_id'), ['statement_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rating_adjustment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_adjustment_statement_id'))
        batch_op.drop_index(batch_op.f('ix_rating_adjustment_call_id'))
        batch_op.drop_index(batch_op.f('ix_rating_adjustment_account_id'))

    op.drop_table('rating_adjustment')
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rated_call_statement_id'))
        batch_op.drop_index(batch_op.f('ix_rated_call_number_id'))
        batch_op.drop_index('ix_rated_call_account_period')

    op.drop_table('rated_call')
    with op.batch_alter_table('call_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_record_started_at'))
        batch_op.drop_index(batch_op.f('ix_call_record_number_id'))
        batch_op.drop_index(batch_op.f('ix_call_record_caller_e164'))
        batch_op.drop_index('ix_call_record_account_started')

    op.drop_table('call_record')
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statement_account_id'))

    op.drop_table('statement')
    op.drop_table('price_list_item')
    with op.batch_alter_table('captured_leg', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_captured_leg_started_at'))
        batch_op.drop_index(batch_op.f('ix_captured_leg_call_id'))

    op.drop_table('captured_leg')
