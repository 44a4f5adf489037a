"""Test helpers: parse raw bytes the way replay does, with a fixed reference time."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from hamon.inventory import Inventory
from hamon.model import ParseResult, RawBatch
from hamon.parse.batch import BatchParser
from hamon.resolve import PairResolver

REFERENCE = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)


def parse_bytes(
    data: bytes,
    *,
    reference: dt.datetime = REFERENCE,
    tz: dt.tzinfo = dt.UTC,
    year: int | None = None,
    inventory: Inventory | None = None,
    pure_python: bool = False,
    source: str = "fixture",
) -> tuple[ParseResult, BatchParser]:
    parser = BatchParser(PairResolver(inventory).resolve, tz=tz, year=year, pure_python=pure_python)
    result = parser.parse(RawBatch(data, reference, source, "file", "files", "fixture.log"))
    return result, parser


def wait_for(check: Any, timeout: float = 10.0, every: float = 0.05) -> Any:
    """The first truthy value of `check()`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")
