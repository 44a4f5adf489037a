"""Status of running services: `hamon serve` writes it every few seconds, `hamon status` reads it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from hamon.store.db import Store
from hamon.store.schema import alerts, service_status


@dataclass(frozen=True)
class ServiceStatus:
    """One service's last word: when it started and last wrote, where it listens, its counters."""

    name: str
    pid: int
    started_at: dt.datetime
    updated_at: dt.datetime
    listeners: list[dict[str, Any]]
    counters: dict[str, Any]


def write_status(store: Store, status: ServiceStatus) -> None:
    """Replace a service's status row."""
    row = {
        "name": status.name,
        "pid": status.pid,
        "started_at": status.started_at,
        "updated_at": status.updated_at,
        "listeners": json.dumps(status.listeners),
        "counters": json.dumps(status.counters),
    }
    ins = store._insert(service_status)
    with store._begin("writing the service status") as conn:
        conn.execute(
            ins.on_conflict_do_update(index_elements=["name"], set_={k: ins.excluded[k] for k in row if k != "name"}),
            [row],
        )


def read_status(store: Store) -> list[ServiceStatus]:
    """Every service that has written a status, by name."""
    with store._begin("reading the service status") as conn:
        rows = list(conn.execute(select(service_status).order_by(service_status.c.name)))
    return [
        ServiceStatus(r.name, r.pid, r.started_at, r.updated_at, json.loads(r.listeners), json.loads(r.counters))
        for r in rows
    ]


def open_alerts_by_pair(store: Store) -> list[tuple[str, int]]:
    """(pair, open alerts) for the pairs that have any."""
    q = (
        select(alerts.c.pair, func.count().label("n"))
        .where(alerts.c.ended_at.is_(None))
        .group_by(alerts.c.pair)
        .order_by(alerts.c.pair)
    )
    with store._begin("reading open alerts") as conn:
        return [(r.pair, int(r.n)) for r in conn.execute(q)]
