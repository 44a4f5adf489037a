"""One message per alert opening and per resolution, through stages in reading order:
silence → dedup → rate limit → send (with retry of recoverable failures).

Silence and dedup are decisions over the store (silences, the notification log); the clock is
injected, never read inside the stages.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select

from hamon.errors import ConfigError
from hamon.model import iso
from hamon.store.db import Store
from hamon.store.schema import alerts, notifications, silences

UTC = dt.UTC
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Notice:
    """An alert opened (firing) or resolved."""

    alert_id: str
    state: str  # firing | resolved
    pair: str
    kind: str
    severity: str
    group: int | None
    unit: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    detail: str

    @property
    def title(self) -> str:
        where = "".join(f" {x}" for x in (self.unit, f"group {self.group}" if self.group else None) if x)
        word = "RESOLVED" if self.state == "resolved" else self.severity.upper()
        return f"[{word}] {self.pair}: {self.kind.replace('_', ' ')}{where}"

    @property
    def body(self) -> str:
        lines = [self.detail, f"pair: {self.pair}", f"kind: {self.kind}", f"severity: {self.severity}"]
        if self.unit:
            lines.append(f"unit: {self.unit}")
        if self.group:
            lines.append(f"failover group: {self.group}")
        lines.append(f"started: {iso(self.started_at)}")
        if self.ended_at is not None:
            lines.append(f"ended: {iso(self.ended_at)} ({(self.ended_at - self.started_at).total_seconds():.0f}s)")
        return "\n".join(lines)


class Sender(Protocol):
    """A notification target. `send` says whether a failure is worth retrying."""

    target: str

    def send(self, notices: Sequence[Notice]) -> tuple[bool, bool, str]:
        """(ok, recoverable, error)"""
        ...


class AppriseSender:
    """Any apprise URL: Slack, Teams, email, json:// webhooks …"""

    def __init__(self, url: str) -> None:
        import apprise

        self.target = url.split("?", 1)[0]
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ConfigError(f"not a notification URL apprise understands: {self.target}")
        self._types = {
            "critical": apprise.NotifyType.FAILURE,
            "warning": apprise.NotifyType.WARNING,
            "info": apprise.NotifyType.INFO,
            "resolved": apprise.NotifyType.SUCCESS,
        }

    def send(self, notices: Sequence[Notice]) -> tuple[bool, bool, str]:
        for n in notices:
            kind = (
                self._types["resolved"] if n.state == "resolved" else self._types.get(n.severity, self._types["info"])
            )
            if not self._apprise.notify(title=n.title, body=n.body, notify_type=kind):
                return False, True, f"{self.target} did not take the message"
        return True, False, ""


class AlertmanagerSender:
    """Alertmanager's API (POST /api/v2/alerts), for teams that route alerts through Alertmanager.

    `alertmanager://host:port[/prefix]` (http) or `alertmanagers://…` (https).
    """

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        scheme, rest = url.split("://", 1)
        base = ("https://" if scheme == "alertmanagers" else "http://") + rest.rstrip("/")
        self.target = url
        self.endpoint = base + "/api/v2/alerts"
        self.timeout = timeout

    @staticmethod
    def payload(notices: Sequence[Notice]) -> list[dict[str, Any]]:
        """The alerts as Alertmanager's API takes them; a resolved alert carries its end time."""
        out = []
        for n in notices:
            labels = {
                "alertname": f"hamon_{n.kind}",
                "pair": n.pair,
                "kind": n.kind,
                "severity": n.severity,
                "source": "hamon",
            }
            if n.unit:
                labels["unit"] = n.unit
            if n.group:
                labels["failover_group"] = str(n.group)
            item: dict[str, Any] = {
                "labels": labels,
                "annotations": {"summary": n.title, "description": n.detail, "alert_id": n.alert_id},
                "startsAt": iso(n.started_at),
            }
            if n.state == "resolved" and n.ended_at is not None:
                item["endsAt"] = iso(n.ended_at)
            out.append(item)
        return out

    def send(self, notices: Sequence[Notice]) -> tuple[bool, bool, str]:
        body = json.dumps(self.payload(notices)).encode()
        req = urllib.request.Request(self.endpoint, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return 200 <= resp.status < 300, resp.status >= 500, f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            return False, exc.code >= 500 or exc.code == 429, f"{self.endpoint}: HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return False, True, f"{self.endpoint}: {getattr(exc, 'reason', exc)}"


def sender(url: str) -> Sender:
    """The sender for a notification URL."""
    if url.startswith(("alertmanager://", "alertmanagers://")):
        return AlertmanagerSender(url)
    return AppriseSender(url)


@dataclass
class Report:
    """What the pipeline did with the notices."""

    sent: int = 0
    silenced: int = 0
    duplicates: int = 0
    rate_limited: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "silenced": self.silenced,
            "duplicates": self.duplicates,
            "rate_limited": self.rate_limited,
            "failed": self.failed,
            "errors": self.errors,
        }


