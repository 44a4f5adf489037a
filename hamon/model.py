"""The values that flow through the pipeline: raw input, events, quarantined records, and what the
correlator decides from events (failovers, transitions, alert changes)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

UTC = dt.UTC


class Unit(StrEnum):
    """The physical unit of a pair, named by the (Primary)/(Secondary) tag."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class Cause(StrEnum):
    """Normalized cause of a role change or a failure."""

    PEER_UNREACHABLE = "peer_unreachable"
    INTERFACE_FAILURE = "interface_failure"
    MANUAL = "manual"
    MODULE_FAILURE = "module_failure"
    STARTUP = "startup"
    PREEMPT = "preempt"
    CONFIG_SYNC = "config_sync"
    UNKNOWN = "unknown"


CAUSE_WORDS: dict[str, str] = {
    Cause.PEER_UNREACHABLE: "mate not heard (hellos lost)",
    Cause.INTERFACE_FAILURE: "interface health check failed",
    Cause.MANUAL: "manual switchover",
    Cause.MODULE_FAILURE: "module or service card failed",
    Cause.STARTUP: "unit started",
    Cause.PREEMPT: "preempted by the preferred unit",
    Cause.CONFIG_SYNC: "configuration sync",
    Cause.UNKNOWN: "cause unknown",
}
"""A cause as a person says it (pictures, pages); keyed by the cause's value."""


def cause_words(cause: str) -> str:
    """A cause in words (`mate not heard (hellos lost)`); one hamon does not know, as it came."""
    return CAUSE_WORDS.get(cause, cause)


@dataclass(frozen=True, slots=True)
class RawBatch:
    """What arrived, untouched: newline-separated lines sharing one origin.

    A datagram is a batch of one line; a replayed file arrives as many batches.
    `received_at` is the arrival time (live) or the file's modification time (replay);
    `source` names the sender for lines that carry no host of their own. Line numbers of a
    stream are counted by its parser.
    """

    data: bytes
    received_at: dt.datetime
    source: str
    transport: str
    collector: str
    origin: str = ""
    peer: tuple[str, ...] = ()  # a TLS client's identities: `sha256:<fingerprint>`, `CN=<subject CN>`


