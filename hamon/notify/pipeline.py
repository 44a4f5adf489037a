"""One message per alert opening and per resolution, through stages in reading order:
silence → dedup → rate limit → send (with retry of recoverable failures).

Each stage takes the deliveries still due and returns those that go on (Alertmanager's
`Stage.Exec` shape), counting what it stopped in the report; each can be run and tested alone.
Silence and dedup are decisions over the store (silences, the notification log); the clock is
injected — read once per run by the pipeline — and the retry's sleep is injected too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from hamon.errors import ConfigError
from hamon.model import iso
from hamon.notify.wording import Wording
from hamon.store import notify as log
from hamon.store.db import Store
from hamon.store.outputs import alert_records

UTC = dt.UTC
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Notice:
    """An alert opened (firing) or resolved."""

    alert_id: str
    state: str  # firing | resolved | "repeat N" (a critical alert still open, told again)
    pair: str
    kind: str
    severity: str
    group: int | None
    unit: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    detail: str
    headline: str = ""  # one sentence: what happened and what it means now (hamon.notify.wording)
    context: tuple[str, ...] = ()  # now / started / dashboard / runbook / units / alert id lines

    @property
    def title(self) -> str:
        where = "".join(f" {x}" for x in (self.unit, f"group {self.group}" if self.group else None) if x)
        word = "RESOLVED" if self.state == "resolved" else self.severity.upper()
        still = " (still open)" if self.state.startswith("repeat") else ""
        return f"[{word}] {self.pair}: {self.kind.replace('_', ' ')}{where}{still}"

    @property
    def notify_type(self) -> str:
        """apprise's word for it (its NotifyType values): success once resolved, else by severity."""
        if self.state == "resolved":
            return "success"
        return {"critical": "failure", "warning": "warning"}.get(self.severity, "info")

    @property
    def body(self) -> str:
        lines = [self.headline, *self.context, ""] if self.headline else []
        lines += [self.detail, f"pair: {self.pair}", f"kind: {self.kind}", f"severity: {self.severity}"]
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

        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ConfigError(f"not a notification URL apprise understands: {masked(url)}")
        # Tokens and passwords never leave the sender: shown and logged in apprise's private form.
        self.target = target_id(self._apprise[0].url(privacy=True).split("?", 1)[0], url)  # type: ignore[no-untyped-call]
        self._secrets = _secrets_of(url)
        self._type = apprise.NotifyType

    def send(self, notices: Sequence[Notice]) -> tuple[bool, bool, str]:
        for n in notices:
            with _apprise_says() as said:
                ok = self._apprise.notify(title=n.title, body=n.body, notify_type=self._type(n.notify_type))
            if not ok:  # apprise returns no reason, it logs one: that is what the operator needs
                why = said[-1] if said else "no reason given"
                return False, True, f"{self.target}: {self._scrub(why)}"
        return True, False, ""

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text[:300]


@contextlib.contextmanager
def _apprise_says() -> Iterator[list[str]]:
    """What apprise logs (warnings and worse) while the block runs (apprise may send from its own
    threads; hamon sends one notice at a time)."""
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    handler = Keep(logging.WARNING)
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    try:
        yield said
    finally:
        logger.removeHandler(handler)


def _secrets_of(url: str) -> list[str]:
    """The parts of a notification URL that may be secret: password, tokens in the path, query values."""
    parts = urllib.parse.urlsplit(url)
    found = [parts.password or ""]
    found += [seg for seg in parts.path.split("/") if len(seg) >= 12]
    found += [v for _, v in urllib.parse.parse_qsl(parts.query) if len(v) >= 6]
    if "@" in parts.netloc and ":" not in parts.netloc.split("@", 1)[0]:
        found.append(parts.netloc.split("@", 1)[0])  # a token given as the user part (slack://TOKEN@…)
    return sorted({f for f in found if f}, key=len, reverse=True)


class AlertmanagerSender:
    """Alertmanager's API (POST /api/v2/alerts), for teams that route alerts through Alertmanager.

    `alertmanager://host:port[/prefix]` (http) or `alertmanagers://…` (https).
    """

    def __init__(self, url: str, timeout: float = 5.0, external_url: str | None = None) -> None:
        self.external_url = external_url.rstrip("/") if external_url else None
        scheme, rest = url.split("://", 1)
        base = ("https://" if scheme == "alertmanagers" else "http://") + rest.rstrip("/")
        self.target = target_id(masked(url), url)
        # A user and password in the URL (an Alertmanager behind a proxy) go as basic authentication.
        self.endpoint, self._auth = endpoint_and_auth(base + "/api/v2/alerts", url)
        self._shown = masked(url.rstrip("/") + "/api/v2/alerts")
        self.timeout = timeout

    def payload(self, notices: Sequence[Notice]) -> list[dict[str, Any]]:
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
            if self.external_url:  # where a person sees the pair: its Grafana dashboard
                item["generatorURL"] = f"{self.external_url}/d/hamon-pair?var-pair={urllib.parse.quote(n.pair)}"
            out.append(item)
        return out

    def send(self, notices: Sequence[Notice]) -> tuple[bool, bool, str]:
        headers = {"Authorization": self._auth} if self._auth else {}
        return post_json(self.endpoint, self.payload(notices), headers, self.timeout, self._shown)


