"""The correlator's per-pair state: plain values only, so a checkpoint is a JSON document."""

from __future__ import annotations

import datetime as dt
import pickle
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from hamon.correlate.alerts import AlertBook
from hamon.model import Event, Failover, Unit
from hamon.resolve.inventory import PairConfig

UNITS = (Unit.PRIMARY, Unit.SECONDARY)
STATE_VERSION = 7  # 2: A/A interfaces per group; 3: claims, life; 4: claims' causes; 5: typed timers; 6: spoke, version_said, unheard, typed records; 7: restate


def other(unit: str) -> Unit:
    """The other unit of the pair."""
    return Unit.SECONDARY if unit == Unit.PRIMARY else Unit.PRIMARY


class Role(StrEnum):
    """A unit's role in a scope (the unit, or one failover group in Active/Active mode), as the
    machine holds it. Stored and shown as its value ("active", …)."""

    ACTIVE = "active"
    STANDBY = "standby"
    FAILED = "failed"  # the unit (or the mate) said so, or its mate took over from it
    SYNCING = "syncing"  # receiving its mate's configuration (cold standby, bulk sync)
    DISABLED = "disabled"  # failover switched off on it ("no failover")
    UNKNOWN = "unknown"  # nothing heard yet


class TimerKind(StrEnum):
    """What a timer of a pair's machine is for (the machine's and the health rules' tables say what each does)."""

    FAILOVER = "failover"  # key (scope, new_active): a takeover's merge window ends
    SPLIT = "split"  # key (scope,): both units active this long is a split-brain
    PEER_DOWN = "peer_down"  # key (scope, peer, t, cause, event_id): the peer did not speak again
    SETTLE = "settle"  # key (scope, unit): a failover alert resolves after quiet
    FLAP_QUIET = "flap_quiet"  # no failovers for the flap window
    STATE_QUIET = "state_quiet"  # no state-link update errors for a while
    VERSION_CLEAR = "version_clear"  # a version mismatch not said again
    THRESHOLD = "threshold"  # key (event_id,): an interface failure held for its poll time


class Timer(NamedTuple):
    """One timer: due at event time `due` (epoch seconds), of a kind, for a key of plain values."""

    due: float
    kind: TimerKind
    key: tuple[Any, ...] = ()

    def order(self) -> tuple[float, str, str]:
        return (self.due, self.kind.value, repr(self.key))

    def to_json(self) -> list[Any]:
        return [self.due, self.kind.value, list(self.key)]

    @classmethod
    def from_json(cls, v: list[Any]) -> Timer:
        return cls(float(v[0]), TimerKind(v[1]), tuple(v[2]))


class Symptom(NamedTuple):
    """A sign of trouble a unit logged (lost hellos, interface tests, no response, link down)."""

    t: float
    event_id: str
    interface: str | None
    unit: str | None


class Claim(NamedTuple):
    """What a unit said about its own role, and when (with the message's cause, when it gave one)."""

    t: float
    role: Role
    cause: str | None = None
    cause_text: str | None = None
    event_id: str | None = None


@dataclass
class SplitCheck:
    """Both units active in a scope: a split-brain once it lasts the grace (due), from `since`."""

    due: float
    since: float
    evidence: list[str]

    def to_json(self) -> list[Any]:
        return [self.due, self.since, self.evidence]


DraftKey = tuple[int, str]  # (scope, new_active)


def draft_key(text: str) -> DraftKey:
    scope, _, unit = text.partition("|")
    return int(scope), unit


@dataclass
class Draft:
    """A failover being assembled while the messages of both units arrive (merge window)."""

    scope: int
    new_active: str
    previous_active: str | None
    first_seen: float
    at: float
    at_is_takeover: bool  # `at` is the new active unit's own "Switching to ACTIVE"
    cause: str
    cause_text: str | None
    cause_rank: int
    evidence: list[str]

    def to_json(self) -> list[Any]:
        return [
            self.scope,
            self.new_active,
            self.previous_active,
            self.first_seen,
            self.at,
            self.at_is_takeover,
            self.cause,
            self.cause_text,
            self.cause_rank,
            self.evidence,
        ]

    @classmethod
    def from_json(cls, v: list[Any]) -> Draft:
        return cls(*v)


