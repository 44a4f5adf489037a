"""Silences and the notification log: what the notification stages read and write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from hamon.model import iso
from hamon.store.db import Store
from hamon.store.schema import alert_acks, alerts, notifications, silences


@dataclass(frozen=True)
class Silence:
    """Notifications of a pair and/or kind muted from `starts_at` until `expires_at` (unless removed)."""

    silence_id: int
    pair: str | None
    kind: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    comment: str
    starts_at: dt.datetime | None = None  # None: from created_at
    removed_at: dt.datetime | None = None
    created_by: str | None = None

    @property
    def start(self) -> dt.datetime:
        return self.starts_at or self.created_at

    def state(self, now: dt.datetime) -> str:
        """removed, expired, scheduled (a maintenance window to come) or active."""
        if self.removed_at is not None:
            return "removed"
        if self.expires_at <= now:
            return "expired"
        return "scheduled" if self.start > now else "active"

    def to_json(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """The documented `hamon silence list --json` shape."""
        return {
            "id": self.silence_id,
            "pair": self.pair,
            "kind": self.kind,
            "created_at": iso(self.created_at),
            "starts_at": iso(self.start),
            "expires_at": iso(self.expires_at),
            "comment": self.comment,
            "created_by": self.created_by,
            "removed_at": None if self.removed_at is None else iso(self.removed_at),
            "state": self.state(now or dt.datetime.now(dt.UTC)),
        }

    def mutes(self, pair: str, kind: str) -> bool:
        return (self.pair is None or self.pair == pair) and (self.kind is None or self.kind == kind)

    @classmethod
    def from_row(cls, r: Any) -> Silence:
        return cls(
            r.silence_id, r.pair, r.kind, r.created_at, r.expires_at, r.comment, r.starts_at, r.removed_at, r.created_by
        )


def add_silence(
    store: Store,
    pair: str | None,
    kind: str | None,
    created_at: dt.datetime,
    expires_at: dt.datetime,
    comment: str,
    *,
    starts_at: dt.datetime | None = None,
    created_by: str | None = None,
) -> Silence:
    """Store a new silence (a maintenance window when `starts_at` is later) and return it with its id."""
    with store._begin("adding a silence") as conn:
        key = conn.execute(
            silences.insert().values(
                pair=pair,
                kind=kind,
                created_at=created_at,
                expires_at=expires_at,
                comment=comment,
                starts_at=starts_at,
                created_by=created_by,
            )
        ).inserted_primary_key
    return Silence(int(key[0]) if key else 0, pair, kind, created_at, expires_at, comment, starts_at, None, created_by)


def silence_list(store: Store, *, active_at: dt.datetime | None = None) -> list[Silence]:
    """Silences by id; with `active_at`, only those in force then (started, not expired, not removed)."""
    q = select(silences).order_by(silences.c.silence_id)
    if active_at is not None:
        q = q.where(
            silences.c.expires_at > active_at,
            silences.c.removed_at.is_(None),
            or_(silences.c.starts_at.is_(None), silences.c.starts_at <= active_at),
        )
    with store._begin("reading silences") as conn:
        return [Silence.from_row(r) for r in conn.execute(q)]


def remove_silence(store: Store, silence_id: int, at: dt.datetime | None = None) -> bool:
    """End a silence now; it stays listed (`--all`) as removed. False when there is none in force
    or to come with that id."""
    at = at or dt.datetime.now(dt.UTC)
    with store._begin("removing a silence") as conn:
        done = conn.execute(
            update(silences)
            .where(silences.c.silence_id == silence_id, silences.c.removed_at.is_(None))
            .values(removed_at=at)
        )
        return bool(done.rowcount)


@dataclass(frozen=True)
class Ack:
    """Someone said they are on it: who, when, why."""

    alert_id: str
    acked_at: dt.datetime
    acked_by: str
    comment: str

    def to_json(self) -> dict[str, Any]:
        return {"at": iso(self.acked_at), "by": self.acked_by, "comment": self.comment}


def ack_alert(store: Store, alert_id: str, by: str, comment: str, at: dt.datetime) -> Ack:
    """Acknowledge an alert (again: the newest word replaces the earlier one)."""
    row = {"alert_id": alert_id, "acked_at": at, "acked_by": by, "comment": comment}
    ins = store._insert(alert_acks)
    with store._begin("acknowledging an alert") as conn:
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=["alert_id"], set_={k: ins.excluded[k] for k in row if k != "alert_id"}
            ),
            [row],
        )
    return Ack(alert_id, at, by, comment)


def acks_of(store: Store, alert_ids: Sequence[str] | None = None) -> dict[str, Ack]:
    """The acknowledgements of these alerts (all when None), by alert id."""
    q = select(alert_acks)
    if alert_ids is not None:
        if not alert_ids:
            return {}
        q = q.where(alert_acks.c.alert_id.in_(sorted(set(alert_ids))))
    with store._begin("reading acknowledgements") as conn:
        return {r.alert_id: Ack(r.alert_id, r.acked_at, r.acked_by, r.comment) for r in conn.execute(q)}


def alert_ids_like(store: Store, prefix: str) -> list[str]:
    """Alert ids beginning with `prefix` (as `git` takes a commit by the start of its hash)."""
    with store._begin("finding an alert") as conn:
        q = select(alerts.c.alert_id).where(alerts.c.alert_id.like(prefix.lower() + "%")).limit(10)
        return [r[0] for r in conn.execute(q)]


def notified(store: Store, alert_id: str, state: str, target: str) -> bool:
    """Whether this opening or resolution was sent to this target already."""
    q = select(notifications.c.alert_id).where(
        notifications.c.alert_id == alert_id, notifications.c.state == state, notifications.c.target == target
    )
    with store._begin("reading the notification log") as conn:
        return conn.execute(q).first() is not None


KNOWN = "known"  # the log's row (alert id "") saying since when a target has been sent to


def known_since(store: Store, target: str, now: dt.datetime) -> dt.datetime | None:
    """Since when this target has been a notification target (None: new now, recorded as of `now`)."""
    q = select(notifications.c.sent_at).where(
        notifications.c.alert_id == "", notifications.c.state == KNOWN, notifications.c.target == target
    )
    with store._begin("reading the notification log") as conn:
        row = conn.execute(q).first()
    if row is not None:
        return row[0]  # type: ignore[no-any-return]
    log_notification(store, "", KNOWN, target, now)
    return None


def unsent(store: Store, target: str, since: dt.datetime) -> list[str]:
    """Alerts opened or resolved since `since` whose opening or resolution this target has no record of."""
    from sqlalchemy import and_, exists

    def sent(state: str) -> Any:
        return exists().where(
            notifications.c.alert_id == alerts.c.alert_id,
            notifications.c.state == state,
            notifications.c.target == target,
        )

    q = (
        select(alerts.c.alert_id)
        .where(
            or_(
                and_(alerts.c.started_at >= since, ~sent("firing")),
                and_(alerts.c.ended_at.is_not(None), alerts.c.ended_at >= since, ~sent("resolved")),
            )
        )
        .order_by(alerts.c.started_at, alerts.c.alert_id)
    )
    with store._begin("reading the notification log") as conn:
        return [r[0] for r in conn.execute(q)]


def log_notification(store: Store, alert_id: str, state: str, target: str, sent_at: dt.datetime) -> None:
    """Record a sent message (once per alert, state and target)."""
    ins = store._insert(notifications).on_conflict_do_nothing(index_elements=["alert_id", "state", "target"])
    with store._begin("writing the notification log") as conn:
        conn.execute(ins, [{"alert_id": alert_id, "state": state, "target": target, "sent_at": sent_at}])