def endpoint_and_auth(plain: str, url: str) -> tuple[str, str | None]:
    """An http(s) URL without its user part, and that user and password as a basic Authorization
    header (None without them); `url` (as given) names it in the error when it has no host."""
    parts = urllib.parse.urlsplit(plain)
    if not parts.hostname:
        raise ConfigError(f"not a notification URL with a host: {masked(url)}")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc += f":{parts.port}" if parts.port else ""
    endpoint = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    if parts.username is None:
        return endpoint, None
    import base64

    pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return endpoint, "Basic " + base64.b64encode(pair.encode()).decode()


def post_json(url: str, doc: Any, headers: dict[str, str], timeout: float, shown: str) -> tuple[bool, bool, str]:
    """POST a JSON document: (ok, worth retrying, error naming the target by `shown`). Connection
    errors, HTTP 5xx and 429 are worth retrying; other refusals are not."""
    req = urllib.request.Request(
        url, data=json.dumps(doc).encode(), headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if 200 <= resp.status < 300:
                return True, False, ""
            return False, resp.status >= 500, f"{shown}: HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return False, exc.code >= 500 or exc.code == 429, f"{shown}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, True, f"{shown}: {getattr(exc, 'reason', exc)}"


class WebhookSender:
    """`webhook://host:port/path` (http) or `webhook+https://…`: hamon's own JSON per notice, the
    documented alert shape plus `status`, the one-sentence `summary`, its `context` lines and
    `links` — for receivers that route on fields rather than read apprise's text envelope. `json://`
    and `jsons://` (without apprise ?options) get the same fields beside apprise's envelope
    (`version`, `title`, `message`, `attachments`, `type`), so a receiver written for apprise still
    reads what it read. A user and password in the URL are sent as HTTP basic authentication."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        scheme, rest = url.split("://", 1)
        plain = ("https://" if scheme in ("webhook+https", "jsons") else "http://") + rest
        self.envelope = scheme in ("json", "jsons")  # apprise's json:// fields too
        if not urllib.parse.urlsplit(plain).hostname:
            raise ConfigError(f"not a webhook URL: {masked(url)} (give webhook://HOST:PORT/PATH)")
        self.target = target_id(masked(url), url)
        self.endpoint, self._auth = endpoint_and_auth(plain, url)
        self._shown = masked(url)
        self.timeout = timeout

    @staticmethod
    def payload(n: Notice) -> dict[str, Any]:
        links = {}
        for line in n.context:
            key, _, value = line.partition(": ")
            if key in ("dashboard", "runbook"):
                links[key] = value
        return {
            "status": "resolved" if n.state == "resolved" else "firing",
            "repeat": n.state.startswith("repeat"),
            "alert_id": n.alert_id,
            "pair": n.pair,
            "kind": n.kind,
            "severity": n.severity,
            "group": n.group,
            "unit": n.unit,
            "started_at": iso(n.started_at),
            "ended_at": None if n.ended_at is None else iso(n.ended_at),
            "detail": n.detail,
            "summary": n.headline or n.title,
            "context": list(n.context),
            "links": links,
        }

    @staticmethod
    def envelope_of(n: Notice) -> dict[str, Any]:
        """apprise's json:// body (version, title, message, attachments, type), as apprise fills it."""
        return {"version": "1.0", "title": n.title, "message": n.body, "attachments": [], "type": n.notify_type}

    def send(self, notices: Sequence[Notice]) -> tuple[bool, bool, str]:
        headers = {"Authorization": self._auth} if self._auth else {}
        for n in notices:
            body = {**self.envelope_of(n), **self.payload(n)} if self.envelope else self.payload(n)
            ok, recoverable, error = post_json(self.endpoint, body, headers, self.timeout, self._shown)
            if not ok:
                return ok, recoverable, error
        return True, False, ""


USERINFO_RE = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*)(?::[^@/]*)?@", re.IGNORECASE)


def masked(url: str) -> str:
    """A URL without its password or query (where tokens often travel)."""
    url = url.split("?", 1)[0]
    return USERINFO_RE.sub(lambda m: f"{m['scheme']}{m['user']}:****@" if m["user"] else f"{m['scheme']}****@", url)


def target_id(shown: str, url: str) -> str:
    """How a target is named in output, errors and the notification log: its masked form and a short
    digest of the whole URL (two targets that mask alike stay apart; the secret is not recoverable)."""
    digest = hashlib.blake2b(url.encode(), digest_size=4).hexdigest()
    return f"{shown} #{digest}"