def _failover_json(fo: Failover) -> list[Any]:
    return [
        fo.pair,
        fo.group,
        fo.at.timestamp(),
        fo.new_active,
        fo.previous_active,
        fo.cause,
        fo.cause_text,
        fo.detection_s,
        list(fo.evidence),
        fo.emitted_at.timestamp(),
        None if fo.key_at is None else fo.key_at.timestamp(),
    ]


def _failover_from(v: list[Any]) -> Failover:
    def when(t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(t, dt.UTC)

    pair, group, at, new, old, cause, text, detection, evidence, emitted, key = v
    key_at = None if key is None else when(key)
    return Failover(pair, group, when(at), new, old, cause, text, detection, tuple(evidence), when(emitted), key_at)


@dataclass
class Restate:
    """A lost-peer failover timed from the pair falling silent, its old active written off: if that
    unit turns out to have been alive all along (it goes on logging), the pause was no silence of
    it, and the failover is told again as `alive` (timed from its symptoms alone)."""

    unit: str
    timed: Failover
    alive: Failover

    def to_json(self) -> list[Any]:
        return [self.unit, _failover_json(self.timed), _failover_json(self.alive)]

    @classmethod
    def from_json(cls, v: list[Any]) -> Restate:
        return cls(v[0], _failover_from(v[1]), _failover_from(v[2]))


@dataclass
class PairState:
    """Everything the machine knows about one pair. Times are epoch seconds (event time)."""

    pair: str
    mode: str | None = None
    roles: dict[int, dict[str, Role]] = field(default_factory=dict)  # scope (0 = unit, 1/2 = group)
    written_off: dict[int, dict[str, float]] = field(default_factory=dict)  # the peer took over from it
    unheard: dict[int, dict[str, float]] = field(default_factory=dict)  # ... because it stopped hearing it
    claims: dict[int, dict[str, Claim]] = field(default_factory=dict)  # scope -> unit -> its last word
    heard: dict[str, float] = field(default_factory=dict)  # unit -> last sign of life (a tagged message)
    failover_link: str = "unknown"
    state_link: str = "unknown"
    interfaces: dict[str, dict[str, str]] = field(default_factory=dict)  # unit -> interface[@gN] -> status
    failed_since: dict[str, dict[str, float]] = field(default_factory=dict)  # unit -> interface[@gN] -> t
    symptoms: dict[int, list[Symptom]] = field(default_factory=dict)  # scope -> symptoms, in time order
    drafts: dict[DraftKey, Draft] = field(default_factory=dict)
    split_checks: dict[int, SplitCheck] = field(default_factory=dict)
    restate: dict[int, Restate] = field(default_factory=dict)  # scope -> a settled failover to tell again
    failover_times: list[float] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)  # kept sorted by Timer.order
    sources: dict[str, str] = field(default_factory=dict)  # sender -> role it speaks for (or "shared")
    spoke: dict[str, list[float | None]] = field(default_factory=dict)  # sender -> [last as active, as standby]
    lu_errors: list[float] = field(default_factory=list)
    version_said: float | None = None  # the last version mismatch a unit reported
    last_failover_at: float | None = None
    last_t: float | None = None
    alerts: AlertBook = field(default_factory=lambda: AlertBook(""))

    def role(self, scope: int, unit: str) -> Role:
        return self.roles.get(scope, {}).get(unit, Role.UNKNOWN)

    def copy(self) -> PairState:
        """A deep copy (pickle: three times faster than copy.deepcopy on this plain data)."""
        return PairState.thaw(self.frozen())

    def frozen(self) -> bytes:
        """The state as bytes, to be thawed into a copy later (the live correlator keeps one per
        pair per REWIND_SPAN seconds or REWIND_EVENTS events for rewinds, and thaws it only when a
        late event arrives)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def thaw(data: bytes) -> PairState:
        state: PairState = pickle.loads(data)  # bytes this process froze itself, never input
        return state

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "pair": self.pair,
            "mode": self.mode,
            "roles": {str(k): v for k, v in self.roles.items()},
            "written_off": {str(k): v for k, v in self.written_off.items()},
            "unheard": {str(k): v for k, v in self.unheard.items()},
            "claims": {str(k): {u: list(c) for u, c in v.items()} for k, v in self.claims.items()},
            "heard": self.heard,
            "failed_since": self.failed_since,
            "failover_link": self.failover_link,
            "state_link": self.state_link,
            "interfaces": self.interfaces,
            "symptoms": {str(k): [list(x) for x in v] for k, v in self.symptoms.items()},
            "drafts": {f"{k[0]}|{k[1]}": d.to_json() for k, d in self.drafts.items()},
            "split_checks": {str(k): v.to_json() for k, v in self.split_checks.items()},
            "restate": {str(k): v.to_json() for k, v in self.restate.items()},
            "failover_times": self.failover_times,
            "timers": [x.to_json() for x in self.timers],
            "sources": self.sources,
            "spoke": self.spoke,
            "lu_errors": self.lu_errors,
            "version_said": self.version_said,
            "last_failover_at": self.last_failover_at,
            "last_t": self.last_t,
            "alerts": self.alerts.to_json(),
        }

    @classmethod
    def from_json(cls, v: dict[str, Any]) -> PairState | None:
        """The state of a checkpoint; None when it was written by an older hamon (recompute instead)."""
        if v.get("version") != STATE_VERSION:
            return None
        return cls(
            pair=v["pair"],
            mode=v["mode"],
            roles={int(k): {u: Role(r) for u, r in x.items()} for k, x in v["roles"].items()},
            written_off={int(k): x for k, x in v["written_off"].items()},
            unheard={int(k): x for k, x in v["unheard"].items()},
            claims={int(k): {u: Claim(c[0], Role(c[1]), *c[2:]) for u, c in x.items()} for k, x in v["claims"].items()},
            heard=v["heard"],
            failed_since=v["failed_since"],
            failover_link=v["failover_link"],
            state_link=v["state_link"],
            interfaces=v["interfaces"],
            symptoms={int(k): [Symptom(*y) for y in x] for k, x in v["symptoms"].items()},
            drafts={draft_key(k): Draft.from_json(d) for k, d in v["drafts"].items()},
            split_checks={int(k): SplitCheck(*x) for k, x in v["split_checks"].items()},
            restate={int(k): Restate.from_json(x) for k, x in v["restate"].items()},
            failover_times=v["failover_times"],
            timers=[Timer.from_json(x) for x in v["timers"]],
            sources=v["sources"],
            spoke=v["spoke"],
            lu_errors=v["lu_errors"],
            version_said=v["version_said"],
            last_failover_at=v["last_failover_at"],
            last_t=v["last_t"],
            alerts=AlertBook.from_json(v["pair"], v["alerts"]),
        )


@dataclass(frozen=True)
class Timing:
    """Windows of the correlator itself (not of the device)."""

    merge_window: float = 10.0  # both units' messages about one takeover
    split_grace: float = 10.0  # both active this long before it is split-brain
    settle: float = 900.0  # a failover alert resolves after this long without another failover
    symptom_horizon: float = 300.0  # symptoms older than this before a takeover do not count
    busy_window: float = 30.0  # a sender whose silence counts was heard in ...
    busy_seconds: int = 10  # ... at least this many of the seconds before it fell silent


DEFAULT_TIMING = Timing()


class Machine(Protocol):
    """What the health rules (`health.py`) read of a pair's machine (`machine.PairMachine`): its
    state, configuration and timing, and three questions. They change roles, alerts and timers only
    by the intents they yield (`intents.py`)."""

    s: PairState
    cfg: PairConfig
    timing: Timing

    def scopes(self, e: Event) -> list[int]: ...

    def claimed_since(self, scope: int, unit: str, since: float) -> Role | None: ...

    def assembling(self, scope: int, new_active: str) -> bool: ...
