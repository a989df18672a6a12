"""Alembic environment: migrates the database named by sqlalchemy.url (set by models.db.alembic_config)."""

from alembic import context
from sqlalchemy import pool

from models.db import make_engine
from models.schema import metadata

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set: migrate through models.db (flask --app app:server db upgrade)")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # render_as_batch lets later migrations alter columns on SQLite too.
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
