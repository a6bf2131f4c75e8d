"""rated calls keep whether they were answered and their talk time (statements need no join)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('talk_s', sa.Integer(), nullable=False, server_default='0'))
    op.execute(
        "UPDATE rated_call SET "
        "answered = (SELECT call_record.answered FROM call_record WHERE call_record.call_id = rated_call.call_id), "
        "talk_s = (SELECT call_record.talk_s FROM call_record WHERE call_record.call_id = rated_call.call_id)"
    )
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.alter_column('answered', server_default=None)
        batch_op.alter_column('talk_s', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('rated_call', schema=None) as batch_op:
        batch_op.drop_column('talk_s')
        batch_op.drop_column('answered')