@dataclass
class RateLimit:
    """At most `burst` messages per (pair, kind) within `window` seconds of the clock."""

    burst: int = 5
    window: float = 600.0
    history: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def allow(self, n: Notice, now: float) -> bool:
        key = (n.pair, n.kind)
        recent = [t for t in self.history.get(key, []) if t > now - self.window]
        if len(recent) >= self.burst:
            self.history[key] = recent
            return False
        self.history[key] = [*recent, now]
        return True


class Pipeline:
    """Silence → dedup → rate limit → send, for every target."""

    def __init__(
        self,
        store: Store,
        senders: Sequence[Sender],
        *,
        clock: Clock = lambda: dt.datetime.now(UTC),
        rate: RateLimit | None = None,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self.store = store
        self.senders = list(senders)
        self.clock = clock
        self.rate = rate or RateLimit()
        self.retries = retries
        self.backoff = backoff

    def process(self, notices: Sequence[Notice]) -> Report:
        report = Report()
        if not self.senders or not notices:
            return report
        now = self.clock()
        active = self._silences(now)
        down: set[str] = set()  # a target that failed is not tried again in this batch
        for n in notices:
            if any((p is None or p == n.pair) and (k is None or k == n.kind) for p, k in active):
                report.silenced += 1
                continue
            due = [s for s in self.senders if not self._sent(n, s.target)]
            if not due:
                report.duplicates += 1
                continue
            if not self.rate.allow(n, now.timestamp()):
                report.rate_limited += 1
                continue
            for s in due:
                if s.target in down:
                    report.failed += 1
                    continue
                ok, error = self._send(s, n)
                if ok:
                    report.sent += 1
                    self._log(n, s.target, now)
                else:
                    report.failed += 1
                    report.errors.append(error)
                    down.add(s.target)
        return report

    def _send(self, s: Sender, n: Notice) -> tuple[bool, str]:
        error = ""
        for attempt in range(self.retries + 1):
            ok, recoverable, error = s.send([n])
            if ok:
                return True, ""
            if not recoverable:
                break
            if attempt < self.retries:
                time.sleep(self.backoff * (2**attempt))
        return False, error

    def _silences(self, now: dt.datetime) -> list[tuple[str | None, str | None]]:
        with self.store._begin("reading silences") as conn:
            rows = conn.execute(select(silences.c.pair, silences.c.kind).where(silences.c.expires_at > now))
            return [(r.pair, r.kind) for r in rows]

    def _sent(self, n: Notice, target: str) -> bool:
        q = select(notifications.c.alert_id).where(
            notifications.c.alert_id == n.alert_id, notifications.c.state == n.state, notifications.c.target == target
        )
        with self.store._begin("reading the notification log") as conn:
            return conn.execute(q).first() is not None

    def _log(self, n: Notice, target: str, now: dt.datetime) -> None:
        ins = self.store._insert(notifications).on_conflict_do_nothing(index_elements=["alert_id", "state", "target"])
        with self.store._begin("writing the notification log") as conn:
            conn.execute(ins, [{"alert_id": n.alert_id, "state": n.state, "target": target, "sent_at": now}])


def notices_for(store: Store, alert_ids: Sequence[str]) -> list[Notice]:
    """Notices for alerts by id: an opening for each, and a resolution for those that ended."""
    if not alert_ids:
        return []
    out: list[Notice] = []
    with store._begin("reading alerts") as conn:
        rows = list(conn.execute(select(alerts).where(alerts.c.alert_id.in_(sorted(set(alert_ids))))))
    for r in sorted(rows, key=lambda r: (r.started_at, r.alert_id)):
        base = dict(
            alert_id=r.alert_id,
            pair=r.pair,
            kind=r.kind,
            severity=r.severity,
            group=r.grp,
            unit=r.unit,
            started_at=r.started_at,
            detail=r.detail,
        )
        out.append(Notice(state="firing", ended_at=None, **base))
        if r.ended_at is not None:
            out.append(Notice(state="resolved", ended_at=r.ended_at, **base))
    return out
