"""Reading and writing the correlator's outputs: failovers, transitions, alerts, checkpoints, pair state."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hamon.model import AlertOpen, AlertResolve, AlertUpdate, Failover, Output, Transition, iso
from hamon.store import bulk
from hamon.store.db import Store

# The correlator's reads and writes (checkpoints, outputs) are the driver's own statements: replay
# into the embedded store runs without SQLAlchemy. The listings below build their queries with it.

KEEP_CHECKPOINTS = 50  # per pair; older ones are pruned


@dataclass(frozen=True)
class PairSnapshot:
    """The current picture of a pair, as `hamon pairs` shows it."""

    pair: str
    mode: str
    units: dict[str, str]
    groups: dict[str, str | None]
    failover_link: str
    state_link: str
    last_failover_at: dt.datetime | None
    last_event_at: dt.datetime | None


def latest_checkpoint(store: Store, pair: str, before: dt.datetime | None) -> tuple[dt.datetime, dict[str, Any]] | None:
    """The newest checkpoint of a pair strictly before a time (None: the newest of all)."""
    mark = bulk.placeholder(store.dialect)
    sql, params = f"SELECT at, state FROM checkpoints WHERE pair = {mark}", [pair]
    if before is not None:
        sql += f" AND at < {mark}"
        params.append(bulk.param(store.dialect, before))
    with store._tx("reading a checkpoint") as tx:
        row = tx.run(sql + " ORDER BY at DESC LIMIT 1", params).fetchone()
    return None if row is None else (bulk.read_time(store.dialect, row[0]), json.loads(row[1]))  # type: ignore[return-value]


def correlated(store: Store, pairs: Sequence[str]) -> set[str]:
    """Which of these pairs have a correlated state in the store."""
    return _pairs_in(store, ("pair_state",), pairs, "reading pair states")


def with_outputs(store: Store, pairs: Sequence[str]) -> set[str]:
    """Which of these pairs have anything the correlator wrote (failovers, transitions, alerts,
    checkpoints): the others have nothing to take back and no checkpoint to resume from."""
    return _pairs_in(store, ("failovers", "transitions", "alerts", "checkpoints"), pairs, "reading correlator outputs")


def _pairs_in(store: Store, tables: Sequence[str], pairs: Sequence[str], what: str) -> set[str]:
    """Which of `pairs` have a row in any of `tables` (500 names a query)."""
    out: set[str] = set()
    with store._tx(what) as tx:
        for i in range(0, len(pairs), 500):
            part = list(pairs[i : i + 500])
            marks = bulk.marks(tx.dialect, len(part))
            for t in tables:
                out.update(
                    r[0] for r in tx.run(f"SELECT DISTINCT pair FROM {t} WHERE pair IN ({marks})", part).fetchall()
                )
    return out


def reset_outputs(store: Store, pair: str, since: dt.datetime | None) -> None:
    """Take back everything the correlator decided for a pair after `since` (everything when None)."""
    with store._tx("resetting correlator outputs") as tx:
        mark = bulk.placeholder(tx.dialect)
        if since is None:
            for t in ("failovers", "transitions", "alerts", "checkpoints"):
                tx.run(f"DELETE FROM {t} WHERE pair = {mark}", (pair,))
            return
        after = (pair, bulk.param(tx.dialect, since))
        for t in ("failovers", "transitions", "alerts"):
            tx.run(f"DELETE FROM {t} WHERE pair = {mark} AND emitted_at > {mark}", after)
        tx.run(
            "UPDATE alerts SET ended_at = NULL, resolve_evidence = NULL, resolved_emitted_at = NULL "
            f"WHERE pair = {mark} AND resolved_emitted_at > {mark}",
            after,
        )
        tx.run(f"DELETE FROM checkpoints WHERE pair = {mark} AND at > {mark}", after)


def write_outputs(
    store: Store,
    pair: str,
    outputs: Sequence[Output],
    new_checkpoints: Sequence[tuple[dt.datetime, dict[str, Any]]],
    snapshot: PairSnapshot,
) -> None:
    """Store one correlation run of a pair in one transaction."""
    write_runs(store, [(pair, outputs, new_checkpoints, snapshot)])


Run = tuple[str, Sequence[Output], Sequence[tuple[dt.datetime, dict[str, Any]]], PairSnapshot]


def write_alert_changes(store: Store, changes: Sequence[Output]) -> None:
    """Alerts opened and resolved outside a correlation run (pair_silent, decided on the wall clock)."""
    opens = [_alert_row(o) for o in changes if isinstance(o, AlertOpen)]
    closes = [o for o in changes if isinstance(o, AlertResolve)]
    with store._tx("storing alerts") as tx:
        bulk.write(tx, "alerts", opens, ["alert_id"])
        mark = bulk.placeholder(tx.dialect)
        for c in closes:
            tx.run(
                f"UPDATE alerts SET ended_at = {mark}, resolve_evidence = '[]', resolved_emitted_at = {mark} "
                f"WHERE alert_id = {mark} AND ended_at IS NULL",
                (bulk.param(tx.dialect, c.ended_at), bulk.param(tx.dialect, c.emitted_at), c.alert_id),
            )


def write_runs(store: Store, runs: Sequence[Run]) -> None:
    """Store the correlation runs of several pairs (a live tick's) in one transaction, each kind of
    row in one statement."""
    if not runs:
        return
    fos: list[dict[str, Any]] = []
    trs: list[dict[str, Any]] = []
    opens: list[dict[str, Any]] = []
    updates: list[AlertUpdate] = []
    closes: list[AlertResolve] = []
    cks: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for pair, outputs, new_checkpoints, snapshot in runs:
        # A failover refined in place comes again with the same id: the last word of a run is kept,
        # and it replaces what an earlier run stored (one row per id in a statement).
        latest = {o.failover_id: o for o in outputs if isinstance(o, Failover)}
        fos += [_failover_row(o) for o in latest.values()]
        trs += [_transition_row(o) for o in outputs if isinstance(o, Transition)]
        opens += [_alert_row(o) for o in outputs if isinstance(o, AlertOpen)]
        updates += [o for o in outputs if isinstance(o, AlertUpdate)]
        closes += [o for o in outputs if isinstance(o, AlertResolve)]
        cks += [{"pair": pair, "at": at, "state": json.dumps(st, separators=(",", ":"))} for at, st in new_checkpoints]
        states.append(
            {
                "pair": pair,
                "mode": snapshot.mode,
                "units": json.dumps(snapshot.units, sort_keys=True),
                "groups": json.dumps(snapshot.groups, sort_keys=True),
                "failover_link": snapshot.failover_link,
                "state_link": snapshot.state_link,
                "last_failover_at": snapshot.last_failover_at,
                "last_event_at": snapshot.last_event_at,
            }
        )
    with store._tx("storing correlator outputs") as tx:
        # A failover refined in place replaces what an earlier run (a live tick, a chunk of a
        # pair's events) stored of it, when it was decided included: the last word, as in one run.
        refined = ("at", "previous_active", "cause", "cause_text", "detection_s", "evidence", "emitted_at")
        bulk.write(tx, "failovers", fos, ["failover_id"], refined)
        bulk.write(tx, "transitions", trs, ["transition_id"])
        bulk.write(tx, "alerts", opens, ["alert_id"])
        bulk.update(  # few: a refined failover's alert
            tx,
            "alerts",
            [
                {
                    "alert_id": u.alert_id,
                    "started_at": u.started_at,
                    "detail": u.detail,
                    "evidence": json.dumps(list(u.evidence)),
                }
                for u in updates
            ],
            "alert_id",
        )
        bulk.update(
            tx,
            "alerts",
            [
                {
                    "alert_id": c.alert_id,
                    "ended_at": c.ended_at,
                    "resolve_evidence": json.dumps(list(c.evidence)),
                    "resolved_emitted_at": c.emitted_at,
                }
                for c in closes
            ],
            "alert_id",
        )
        bulk.write(tx, "checkpoints", cks, ["pair", "at"])
        touched = sorted({c["pair"] for c in cks})
        for i in range(0, len(touched), 500):  # each pair keeps its newest KEEP_CHECKPOINTS: one statement
            part = touched[i : i + 500]
            tx.run(_PRUNE_CHECKPOINTS.format(marks=bulk.marks(tx.dialect, len(part)), keep=KEEP_CHECKPOINTS), part)
        bulk.write(tx, "pair_state", states, ["pair"], [k for k in states[0] if k != "pair"])


_PRUNE_CHECKPOINTS = (
    "DELETE FROM checkpoints WHERE (pair, at) IN (SELECT pair, at FROM (SELECT pair, at, row_number() OVER "
    "(PARTITION BY pair ORDER BY at DESC) AS n FROM checkpoints WHERE pair IN ({marks})) AS ranked WHERE n > {keep})"
)


def failover_list(
    store: Store, *, pair: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Failovers in time order, as documented JSON objects."""
    from sqlalchemy import select

    from hamon.store.db import in_range
    from hamon.store.schema import failovers

    q = in_range(select(failovers), failovers, pair, since, until).order_by(
        failovers.c.at, failovers.c.pair, failovers.c.grp
    )
    with store._begin("reading failovers") as conn:
        rows = list(conn.execute(q))
    return [{**_failover(r).to_json(), "evidence": json.loads(r.evidence)} for r in rows]


def _failover(r: Any) -> Failover:
    return Failover(
        r.pair, r.grp, r.at, r.new_active, r.previous_active, r.cause, r.cause_text, r.detection_s, (), r.emitted_at
    )


@dataclass(frozen=True)
class AlertRecord:
    """A stored alert with its lifecycle and the events behind it."""

    alert_id: str
    pair: str
    kind: str
    severity: str
    group: int | None
    unit: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    detail: str
    evidence: tuple[str, ...]

    @classmethod
    def from_row(cls, r: Any) -> AlertRecord:
        evidence = json.loads(r.evidence) + (json.loads(r.resolve_evidence) if r.resolve_evidence else [])
        return cls(
            r.alert_id, r.pair, r.kind, r.severity, r.grp, r.unit, r.started_at, r.ended_at, r.detail, tuple(evidence)
        )

    def to_json(self) -> dict[str, Any]:
        """The documented alert JSON (`alert_id` and `evidence` shown with `--evidence`)."""
        return {
            "pair": self.pair,
            "kind": self.kind,
            "severity": self.severity,
            "group": self.group,
            "unit": self.unit,
            "started_at": iso(self.started_at),
            "ended_at": None if self.ended_at is None else iso(self.ended_at),
            "detail": self.detail,
            "alert_id": self.alert_id,
            "evidence": list(self.evidence),
        }


def alert_records(store: Store, alert_ids: Sequence[str]) -> list[AlertRecord]:
    """Alerts by id, ordered by start."""
    from sqlalchemy import select

    from hamon.store.schema import alerts

    if not alert_ids:
        return []
    q = select(alerts).where(alerts.c.alert_id.in_(sorted(set(alert_ids))))
    with store._begin("reading alerts") as conn:
        rows = [AlertRecord.from_row(r) for r in conn.execute(q)]
    return sorted(rows, key=lambda a: (a.started_at, a.alert_id))


def alert_list(
    store: Store,
    *,
    pair: str | None = None,
    open_only: bool = False,
    kind: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Alerts ordered by start, as documented JSON objects (with their evidence event ids and their
    acknowledgement, if any)."""
    from sqlalchemy import or_, select

    from hamon.store.schema import alert_acks, alerts

    a = alert_acks
    q = select(alerts, a.c.acked_at, a.c.acked_by, a.c.comment.label("ack_comment")).outerjoin(
        a, a.c.alert_id == alerts.c.alert_id
    )
    if pair is not None:
        q = q.where(alerts.c.pair == pair)
    if open_only:
        q = q.where(alerts.c.ended_at.is_(None))
    if kind is not None:
        q = q.where(alerts.c.kind == kind)
    if since is not None:
        q = q.where(or_(alerts.c.ended_at.is_(None), alerts.c.ended_at >= since))
    if until is not None:
        q = q.where(alerts.c.started_at < until)
    q = q.order_by(alerts.c.started_at, alerts.c.pair, alerts.c.kind, alerts.c.alert_id)
    with store._begin("reading alerts") as conn:
        return [
            AlertRecord.from_row(r).to_json()
            | {
                "ack": None
                if r.acked_at is None
                else {"at": iso(r.acked_at), "by": r.acked_by, "comment": r.ack_comment}
            }
            for r in conn.execute(q)
        ]


def latest_failover_pair(store: Store) -> str | None:
    """The pair of the newest failover."""
    from sqlalchemy import select

    from hamon.store.schema import failovers

    with store._begin("reading failovers") as conn:
        return conn.execute(select(failovers.c.pair).order_by(failovers.c.at.desc()).limit(1)).scalar()


def last_event_times(store: Store, pair: str | None = None) -> dict[str, dt.datetime | None]:
    """Per correlated pair, the time of its last event."""
    from sqlalchemy import select

    from hamon.store.schema import pair_state

    q = select(pair_state.c.pair, pair_state.c.last_event_at)
    if pair is not None:
        q = q.where(pair_state.c.pair == pair)
    with store._begin("reading pairs") as conn:
        return {r.pair: r.last_event_at for r in conn.execute(q)}


def transition_list(
    store: Store, *, pair: str, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """State transitions of a pair's units (and groups) in time order."""
    from sqlalchemy import select

    from hamon.store.db import in_range
    from hamon.store.schema import transitions

    q = in_range(select(transitions), transitions, pair, since, until).order_by(
        transitions.c.at, transitions.c.grp, transitions.c.unit, transitions.c.transition_id
    )
    with store._begin("reading transitions") as conn:
        rows = _chained(list(conn.execute(q)))
    return [
        {
            "group": r.grp,
            "unit": r.unit,
            "at": iso(r.at),
            "from": r.from_state,
            "to": r.to_state,
            "cause": r.cause,
            "cause_text": r.cause_text,
            "evidence": json.loads(r.evidence),
        }
        for r in rows
    ]


def _chained(rows: list[Any]) -> list[Any]:
    """Within one instant, a unit's transitions in the order they follow each other (a → b → c)."""
    out: list[Any] = []
    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and rows[j].at == rows[i].at:
            j += 1
        remaining = rows[i:j]
        while remaining:
            targets = {(r.grp, r.unit, r.to_state) for r in remaining}
            head = next((r for r in remaining if (r.grp, r.unit, r.from_state) not in targets), remaining[0])
            out.append(head)
            remaining.remove(head)
        i = j
    return out


def pair_list(store: Store, pair: str | None = None) -> list[dict[str, Any]]:
    """Every correlated pair with its current state, as documented JSON objects."""
    from sqlalchemy import and_, func, select

    from hamon.store.schema import alerts, pair_state, polls

    open_alerts = (
        select(alerts.c.pair, func.count().label("n")).where(alerts.c.ended_at.is_(None)).group_by(alerts.c.pair)
    ).subquery()
    silent = (
        select(alerts.c.pair, func.min(alerts.c.started_at).label("since"))
        .where(alerts.c.ended_at.is_(None), alerts.c.kind == "pair_silent")
        .group_by(alerts.c.pair)
    ).subquery()
    q = (
        select(pair_state, func.coalesce(open_alerts.c.n, 0).label("open_alerts"), silent.c.since.label("silent_since"))
        .outerjoin(open_alerts, and_(open_alerts.c.pair == pair_state.c.pair))
        .outerjoin(silent, and_(silent.c.pair == pair_state.c.pair))
    )
    if pair is not None:
        q = q.where(pair_state.c.pair == pair)
    q = q.order_by(pair_state.c.pair)
    with store._begin("reading pairs") as conn:
        rows = list(conn.execute(q))
        polled: dict[str, dict[str, Any]] = {}
        for p in conn.execute(select(polls).order_by(polls.c.pair, polls.c.unit)):
            polled.setdefault(p.pair, {})[p.unit] = _polled(p)
    return [
        {
            "pair": r.pair,
            "mode": r.mode,
            "units": json.loads(r.units),
            "groups": json.loads(r.groups),
            "failover_link": r.failover_link,
            "state_link": r.state_link,
            "open_alerts": int(r.open_alerts),
            "last_failover_at": None if r.last_failover_at is None else iso(r.last_failover_at),
            "polled": polled.get(r.pair, {}),
            "silent_since": None if r.silent_since is None else iso(r.silent_since),
        }
        for r in rows
    ]


def poll_sources(store: Store, pair: str) -> dict[str, str]:
    """Per unit of a pair, the address its last poll reached (where `show failover` said This host
    is that unit)."""
    from sqlalchemy import select

    from hamon.store.schema import polls

    q = select(polls.c.unit, polls.c.source).where(polls.c.pair == pair)
    with store._begin("reading polls") as conn:
        return {r.unit: r.source for r in conn.execute(q)}


POLL_FIELDS = ("failover_link", "state_link", "hosts", "host_interfaces", "last_failover_at", "warnings")


def _polled(row: Any) -> dict[str, Any]:
    """What `hamon pairs --json` shows of a unit's last poll."""
    doc = json.loads(row.document)
    return {"polled_at": iso(row.polled_at), "source": row.source, **{k: doc.get(k) for k in POLL_FIELDS}}


def _failover_row(f: Failover) -> dict[str, Any]:
    return {
        "failover_id": f.failover_id,
        "pair": f.pair,
        "grp": f.group,
        "at": f.at,
        "new_active": f.new_active,
        "previous_active": f.previous_active,
        "cause": f.cause,
        "cause_text": f.cause_text,
        "detection_s": f.detection_s,
        "evidence": json.dumps(list(f.evidence)),
        "emitted_at": f.emitted_at,
    }


def _transition_row(t: Transition) -> dict[str, Any]:
    return {
        "transition_id": t.transition_id,
        "pair": t.pair,
        "grp": t.group,
        "unit": t.unit,
        "at": t.at,
        "from_state": t.from_state,
        "to_state": t.to_state,
        "cause": t.cause,
        "cause_text": t.cause_text,
        "evidence": json.dumps(list(t.evidence)),
        "emitted_at": t.emitted_at,
    }


def _alert_row(a: AlertOpen) -> dict[str, Any]:
    return {
        "alert_id": a.alert_id,
        "pair": a.pair,
        "kind": a.kind,
        "severity": a.severity,
        "grp": a.group,
        "unit": a.unit,
        "started_at": a.started_at,
        "ended_at": None,
        "detail": a.detail,
        "evidence": json.dumps(list(a.evidence)),
        "resolve_evidence": None,
        "emitted_at": a.emitted_at,
        "resolved_emitted_at": None,
    }
