"""mail: the outbox (every mail written with what caused it, sent by the delivery in serve),
users' subscriptions, their alerts and the language of their mails

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

import smartnumbers.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_mail',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('occasion', sa.String(length=120), nullable=True),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('message_id', sa.String(length=200), nullable=False),
        sa.Column('message', sa.LargeBinary(), nullable=False),
        sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'failed', name='mail_status',
                                    native_enum=False, length=32), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_mail')),
        sa.UniqueConstraint('message_id', name=op.f('uq_outbox_mail_message_id')),
        sa.UniqueConstraint('occasion', name=op.f('uq_outbox_mail_occasion')),
    )
    op.create_index('ix_outbox_mail_status_next_attempt_at', 'outbox_mail', ['status', 'next_attempt_at'])
    op.create_table(
        'mail_subscription',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('topic', sa.Enum('statement', 'daily_digest', 'weekly_digest', 'monthly_digest', 'blacklist_expired',
                                   'number_suspended', name='mail_topic',
                                   native_enum=False, length=32), nullable=False),
        sa.Column('attach_pdf', sa.Boolean(), nullable=False),
        sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_mail_subscription_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'topic', name=op.f('pk_mail_subscription')),
    )
    op.create_table(
        'alert_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('number_id', sa.Integer(), nullable=False),
        sa.Column('metric', sa.Enum('calls', 'revenue', 'failed_hunts', name='alert_metric', native_enum=False, length=32),
                  nullable=False),
        sa.Column('direction', sa.Enum('above', 'below', name='alert_direction', native_enum=False, length=32),
                  nullable=False),
        sa.Column('threshold', smartnumbers.db.Money(), nullable=False),
        sa.Column('window', sa.Enum('hour', 'day', name='alert_window', native_enum=False, length=32),
                  nullable=False),
        sa.Column('breached_since', smartnumbers.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'],
                                name=op.f('fk_alert_rule_number_id_smart_number'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_alert_rule_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rule')),
    )
    op.create_index(op.f('ix_alert_rule_number_id'), 'alert_rule', ['number_id'])
    op.create_index(op.f('ix_alert_rule_user_id'), 'alert_rule', ['user_id'])
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.Enum('de', 'fr', 'it', 'en', name='language',
                                                          native_enum=False, length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('language')
    op.drop_table('alert_rule')
    op.drop_table('mail_subscription')
    op.drop_index('ix_outbox_mail_status_next_attempt_at', table_name='outbox_mail')
    op.drop_table('outbox_mail')
