"""statements as documents: the account's address, UID and language; the issued PDF and its
number from a gapless sequence

A statement is filed by the owner as a credit note or invoice: it names both parties with
their addresses and VAT numbers, is written in the owner's language, and carries a document
number that is unique and consecutive. Issued documents are stored as issued and served
unchanged afterwards.

Only columns and indexes are added: SQLite does it in place, without copying a table that
other tables refer to.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('vat_number', sa.String(length=15), nullable=True))
        batch_op.add_column(sa.Column('language', sa.Enum('de', 'fr', 'it', 'en', name='language', native_enum=False, length=32), nullable=False, server_default='de'))
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pdf', sa.LargeBinary(), nullable=True))
        batch_op.create_index(batch_op.f('ix_statement_number'), ['number'], unique=True)

    op.create_table('document_sequence',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_document_sequence'))
    )


def downgrade() -> None:
    op.drop_table('document_sequence')
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statement_number'))
        batch_op.drop_column('pdf')
        batch_op.drop_column('number')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_column('language')
        batch_op.drop_column('vat_number')
        batch_op.drop_column('address')
