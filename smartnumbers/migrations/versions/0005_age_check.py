"""0906 age check: how each adult number checks its callers, and the PINs owners issue

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa

import smartnumbers.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('age_pin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('pin', sa.String(length=8), nullable=False),
    sa.Column('holder', sa.String(length=80), nullable=False),
    sa.Column('created_at', smartnumbers.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['number_id'], ['smart_number.id'], name=op.f('fk_age_pin_number_id_smart_number'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_age_pin')),
    sa.UniqueConstraint('number_id', 'pin', name=op.f('uq_age_pin_number_id'))
    )
    with op.batch_alter_table('age_pin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_age_pin_number_id'), ['number_id'], unique=False)

    with op.batch_alter_table('smart_number', schema=None) as batch_op:
        batch_op.add_column(sa.Column('age_check', sa.Enum('digit', 'pin', name='age_check', native_enum=False, length=32), nullable=True))
    # every adult (0906) number checks its callers' age; a confirming digit until the owner chooses PINs
    op.execute("UPDATE smart_number SET age_check = 'digit' WHERE e164 LIKE '+41906%'")



def downgrade() -> None:
    with op.batch_alter_table('smart_number', schema=None) as batch_op:
        batch_op.drop_column('age_check')

    with op.batch_alter_table('age_pin', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_age_pin_number_id'))

    op.drop_table('age_pin')
