"""How the store keeps times: always UTC, always timezone-aware when read back."""

from __future__ import annotations

import datetime as dt

# How SQLAlchemy's SQLite dialect stores a DateTime; the embedded store's bulk path writes the same.
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def sqlite_text(t: dt.datetime, cache: dict[dt.datetime, str] | None = None) -> str:
    """An aware time as the embedded store keeps it (SQLITE_TIME_FORMAT, UTC) — isoformat, several
    times faster than strftime; `cache` keeps the texts of times that repeat (a batch's lines share
    their header's times)."""
    if cache is not None:
        text = cache.get(t)
        if text is not None:
            return text
    if t.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    text = t.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if cache is not None:
        cache[t] = text
    return text
