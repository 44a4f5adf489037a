"""Alembic migrations of the hamon schema."""
