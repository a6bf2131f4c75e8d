"""mail: the outbox (every mail written with what caused it, sent by the delivery in serve),
users' subscriptions and the language of their mails

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

import smartnumbers.db


revision = '0015'
down_revision = '0012'
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
        sa.Column('topic', sa.Enum('statement', 'daily_digest', 'weekly_digest', 'monthly_digest', name='mail_topic',
                                   native_enum=False, length=32), nullable=False),
        sa.Column('attach_pdf', sa.Boolean(), nullable=False),
        sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_mail_subscription_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'topic', name=op.f('pk_mail_subscription')),
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.Enum('de', 'fr', 'it', 'en', name='language',
                                                          native_enum=False, length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('language')
    op.drop_table('mail_subscription')
    op.drop_index('ix_outbox_mail_status_next_attempt_at', table_name='outbox_mail')
    op.drop_table('outbox_mail')
