"""Alembic environment: runs on the connection hamon hands it (see hamon.store.db)."""

from __future__ import annotations

from alembic import context

from hamon.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - hamon always passes its connection
    raise RuntimeError("hamon migrations run through 'hamon db upgrade'")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
