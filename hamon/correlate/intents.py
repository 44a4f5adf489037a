"""What the health rules decide, as records the pair machine applies in one place (`PairMachine.carry`).

A health rule reads the pair's state and yields intents; it never calls the machine back. The machine
applies each intent before the rule goes on, so a rule reads the state its earlier decisions made —
the order of a rule's decisions is the order of their outputs. A role change the machine applies may
have consequences of its own (`health.role_changed`): their intents are applied next, in the same
place, before the rule that asked for the change resumes.

The health rules keep their own book-keeping in the state directly (the links' last word, the
monitored interfaces' statuses, logical-update error times, failover times for flapping); roles,
alerts, timers and the symptoms a failover is timed from belong to the machine and change only here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hamon.correlate.state import Role, TimerKind
from hamon.model import AlertUpdate, Event


@dataclass(frozen=True, slots=True)
class SetRole:
    """A unit's role in a scope (0: the unit; N: failover group N) is now `role`."""

    scope: int
    unit: str
    role: Role
    t: float
    cause: str
    event: Event | None = None
    cause_text: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Raise:
    """Open an alert unless the same (kind, group, unit) is open."""

    t: float
    kind: str
    severity: str
    detail: str
    evidence: tuple[str, ...]
    group: int | None = None
    unit: str | None = None
    started_at: float | None = None


@dataclass(frozen=True, slots=True)
class Resolve:
    """Resolve an open alert; with `every`, every open alert of the kind (group and unit ignored)."""

    t: float
    kind: str
    evidence: tuple[str, ...] = ()
    group: int | None = None
    unit: str | None = None
    every: bool = False


@dataclass(frozen=True, slots=True)
class EndFailover:
    """A failover of `unit` (in `group`) is over: its failover and slow_failover alerts resolve, and
    its settle timer goes (unless `fired`: the timer itself is what ended it)."""

    t: float
    group: int | None
    unit: str
    evidence: tuple[str, ...] = ()
    fired: bool = False


@dataclass(frozen=True, slots=True)
class Refine:
    """An open (or just ended) failover alert restated: its start and what it says."""

    update: AlertUpdate


@dataclass(frozen=True, slots=True)
class Schedule:
    """Set a timer (unless the same is set)."""

    due: float
    kind: TimerKind
    key: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class Cancel:
    """Remove the timers of a kind and key."""

    kind: TimerKind
    key: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class Forget:
    """A unit's symptoms in `scope` are over (on one interface, or all of them when None)."""

    scope: int
    unit: str
    interface: str | None = None


Intent = SetRole | Raise | Resolve | EndFailover | Refine | Schedule | Cancel | Forget
Intents = Iterator[Intent]