@dataclass(frozen=True, slots=True)
class Event:
    """One failover-related message, parsed and attributed to a pair."""

    event_id: str
    at: dt.datetime
    received_at: dt.datetime
    pair: str
    unit: Unit | None
    group: int | None
    source: str
    device_id: str | None
    msg_id: int
    severity: int
    kind: str
    cause: Cause | None
    cause_text: str | None
    interface: str | None
    reason_code: int | None
    value: int | None
    mate_version: str | None
    our_version: str | None
    command: str | None
    status: str | None
    my_state: str | None
    peer_state: str | None
    text: str
    seq: int = 0  # arrival order in the store: the tie-break between events of one device second

    def to_json(self) -> dict[str, Any]:
        """The documented event JSON shape."""
        return {
            "event_id": self.event_id,
            "at": iso(self.at),
            "received_at": iso(self.received_at),
            "pair": self.pair,
            "unit": self.unit.value if self.unit else None,
            "source": self.source,
            "msg_id": self.msg_id,
            "severity": self.severity,
            "kind": self.kind,
            "cause": self.cause.value if self.cause else None,
            "interface": self.interface,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An input line hamon could not accept, kept with the reason."""

    quarantine_id: str
    received_at: dt.datetime
    source: str
    origin: str
    line_no: int
    reason: str
    raw: bytes
    raw_len: int

    def to_json(self) -> dict[str, Any]:
        """JSON form; the raw bytes are shown with undecodable bytes escaped."""
        return {
            "quarantine_id": self.quarantine_id,
            "received_at": iso(self.received_at),
            "source": self.source,
            "origin": self.origin,
            "line_no": self.line_no,
            "reason": self.reason,
            "raw": self.raw.decode("utf-8", "backslashreplace"),
            "raw_len": self.raw_len,
        }


@dataclass(slots=True)
class Activity:
    """Lines seen from one sender in one hour, and when it was last heard: traffic from a unit."""

    source: str
    pair: str
    hour: dt.datetime
    lines: int = 0
    last_at: dt.datetime | None = None
    seconds: bytes = b""  # bitmap: bit s is set when the sender was heard in second s of the hour


@dataclass(slots=True)
class ParseResult:
    """Everything one batch produced; every input line is accounted for exactly once."""

    lines: int = 0
    blank: int = 0
    ordinary: int = 0
    other: int = 0
    events: list[Event] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    @property
    def accounted(self) -> int:
        """Lines that ended somewhere: blank, ordinary, other syslog, event or quarantine."""
        return self.blank + self.ordinary + self.other + len(self.events) + len(self.quarantined)


def iso(t: dt.datetime) -> str:
    """ISO-8601 in UTC with a Z suffix and millisecond precision when there is one."""
    if t.tzinfo is not UTC:
        t = t.astimezone(UTC)
    return t.isoformat(timespec="milliseconds" if t.microsecond else "seconds")[:-6] + "Z"  # "+00:00" off


@dataclass(frozen=True, slots=True)
class PolledEvents:
    """Events a poller made from a unit's CLI output (they have no raw line to parse)."""

    events: tuple[Event, ...]
    source: str  # the polled unit's address
    transport: str = "ssh"
    # The poll as read (`show failover`), kept as the unit's last poll: (pair, unit, document).
    polled: tuple[str, str, dict[str, Any]] | None = None


Batch = RawBatch | PolledEvents


# -- what the correlator decides ------------------------------------------------------------------
ALERT_KINDS = (
    "split_brain",
    "failover_link_down",
    "state_link_down",
    "interface_threshold",
    "unit_failed",
    "failover",
    "flapping",
    "slow_failover",
    "version_mismatch",
    "config_sync_failed",
    "failover_disabled",
    "pair_silent",
)


def stable_id(*parts: object) -> str:
    """A deterministic id from the parts that make an output unique."""
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Failover:
    """The active role of a pair (or of a failover group) moved to another unit."""

    pair: str
    group: int | None
    at: dt.datetime
    new_active: str
    previous_active: str | None
    cause: str
    cause_text: str | None
    detection_s: float | None
    evidence: tuple[str, ...]
    emitted_at: dt.datetime
    key_at: dt.datetime | None = None  # when the takeover was first known: the id stays as it is refined

    @property
    def failover_id(self) -> str:
        return stable_id(self.pair, self.group, (self.key_at or self.at).isoformat(), self.new_active)

    def to_json(self) -> dict[str, Any]:
        """The documented `hamon failovers --json` shape."""
        return {
            "pair": self.pair,
            "group": self.group,
            "at": iso(self.at),
            "new_active": self.new_active,
            "previous_active": self.previous_active,
            "cause": self.cause,
            "cause_text": self.cause_text,
            "detection_s": None if self.detection_s is None else round(self.detection_s, 3),
        }


@dataclass(frozen=True, slots=True)
class Transition:
    """A unit (or a unit's failover group) changed state."""

    pair: str
    group: int | None
    unit: str
    at: dt.datetime
    from_state: str
    to_state: str
    cause: str
    cause_text: str | None
    evidence: tuple[str, ...]
    emitted_at: dt.datetime

    @property
    def transition_id(self) -> str:
        return stable_id(self.pair, self.group, self.unit, self.at.isoformat(), self.to_state)


@dataclass(frozen=True, slots=True)
class AlertOpen:
    """An alert starts."""

    pair: str
    kind: str
    severity: str
    group: int | None
    unit: str | None
    started_at: dt.datetime
    detail: str
    evidence: tuple[str, ...]
    emitted_at: dt.datetime

    @property
    def alert_id(self) -> str:
        return stable_id(self.pair, self.kind, self.group, self.unit, self.started_at.isoformat())


@dataclass(frozen=True, slots=True)
class AlertResolve:
    """An open alert ends."""

    alert_id: str
    ended_at: dt.datetime
    evidence: tuple[str, ...]
    emitted_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """An open alert's start, detail or evidence refined (a later message of the same incident)."""

    alert_id: str
    started_at: dt.datetime
    detail: str
    evidence: tuple[str, ...]
    emitted_at: dt.datetime


Output = Failover | Transition | AlertOpen | AlertUpdate | AlertResolve
