"""The SQL store: SQLite (embedded default) or PostgreSQL (production)."""

from hamon.store.db import Store, default_url

__all__ = ["Store", "default_url"]
