"""Alembic's entry point for NotAlone: migrate the connection that `Database` hands over.

There is no alembic.ini and no URL here: `notalone.storage.engine.alembic_config` builds
the configuration in code and puts an open connection (inside a transaction, holding the
writer's turn) into `config.attributes["connection"]`, so migrations run from the installed
package with the same connection settings (SQLite pragmas, PostgreSQL pool) as the app.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from notalone.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(connection, Connection):
    # Offline SQL scripts would bypass the checks that run with the migrations' tests.
    raise RuntimeError("run migrations through notalone.storage.engine.Database.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # Every later migration on SQLite must rebuild tables to alter them; batch mode does.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
