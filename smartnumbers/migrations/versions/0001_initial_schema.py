"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa

import smartnumbers.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('allow_international', sa.Boolean(), nullable=False),
    sa.Column('vat_registered', sa.Boolean(), nullable=False),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['account.id'], name=op.f('fk_account_parent_id_account'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('name', name=op.f('uq_account_name'))
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_parent_id'), ['parent_id'], unique=False)

    op.create_table('switch_node_status',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('state_since', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=True),
    sa.Column('last_event_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_switch_node_status'))
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_api_token_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('secret_sha256', name=op.f('uq_api_token_secret_sha256'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_account_id'), ['account_id'], unique=False)

    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_kind', sa.Enum('user', 'token', 'cli', 'system', name='actor_kind', native_enum=False, length=32), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_audit_entry_account_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_at'), ['at'], unique=False)

    op.create_table('smart_number',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('e164', sa.String(length=16), nullable=False),
    sa.Column('range_class', sa.Enum('freephone', 'shared_cost', 'premium', name='range_class', native_enum=False, length=32), nullable=False),
    sa.Column('premium_category', sa.Enum('business', 'entertainment', 'adult', name='premium_category', native_enum=False, length=32), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'suspended', 'porting_in', name='number_status', native_enum=False, length=32), nullable=False),
    sa.Column('donor_operator', sa.String(length=80), nullable=True),
    sa.Column('port_date', sa.Date(), nullable=True),
    sa.Column('caller_id_policy', sa.Enum('caller', 'smart_number', 'fixed', 'withheld', name='caller_id_policy', native_enum=False, length=32), nullable=False),
    sa.Column('caller_id_number', sa.String(length=16), nullable=True),
    sa.Column('language', sa.Enum('de', 'fr', 'it', 'en', name='language', native_enum=False, length=32), nullable=False),
    sa.Column('max_concurrent_calls', sa.Integer(), nullable=False),
    sa.Column('call_cost_cap', smartnumbers.db.Money(), nullable=True),
    sa.Column('payout_option', sa.Enum('standard', 'payfast', name='payout_option', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("caller_id_policy <> 'fixed' OR caller_id_number IS NOT NULL", name=op.f('ck_smart_number_caller_id_number')),
    sa.CheckConstraint("status <> 'porting_in' OR port_date IS NOT NULL", name=op.f('ck_smart_number_port_date')),
    sa.CheckConstraint('max_concurrent_calls BETWEEN 1 AND 10000', name=op.f('ck_smart_number_max_concurrent_calls')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_smart_number_account_id_account'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_smart_number')),
    sa.UniqueConstraint('e164', name=op.f('uq_smart_number_e164'))
    )
    with op.batch_alter_table('smart_number', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_smart_number_account_id'), ['account_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('owner', 'admin', 'routing', 'finance', 'viewer', name='role', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_user_account_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_account_account_id'), ['account_id'], unique=False)

    op.create_table('blacklist_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=True),
    sa.Column('pattern', sa.String(length=16), nullable=False),
    sa.Column('is_prefix', sa.Boolean(), nullable=False),
    sa.Column('until', smartnumbers.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_blacklist_entry_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_blacklist_entry_number_id_smart_number'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blacklist_entry'))
    )
    with op.batch_alter_table('blacklist_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blacklist_entry_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_blacklist_entry_number_id'), ['number_id'], unique=False)

    op.create_table('number_grant',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_number_grant_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_number_grant_number_id_smart_number'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'number_id', name=op.f('pk_number_grant'))
    )
    op.create_table('routing_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('outside_action', sa.Enum('fallback', 'announcement', 'reject', name='outside_action', native_enum=False, length=32), nullable=False),
    sa.Column('outside_announcement', sa.String(length=500), nullable=True),
    sa.Column('holiday_canton', sa.String(length=2), nullable=True),
    sa.Column('holiday_rule', sa.Enum('closed', 'as_sunday', name='holiday_rule', native_enum=False, length=32), nullable=False),
    sa.Column('updated_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_routing_plan_number_id_smart_number'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_plan')),
    sa.UniqueConstraint('number_id', name=op.f('uq_routing_plan_number_id'))
    )
    op.create_table('scheduled_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('destinations', 'plan', name='change_kind', native_enum=False, length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('apply_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('pending', 'applied', 'cancelled', 'failed', name='change_status', native_enum=False, length=32), nullable=False),
    sa.Column('applied_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_scheduled_change_number_id_smart_number'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_change'))
    )
    with op.batch_alter_table('scheduled_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduled_change_apply_at'), ['apply_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduled_change_number_id'), ['number_id'], unique=False)

    op.create_table('tariff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Integer(), nullable=False),
    sa.CheckConstraint('code BETWEEN 1 AND 90', name=op.f('ck_tariff_code')),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_tariff_number_id_smart_number'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariff')),
    sa.UniqueConstraint('number_id', 'code', name=op.f('uq_tariff_number_id'))
    )
    with op.batch_alter_table('tariff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tariff_number_id'), ['number_id'], unique=False)

    op.create_table('holiday_date',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['routing_plan.id'], name=op.f('fk_holiday_date_plan_id_routing_plan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday_date')),
    sa.UniqueConstraint('plan_id', 'day', name=op.f('uq_holiday_date_plan_id'))
    )
    with op.batch_alter_table('holiday_date', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holiday_date_plan_id'), ['plan_id'], unique=False)

    op.create_table('tariff_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tariff_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('valid_from', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('price_per_minute', smartnumbers.db.Money(), nullable=False),
    sa.Column('price_per_call', smartnumbers.db.Money(), nullable=False),
    sa.Column('first_unit_s', sa.Integer(), nullable=False),
    sa.Column('next_unit_s', sa.Integer(), nullable=False),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.CheckConstraint('first_unit_s BETWEEN 1 AND 3600', name=op.f('ck_tariff_version_first_unit')),
    sa.CheckConstraint('next_unit_s BETWEEN 1 AND 3600', name=op.f('ck_tariff_version_next_unit')),
    sa.ForeignKeyConstraint(['tariff_id'], ['tariff.id'], name=op.f('fk_tariff_version_tariff_id_tariff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariff_version')),
    sa.UniqueConstraint('tariff_id', 'version', name=op.f('uq_tariff_version_tariff_id'))
    )
    with op.batch_alter_table('tariff_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tariff_version_tariff_id'), ['tariff_id'], unique=False)

    op.create_table('time_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('weekdays', sa.String(length=13), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.CheckConstraint('end_minute BETWEEN 1 AND 1440', name=op.f('ck_time_slot_end_minute')),
    sa.CheckConstraint('start_minute BETWEEN 0 AND 1439', name=op.f('ck_time_slot_start_minute')),
    sa.ForeignKeyConstraint(['plan_id'], ['routing_plan.id'], name=op.f('fk_time_slot_plan_id_routing_plan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_slot'))
    )
    with op.batch_alter_table('time_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_time_slot_plan_id'), ['plan_id'], unique=False)

    op.create_table('destination',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('pstn', 'sip', name='destination_kind', native_enum=False, length=32), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=False),
    sa.Column('ring_timeout_s', sa.Integer(), nullable=False),
    sa.CheckConstraint('position BETWEEN 1 AND 3', name=op.f('ck_destination_position')),
    sa.CheckConstraint('ring_timeout_s BETWEEN 5 AND 300', name=op.f('ck_destination_ring_timeout')),
    sa.ForeignKeyConstraint(['plan_id'], ['routing_plan.id'], name=op.f('fk_destination_plan_id_routing_plan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['slot_id'], ['time_slot.id'], name=op.f('fk_destination_slot_id_time_slot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_destination'))
    )
    with op.batch_alter_table('destination', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_destination_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_destination_slot_id'), ['slot_id'], unique=False)

    op.create_table('tariff_fee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('amount', smartnumbers.db.Money(), nullable=False),
    sa.Column('at_s', sa.Integer(), nullable=True),
    sa.Column('every_s', sa.Integer(), nullable=True),
    sa.CheckConstraint('(at_s IS NULL) <> (every_s IS NULL)', name=op.f('ck_tariff_fee_at_or_every')),
    sa.CheckConstraint('at_s IS NULL OR at_s >= 0', name=op.f('ck_tariff_fee_at_s')),
    sa.CheckConstraint('every_s IS NULL OR every_s >= 60', name=op.f('ck_tariff_fee_every_s')),
    sa.ForeignKeyConstraint(['version_id'], ['tariff_version.id'], name=op.f('fk_tariff_fee_version_id_tariff_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariff_fee'))
    )
    with op.batch_alter_table('tariff_fee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tariff_fee_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tariff_fee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tariff_fee_version_id'))

    op.drop_table('tariff_fee')
    with op.batch_alter_table('destination', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_destination_slot_id'))
        batch_op.drop_index(batch_op.f('ix_destination_plan_id'))

    op.drop_table('destination')
    with op.batch_alter_table('time_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_time_slot_plan_id'))

    op.drop_table('time_slot')
    with op.batch_alter_table('tariff_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tariff_version_tariff_id'))

    op.drop_table('tariff_version')
    with op.batch_alter_table('holiday_date', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holiday_date_plan_id'))

    op.drop_table('holiday_date')
    with op.batch_alter_table('tariff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tariff_number_id'))

    op.drop_table('tariff')
    with op.batch_alter_table('scheduled_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduled_change_number_id'))
        batch_op.drop_index(batch_op.f('ix_scheduled_change_apply_at'))

    op.drop_table('scheduled_change')
    op.drop_table('routing_plan')
    op.drop_table('number_grant')
    with op.batch_alter_table('blacklist_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blacklist_entry_number_id'))
        batch_op.drop_index(batch_op.f('ix_blacklist_entry_account_id'))

    op.drop_table('blacklist_entry')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_account_id'))

    op.drop_table('user_account')
    with op.batch_alter_table('smart_number', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_smart_number_account_id'))

    op.drop_table('smart_number')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_at'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_account_id'))

    op.drop_table('audit_entry')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_account_id'))

    op.drop_table('api_token')
    op.drop_table('switch_node_status')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_parent_id'))

    op.drop_table('account')
