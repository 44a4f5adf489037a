"""The alert book of one pair: dedup by (kind, group, unit), open → resolved, with evidence."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hamon.model import AlertOpen, AlertResolve, Output

UTC = dt.UTC


def at(t: float) -> dt.datetime:
    """Event time (epoch seconds, as the state keeps it) as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(t, UTC)


@dataclass
class OpenAlert:
    """An alert that is open now (part of the machine's checkpointed state)."""

    alert_id: str
    kind: str
    severity: str
    group: int | None
    unit: str | None
    started_at: float
    detail: str

    def to_json(self) -> list[Any]:
        return [self.alert_id, self.kind, self.severity, self.group, self.unit, self.started_at, self.detail]

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by its fields (the live correlator copies every pair's state often): several
        # times faster than a dataclass's default instance-dict pickling.
        return (OpenAlert, tuple(self.to_json()))

    @classmethod
    def from_json(cls, v: list[Any]) -> OpenAlert:
        return cls(*v)


@dataclass
class AlertBook:
    """Open alerts keyed by (kind, group, unit); opening twice or resolving a closed key is a no-op."""

    pair: str
    open: dict[str, OpenAlert] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, ...]:
        return (AlertBook, (self.pair, self.open))

    @staticmethod
    def key(kind: str, group: int | None, unit: str | None) -> str:
        return f"{kind}|{group or ''}|{unit or ''}"

    def is_open(self, kind: str, group: int | None = None, unit: str | None = None) -> bool:
        return self.key(kind, group, unit) in self.open

    def raise_(
        self,
        out: list[Output],
        now: float,
        kind: str,
        severity: str,
        detail: str,
        evidence: tuple[str, ...],
        *,
        group: int | None = None,
        unit: str | None = None,
        started_at: float | None = None,
    ) -> None:
        """Open an alert unless the same one is open."""
        key = self.key(kind, group, unit)
        if key in self.open:
            return
        opening = AlertOpen(
            self.pair,
            kind,
            severity,
            group,
            unit,
            at(now if started_at is None else started_at),
            detail,
            tuple(sorted(set(evidence))),
            at(now),
        )
        self.open[key] = OpenAlert(
            opening.alert_id, kind, severity, group, unit, opening.started_at.timestamp(), detail
        )
        out.append(opening)

    def refresh(self, alert_id: str, started_at: float, detail: str) -> None:
        """Keep an open alert's start and detail as an AlertUpdate restated them."""
        for alert in self.open.values():
            if alert.alert_id == alert_id:
                alert.started_at, alert.detail = started_at, detail

    def resolve(
        self,
        out: list[Output],
        now: float,
        kind: str,
        evidence: tuple[str, ...] = (),
        *,
        group: int | None = None,
        unit: str | None = None,
        ended_at: float | None = None,
    ) -> None:
        """Resolve an open alert (it ended at `ended_at`, default now); nothing happens when it is not open."""
        alert = self.open.pop(self.key(kind, group, unit), None)
        if alert is not None:
            end = max(now if ended_at is None else ended_at, alert.started_at)
            out.append(AlertResolve(alert.alert_id, at(end), tuple(sorted(set(evidence))), at(now)))

    def resolve_kind(self, out: list[Output], now: float, kind: str, evidence: tuple[str, ...] = ()) -> None:
        """Resolve every open alert of one kind."""
        for alert in sorted((a for a in self.open.values() if a.kind == kind), key=lambda a: a.alert_id):
            self.resolve(out, now, kind, evidence, group=alert.group, unit=alert.unit)

    def to_json(self) -> dict[str, Any]:
        return {k: v.to_json() for k, v in sorted(self.open.items())}

    @classmethod
    def from_json(cls, pair: str, v: dict[str, Any]) -> AlertBook:
        return cls(pair, {k: OpenAlert.from_json(a) for k, a in v.items()})
