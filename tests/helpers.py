"""Test helpers: parse raw bytes the way replay does, with a fixed reference time."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

from hamon.model import ParseResult, RawBatch
from hamon.parse.batch import BatchParser
from hamon.resolve.inventory import Inventory
from hamon.resolve.pairs import PairResolver

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
    zones = inventory.zones() if inventory else None
    parser = BatchParser(PairResolver(inventory).resolve, tz=tz, year=year, pure_python=pure_python, zones=zones)
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


class ServiceThread:
    """A `hamon serve` Service on its own thread, with an inventory file."""

    def __init__(self, db: str, inventory: Path | None, **cfg: Any) -> None:
        from hamon.service.serve import ServeConfig, Service
        from hamon.store import Store

        config = ServeConfig(**{"syslog_udp": ["127.0.0.1:0"], "status_every": 0.3, **cfg})
        self.service = Service(config, Store(db), str(inventory) if inventory else None)
        self.service.start()
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.service.stopping.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def cli(db: str, *args: str) -> Any:
    """`hamon --db DB ARGS...`, which must succeed: its JSON with --json, else its text."""
    import json

    from click.testing import CliRunner

    from hamon.cli import main

    result = CliRunner().invoke(main, ["--db", db, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def require(tool: str, why: str) -> str:
    """The path of a system client a test needs; without it the test is skipped with the reason —
    except under CI (CI=true), where nothing real may be skipped silently: it fails."""
    import os
    import shutil

    import pytest

    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed: CI must run this test ({why})")
        pytest.skip(f"{tool} is not installed ({why})")
    return path


def mounted_tmpfs(where: Path, size: str) -> Any:
    """A tmpfs of `size` mounted at `where` (a disk that fills up for real), unmounted afterwards; a
    generator for fixtures. Mounting needs root (CAP_SYS_ADMIN): elsewhere the test is skipped with
    the reason, and under CI it fails."""
    import os
    import subprocess

    import pytest

    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode != 0:
        why = f"cannot mount a {size} tmpfs for a full disk ({done.stderr.strip() or 'not root'})"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
