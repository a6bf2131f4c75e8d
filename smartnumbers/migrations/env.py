"""Alembic environment: the URL comes from the caller (``smartnumbers db upgrade``), not a file."""

from alembic import context

from smartnumbers import models  # noqa: F401  (registers every table)
from smartnumbers.db import Base, make_engine

config = context.config
engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
