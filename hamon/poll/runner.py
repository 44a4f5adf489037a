"""What every poller shares: its own thread and event loop, rounds every `interval` seconds, a prompt stop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from typing import Any

from hamon.bus.counters import Counters
from hamon.model import iso


class PollerThread:
    """Runs `poll_round()` every `interval` seconds on a thread of its own until `stop()`.

    Subclasses set `targets` (each with a `summary` dict) and implement `poll_round`; `setup` and
    `teardown` run on the poller's loop before the first and after the last round.
    """

    name = "hamon-poll"
    transport = "poll"
    default_port = 0  # a target on its protocol's port is named by its host alone
    targets: list[Any]
    counters: Counters

    def __init__(self, interval: float, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.rounds = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._round: asyncio.Task[None] | None = None

    def start(self) -> None:
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            ready.set()
            self._loop.run_until_complete(self._run())
            self._loop.close()

        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop(self) -> None:
        """Stop now: a round in flight is cancelled (its polls count as not done), not waited for."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._halt)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _halt(self) -> None:
        assert self._stop is not None
        self._stop.set()
        if self._round is not None:
            self._round.cancel()

    def begin(self, t: Any, at: dt.datetime) -> dict[str, Any]:
        """The summary a poll of target `t` starts with (its pair, its address, when)."""
        host = t.host if t.port == self.default_port else f"{t.host}:{t.port}"
        return {"pair": t.pair, "host": host, "polled_at": iso(at)}

    def failed(self, t: Any, summary: dict[str, Any], reason: str) -> None:
        """A poll that did not complete: counted per unit with its reason, and shown as its last poll."""
        self.counters.reject(self.transport, summary["host"], reason)
        t.summary = {**summary, "ok": False, "error": reason}

    def status(self) -> list[dict[str, Any]]:
        """Each target's last complete poll."""
        return [dict(t.summary) for t in self.targets if t.summary]

    async def setup(self) -> None:
        return None

    async def teardown(self) -> None:
        return None

    async def poll_round(self) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        assert self._stop is not None
        await self.setup()
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self._round = asyncio.ensure_future(self.poll_round())
                with contextlib.suppress(asyncio.CancelledError):
                    await self._round
                self.rounds += 1
                wait = max(0.0, self.interval - (time.monotonic() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
        finally:
            await self.teardown()


def unit_addresses(inventory: Any, key: str, default_port: int) -> list[tuple[str, str, int]]:
    """(pair, host, port) of every unit under each pair's `key` (`poll` or `snmp_poll`) in the inventory."""
    from hamon.resolve.inventory import unit_address

    out = []
    for pair in inventory.pairs if inventory else ():
        for spec in getattr(pair, key):
            host, port = unit_address(spec)  # checked when the inventory was read
            out.append((pair.name, host, port or default_port))
    return out
