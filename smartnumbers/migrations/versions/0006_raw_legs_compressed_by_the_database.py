"""captured legs keep the switch's bytes as sent; PostgreSQL compresses them (lz4)

Capture compressed each raw event and CDR with zlib before storing it: about 100 µs a leg of
the capture's one core, the largest part of ingesting a call. The raw columns now hold the
bytes as the switch sent them and PostgreSQL compresses them as it stores them, with lz4
(several times zlib's speed, and off the capture's process). Rows written before are
decompressed here, so that every stored value reads the same way.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import zlib

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

RAW = ('raw_event', 'raw_cdr')
BATCH = 1000


def _rewrite(convert) -> None:
    """Apply ``convert`` to every stored raw value, a batch of legs at a time."""
    bind = op.get_bind()
    legs = sa.table('captured_leg', sa.column('leg_id', sa.String), *(sa.column(name, sa.LargeBinary) for name in RAW))
    after = ''
    while True:
        rows = bind.execute(
            sa.select(legs).where(legs.c.leg_id > after, sa.or_(*(legs.c[name].is_not(None) for name in RAW)))
            .order_by(legs.c.leg_id).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(
            legs.update().where(legs.c.leg_id == sa.bindparam('leg')).values(
                {name: sa.bindparam(f'new_{name}') for name in RAW}),
            [{'leg': row.leg_id, **{f'new_{name}': None if row._mapping[name] is None else convert(row._mapping[name])
                                    for name in RAW}} for row in rows])
        after = rows[-1].leg_id


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE captured_leg ALTER COLUMN raw_event SET COMPRESSION lz4, '
                   'ALTER COLUMN raw_cdr SET COMPRESSION lz4')
    _rewrite(zlib.decompress)


def downgrade() -> None:
    _rewrite(lambda raw: zlib.compress(raw, 1))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE captured_leg ALTER COLUMN raw_event SET COMPRESSION DEFAULT, '
                   'ALTER COLUMN raw_cdr SET COMPRESSION DEFAULT')
