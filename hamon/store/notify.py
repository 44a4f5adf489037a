"""Silences and the notification log: what the notification stages read and write."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from hamon.model import iso
from hamon.store.db import Store
from hamon.store.schema import notifications, silences


@dataclass(frozen=True)
class Silence:
    """Notifications of a pair and/or kind muted until `expires_at`."""

    silence_id: int
    pair: str | None
    kind: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    comment: str

    def to_json(self) -> dict[str, Any]:
        """The documented `hamon silence list --json` shape."""
        return {
            "id": self.silence_id,
            "pair": self.pair,
            "kind": self.kind,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "comment": self.comment,
        }

    def mutes(self, pair: str, kind: str) -> bool:
        return (self.pair is None or self.pair == pair) and (self.kind is None or self.kind == kind)

    @classmethod
    def from_row(cls, r: Any) -> Silence:
        return cls(r.silence_id, r.pair, r.kind, r.created_at, r.expires_at, r.comment)


def add_silence(
    store: Store, pair: str | None, kind: str | None, created_at: dt.datetime, expires_at: dt.datetime, comment: str
) -> Silence:
    """Store a new silence and return it with its id."""
    with store._begin("adding a silence") as conn:
        key = conn.execute(
            silences.insert().values(
                pair=pair, kind=kind, created_at=created_at, expires_at=expires_at, comment=comment
            )
        ).inserted_primary_key
    return Silence(int(key[0]) if key else 0, pair, kind, created_at, expires_at, comment)


def silence_list(store: Store, *, active_at: dt.datetime | None = None) -> list[Silence]:
    """Silences by id; with `active_at`, only those still in force then."""
    q = select(silences).order_by(silences.c.silence_id)
    if active_at is not None:
        q = q.where(silences.c.expires_at > active_at)
    with store._begin("reading silences") as conn:
        return [Silence.from_row(r) for r in conn.execute(q)]


def remove_silence(store: Store, silence_id: int) -> bool:
    """Remove a silence; False when there was none with that id."""
    with store._begin("removing a silence") as conn:
        return bool(conn.execute(delete(silences).where(silences.c.silence_id == silence_id)).rowcount)


def notified(store: Store, alert_id: str, state: str, target: str) -> bool:
    """Whether this opening or resolution was sent to this target already."""
    q = select(notifications.c.alert_id).where(
        notifications.c.alert_id == alert_id, notifications.c.state == state, notifications.c.target == target
    )
    with store._begin("reading the notification log") as conn:
        return conn.execute(q).first() is not None


def log_notification(store: Store, alert_id: str, state: str, target: str, sent_at: dt.datetime) -> None:
    """Record a sent message (once per alert, state and target)."""
    ins = store._insert(notifications).on_conflict_do_nothing(index_elements=["alert_id", "state", "target"])
    with store._begin("writing the notification log") as conn:
        conn.execute(ins, [{"alert_id": alert_id, "state": state, "target": target, "sent_at": sent_at}])
