"""The migrations build the whole model from empty and take it all away again, on both databases."""

import pytest
from sqlalchemy import inspect

from smartnumbers.db import Base, make_engine
from smartnumbers.migrate import downgrade, upgrade
from tests.conftest import BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_from_empty_downgrade_and_upgrade_again(databases, backend):
    engine = make_engine(databases.create(backend))
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_model(databases, backend):
    """Autogenerate finds nothing to add: the migration and the model are the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(databases.create(backend))
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
