"""Times given on the command line: ISO-8601, dates, or relative (`15m`, `2h`, `7d` ago)."""

from __future__ import annotations

import datetime as dt
import re

from hamon.errors import ConfigError

UTC = dt.UTC
RELATIVE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*(?:ago)?\s*$", re.IGNORECASE)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """A point in time in UTC. Times without a zone are UTC."""
    now = now or dt.datetime.now(UTC)
    v = value.strip()
    low = v.lower()
    if low == "now":
        return now
    if low in ("today", "yesterday"):
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - dt.timedelta(days=1 if low == "yesterday" else 0)
    m = RELATIVE_RE.match(v)
    if m:
        return now - dt.timedelta(seconds=float(m.group(1)) * UNITS[m.group(2).lower()])
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith(("Z", "z")) else v)
    except ValueError:
        raise ConfigError(
            f"cannot read time {value!r}: use ISO-8601 (2026-11-25T10:00:00Z, 2026-11-25) or an age (15m, 2h, 7d)"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_duration(value: str) -> dt.timedelta:
    """A duration given on the command line: 30m, 2h, 1d, 1w (or plain seconds, 45s)."""
    m = RELATIVE_RE.match(value)
    if not m:
        raise ConfigError(f"cannot read duration {value!r}: use 30m, 2h, 1d or 1w")
    return dt.timedelta(seconds=float(m.group(1)) * UNITS[m.group(2).lower()])


FUTURE_RE = re.compile(r"^\s*(?:\+|in\s+)(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)


def parse_when(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """A time that may lie ahead (a maintenance window): `+2h` or `in 2h`, `now`, or ISO-8601."""
    now = now or dt.datetime.now(UTC)
    m = FUTURE_RE.match(value)
    if m:
        return now + dt.timedelta(seconds=float(m.group(1)) * UNITS[m.group(2).lower()])
    if RELATIVE_RE.match(value):
        raise ConfigError(f"{value!r} is in the past here: give +{value.strip()} (from now) or an ISO-8601 time")
    return parse_time(value, now)


def who() -> str:
    """The operator: $HAMON_USER, else the login name, at this host."""
    import getpass
    import os
    import socket

    user = os.environ.get("HAMON_USER")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
    return f"{user}@{socket.gethostname()}" if "@" not in user else user
