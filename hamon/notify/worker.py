"""Notification off the ingest path: `hamon serve` hands alert ids to the targets' workers and goes on.

Each target has its own worker: a thread with its own queue running the pipeline (silence → dedup →
rate limit → send) for that target alone, every request with a timeout, so a target that hangs,
refuses or answers 500 delays only its own notifications — never another target's, never ingest.
What failed to go out is tried again with backoff (5 s doubling to 5 min) until it is delivered or a
day has passed. The backlog is the notification log: at start each target takes up the alerts of the
last day (since it became a target) it has no record of, so a restart resends what was due and a new
target gets no history. Firing alerts are re-posted to Alertmanager targets every `resend_every`
seconds (Alertmanager resolves an alert it does not hear of again within its `resolve_timeout`),
and a critical alert still open is told again every `repeat_every` (4 h) until it is acknowledged
(`hamon alerts ack`).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hamon.bus.counters import Counters, Throttle
from hamon.errors import StoreError
from hamon.notify.pipeline import AlertmanagerSender, Pipeline, Report, notices_for
from hamon.store import notify as notify_log
from hamon.store.db import Store
from hamon.store.outputs import alert_list

RETRY_FIRST, RETRY_MAX, GIVE_UP = 5.0, 300.0, 86400.0
log = logging.getLogger("hamon.notify")


@dataclass
class Pending:
    """An alert whose notification did not go out yet."""

    first: float
    due: float
    wait: float = RETRY_FIRST


@dataclass
class NotifyWorker:
    """One thread that sends; `submit` never blocks."""

    store: Store
    pipeline: Pipeline
    counters: Counters
    resend_every: float = 60.0
    repeat_every: float = 4 * 3600.0  # a critical alert still open is told again this often
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    pending: dict[str, Pending] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._queue: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        self._stop = threading.Event()
        name = self.pipeline.senders[0].target if len(self.pipeline.senders) == 1 else "all targets"
        self._thread = threading.Thread(target=self._run, name=f"hamon-notify {name}", daemon=True)
        self._resent = self.clock()
        self._said = Throttle(60.0, self.clock)  # a failure's reason once a minute

    def start(self) -> None:
        self._take_up_backlog()
        self._thread.start()

    def _take_up_backlog(self) -> None:
        """What a previous run left unsent (the notification log has no record of it) is due now —
        for targets that were sent to before (a new target does not get a day of history)."""
        now, wall = self.clock(), self.wall()
        try:
            for s in self.pipeline.senders:
                known = notify_log.known_since(self.store, s.target, wall)
                if known is None:
                    continue
                since = max(known, wall - dt.timedelta(seconds=GIVE_UP))
                for alert_id in notify_log.unsent(self.store, s.target, since):
                    self.pending.setdefault(alert_id, Pending(now, now))
        except StoreError:  # the store is away: nothing to take up now, new alerts go out as they come
            return
        if self.pending:
            log.info("notifications: %d alerts not yet delivered before the last stop, sending them", len(self.pending))

    def submit(self, alert_ids: Sequence[str]) -> None:
        """Hand over alerts opened or resolved (sent in the order they come)."""
        if alert_ids:
            self._queue.put(list(alert_ids))

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is handed over already (within `timeout`), then stop."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                ids = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                ids = []
            self.step(ids)

    def step(self, ids: list[str]) -> None:
        """One round: the handed-over ids, retries that are due, and the periodic Alertmanager re-post."""
        now = self.clock()
        due = [a for a, p in self.pending.items() if p.due <= now]
        try:
            if ids or due:
                self._send(sorted(set(ids) | set(due)), now)
            if now - self._resent >= self.resend_every:
                self._resent = now
                self._repost()
                self._repeat()
        except StoreError:
            for a in ids:  # the store is away: these are tried again with the retries
                self.pending.setdefault(a, Pending(now, now + RETRY_FIRST))

    def _send(self, ids: list[str], now: float) -> None:
        report: Report = self.pipeline.process(notices_for(self.store, ids, self.pipeline.wording))
        self.counters.add("notifications_sent", report.sent)
        self.counters.add("notifications_failed", report.failed)
        for error in dict.fromkeys(report.errors):  # the reason, once a minute per reason (targets masked)
            if self._said.due(error):
                log.warning("notification not delivered (retried with backoff): %s", error)
        for a in ids:
            if a in report.failed_ids:
                p = self.pending.get(a) or Pending(now, now)
                p.due, p.wait = now + p.wait, min(p.wait * 2, RETRY_MAX)
                if now - p.first > GIVE_UP:
                    self.pending.pop(a, None)
                    self.counters.add("notifications_given_up")
                else:
                    self.pending[a] = p
            else:
                self.pending.pop(a, None)

    def _repeat(self) -> None:
        """Critical alerts open for every `repeat_every`: told again, once per period (the log keeps count)."""
        now = self.wall()
        open_alerts = alert_list(self.store, open_only=True)
        repeats = []
        # An acknowledged alert is not told again: someone is on it.
        due = [a["alert_id"] for a in open_alerts if a["severity"] == "critical" and a["ack"] is None]
        for n in notices_for(self.store, due, self.pipeline.wording):
            periods = int((now - n.started_at).total_seconds() // self.repeat_every)
            if periods >= 1:
                repeats.append(replace(n, state=f"repeat {periods}"))
        if repeats:
            report = self.pipeline.process(repeats)
            self.counters.add("notifications_repeated", report.sent)

    def _repost(self) -> None:
        managers = [s for s in self.pipeline.senders if isinstance(s, AlertmanagerSender)]
        if not managers:
            return
        open_ids = [a["alert_id"] for a in alert_list(self.store, open_only=True)]
        firing = notices_for(self.store, open_ids, self.pipeline.wording)
        if firing:
            for m in managers:
                m.send(firing)


class NotifyWorkers:
    """A NotifyWorker for each target, fed the same alerts: one slow or dead target never delays another."""

    def __init__(
        self,
        store: Store,
        pipelines: Sequence[Pipeline],
        counters: Counters,
        *,
        repeat_every: float = 4 * 3600.0,
    ) -> None:
        self.workers = [NotifyWorker(store, p, counters, repeat_every=repeat_every) for p in pipelines]

    def start(self) -> None:
        for w in self.workers:
            w.start()

    def submit(self, alert_ids: Sequence[str]) -> None:
        for w in self.workers:
            w.submit(alert_ids)

    def set_wording(self, wording: Any) -> None:
        for w in self.workers:
            w.pipeline.wording = wording

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is handed over (within `timeout` in all), then stop; a hung target is left behind."""
        deadline = time.monotonic() + timeout
        for w in self.workers:
            w._stop.set()
        for w in self.workers:
            w._thread.join(max(0.0, deadline - time.monotonic()))