def sender(url: str, external_url: str | None = None) -> Sender:
    """The sender for a notification URL (`external_url`: hamon's Grafana, for links back)."""
    if url.startswith(("alertmanager://", "alertmanagers://")):
        return AlertmanagerSender(url, external_url=external_url)
    if url.startswith(("webhook://", "webhook+https://")):
        return WebhookSender(url)
    if url.startswith(("json://", "jsons://")) and "?" not in url:
        # apprise's envelope and hamon's alert fields in one body; with ?options, apprise sends it
        return WebhookSender(url)
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
    failed_ids: set[str] = field(default_factory=set)  # alerts whose notice did not reach every target

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
class Delivery:
    """A notice and the targets it is still due to."""

    notice: Notice
    targets: list[Sender]


class Stage(Protocol):
    """One step of the pipeline: the deliveries that go on."""

    def exec(self, deliveries: list[Delivery], now: dt.datetime, report: Report) -> list[Delivery]: ...


@dataclass
class SilenceStage:
    """Mute what an active silence covers."""

    store: Store

    def exec(self, deliveries: list[Delivery], now: dt.datetime, report: Report) -> list[Delivery]:
        active = log.silence_list(self.store, active_at=now)
        out = []
        for d in deliveries:
            if any(s.mutes(d.notice.pair, d.notice.kind) for s in active):
                report.silenced += 1
            else:
                out.append(d)
        return out


@dataclass
class DedupStage:
    """Drop the targets a message went to already (the notification log); a notice due to none is a duplicate."""

    store: Store

    def exec(self, deliveries: list[Delivery], now: dt.datetime, report: Report) -> list[Delivery]:
        out = []
        for d in deliveries:
            n = d.notice
            due = [s for s in d.targets if not log.notified(self.store, n.alert_id, n.state, s.target)]
            if due:
                out.append(Delivery(n, due))
            else:
                report.duplicates += 1
        return out


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

    def exec(self, deliveries: list[Delivery], now: dt.datetime, report: Report) -> list[Delivery]:
        out = []
        for d in deliveries:
            if self.allow(d.notice, now.timestamp()):
                out.append(d)
            else:
                report.rate_limited += 1
        return out


@dataclass
class SendStage:
    """Send to every due target, retrying recoverable failures with backoff; log what was sent.

    A target that failed is not tried again in the same run.
    """

    store: Store
    retries: int = 2
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def exec(self, deliveries: list[Delivery], now: dt.datetime, report: Report) -> list[Delivery]:
        down: set[str] = set()
        for d in deliveries:
            for s in d.targets:
                if s.target in down:
                    report.failed += 1
                    report.failed_ids.add(d.notice.alert_id)
                    continue
                ok, error = self._send(s, d.notice)
                if ok:
                    report.sent += 1
                    log.log_notification(self.store, d.notice.alert_id, d.notice.state, s.target, now)
                else:
                    report.failed += 1
                    report.errors.append(error)
                    report.failed_ids.add(d.notice.alert_id)
                    down.add(s.target)
        return []

    def _send(self, s: Sender, n: Notice) -> tuple[bool, str]:
        error = ""
        for attempt in range(self.retries + 1):
            ok, recoverable, error = s.send([n])
            if ok:
                return True, ""
            if not recoverable:
                break
            if attempt < self.retries:
                self.sleep(self.backoff * (2**attempt))
        return False, error


class Pipeline:
    """Silence → dedup → rate limit → send, for every target."""

    def __init__(
        self,
        store: Store,
        senders: Sequence[Sender],
        *,
        wording: Wording | None = None,
        clock: Clock = lambda: dt.datetime.now(UTC),
        rate: RateLimit | None = None,
        retries: int = 2,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.senders = list(senders)
        self.wording = wording or Wording()
        self.clock = clock
        self.rate = rate or RateLimit()
        self.stages: list[Stage] = [
            SilenceStage(store),
            DedupStage(store),
            self.rate,
            SendStage(store, retries, backoff, sleep),
        ]

    def process(self, notices: Sequence[Notice]) -> Report:
        report = Report()
        if not self.senders or not notices:
            return report
        now = self.clock()
        deliveries = [Delivery(n, list(self.senders)) for n in notices]
        for stage in self.stages:
            deliveries = stage.exec(deliveries, now, report)
        return report


def notices_for(store: Store, alert_ids: Sequence[str], wording: Wording | None = None) -> list[Notice]:
    """Notices for alerts by id: an opening for each, and a resolution for those that ended, each
    worded for a person (`wording`: the inventory and hamon's Grafana for links)."""
    wording = wording or Wording()
    now = dt.datetime.now(UTC)
    out: list[Notice] = []
    for a in alert_records(store, alert_ids):
        head, context = wording.describe(store, a, "firing", now)
        firing = Notice(
            a.alert_id, "firing", a.pair, a.kind, a.severity, a.group, a.unit, a.started_at, None, a.detail, head,
            context,
        )  # fmt: skip
        out.append(firing)
        if a.ended_at is not None:
            head, context = wording.describe(store, a, "resolved", now)
            out.append(replace(firing, state="resolved", ended_at=a.ended_at, headline=head, context=context))
    return out
