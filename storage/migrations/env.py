"""Alembic environment: runs migrations on the connection paperwatch hands over.

`storage.db.upgrade()` passes a live connection in `config.attributes["connection"]`;
there is no alembic.ini and no URL here, so migrations always run through our own engine.
"""

from alembic import context

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `paperwatch db upgrade`")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
