"""dashboard rollups read from their indexes alone: the hours' sums included in the account's
index, the callers' months indexed in the top callers' order

An account's hours and callers were spread over the tables, one row a page: the dashboard read
thousands of pages a query. Now the account's hours carry their sums in the index (PostgreSQL
INCLUDE) and a month's callers are indexed by revenue, calls, caller and number, so a month's
top callers are the first entries and six months are summed without visiting a row.

Index-only scans skip a row only on a page the visibility map marks all-visible, and the
current hour's and month's rows are updated as calls are rated: on PostgreSQL autovacuum
visits these two tables after 1 % of their rows changed (instead of 20 %), so the hot pages
are marked again soon.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


HOT_ROLLUPS = ('traffic_hour', 'caller_month')


def upgrade() -> None:
    with op.batch_alter_table('traffic_hour', schema=None) as batch_op:
        batch_op.drop_index('ix_traffic_hour_account_hour')
        batch_op.create_index('ix_traffic_hour_account_hour', ['account_id', 'hour'], unique=False,
                              postgresql_include=['number_id', 'calls', 'answered', 'payout'])
    with op.batch_alter_table('caller_month', schema=None) as batch_op:
        batch_op.drop_index('ix_caller_month_account_period')
        batch_op.create_index('ix_caller_month_account_period_revenue',
                              ['account_id', 'period', sa.text('payout DESC'), sa.text('calls DESC'), 'caller_e164',
                               'number_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        for table in HOT_ROLLUPS:
            op.execute(f'ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.01, '
                       'autovacuum_vacuum_insert_scale_factor = 0.01)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in HOT_ROLLUPS:
            op.execute(f'ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, '
                       'autovacuum_vacuum_insert_scale_factor)')
    with op.batch_alter_table('caller_month', schema=None) as batch_op:
        batch_op.drop_index('ix_caller_month_account_period_revenue')
        batch_op.create_index('ix_caller_month_account_period', ['account_id', 'period', 'payout'], unique=False)
    with op.batch_alter_table('traffic_hour', schema=None) as batch_op:
        batch_op.drop_index('ix_traffic_hour_account_hour')
        batch_op.create_index('ix_traffic_hour_account_hour', ['account_id', 'hour'], unique=False)
