"""API tokens act with a role; users' roles are the API's five; idempotent creating requests;
closed accounts

A token issued before roles existed could do everything in its account: it becomes an account
admin. Users' roles are renamed: owner -> admin, finance -> billing, viewer -> read_only. A
creating request sent with an Idempotency-Key keeps its answer, so the same key twice creates
one thing. A closed (sub-)account keeps its history; its tokens no longer work.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

from smartnumbers.db import UTCDateTime


revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None

_ROLES = ('operator', 'admin', 'routing', 'billing', 'read_only')
_RENAMED = {'owner': 'admin', 'finance': 'billing', 'viewer': 'read_only'}


def upgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.Enum(*_ROLES, name='role', native_enum=False, length=32),
                                      nullable=False, server_default='admin'))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('role', server_default=None)
    user = sa.table('user_account', sa.column('role', sa.String))
    for old, new in _RENAMED.items():
        op.execute(user.update().where(user.c.role == old).values(role=new))
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'idempotent_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('account_id', 'key'),
    )


def downgrade() -> None:
    op.drop_table('idempotent_request')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
    user = sa.table('user_account', sa.column('role', sa.String))
    for old, new in _RENAMED.items():
        op.execute(user.update().where(user.c.role == new).values(role=old))
    op.execute(user.update().where(user.c.role == 'operator').values(role='admin'))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('role')
