"""each statement keeps how the PayFast fee stood to VAT when it was issued

The operator chooses the treatment (``SMARTNUMBERS_PAYFAST_FEE_VAT``): a reduction of the
owner's share (VAT on the share less the fee) or a VAT-exempt financing fee (VAT on the whole
share, the fee deducted after). Statements issued before were computed the second way.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'payfast_fee_vat',
            sa.Enum('reduces_share', 'exempt_financing', name='payfast_fee_vat', native_enum=False, length=32),
            nullable=False, server_default='exempt_financing'))
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.alter_column('payfast_fee_vat', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_column('payfast_fee_vat')
