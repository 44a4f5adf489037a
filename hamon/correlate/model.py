"""What the correlator decides: failovers, state transitions and alert changes."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hamon.model import iso


class Role(StrEnum):
    """The state of a unit, or of a unit for one failover group."""

    ACTIVE = "active"
    STANDBY = "standby"
    FAILED = "failed"
    SYNCING = "syncing"  # cold standby, config sync, bulk sync
    DISABLED = "disabled"
    UNKNOWN = "unknown"


class Link(StrEnum):
    """Status of a monitored interface (failover chapter, Interface Status) and of the links."""

    NORMAL = "Normal"
    TESTING = "Testing"
    FAILED = "Failed"
    LINK_DOWN = "Link Down"
    NO_LINK = "No Link"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    """How urgent an alert is."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


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
