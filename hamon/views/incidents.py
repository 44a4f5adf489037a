"""Incident timelines: a pair's transitions, failovers, alerts and evidence events, grouped.

An incident is a run of related happenings: it starts with the first of them and goes on while
more follow within GAP of each other or while an alert of it is open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hamon.model import cause_words, iso
from hamon.store import outputs
from hamon.store.db import Store

GAP = dt.timedelta(minutes=5)
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass
class Entry:
    """One line of an incident."""

    at: dt.datetime
    type: str  # event | transition | failover | alert_open | alert_resolved
    text: str
    unit: str | None = None
    group: int | None = None
    ref: str | None = None  # event id or alert id

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "type": self.type,
            "unit": self.unit,
            "group": self.group,
            "text": self.text,
            "ref": self.ref,
        }


@dataclass
class Incident:
    """Related happenings of one pair."""

    started_at: dt.datetime
    ended_at: dt.datetime
    entries: list[Entry] = field(default_factory=list)
    failovers: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    open_until: dt.datetime | None = None

    @property
    def severity(self) -> str | None:
        levels = sorted((a["severity"] for a in self.alerts), key=lambda s: SEVERITY_ORDER.get(s, 9))
        return levels[0] if levels else None

    @property
    def title(self) -> str:
        if self.failovers:
            parts = [
                f"failover to {f['new_active']}"
                + (f" (group {f['group']})" if f["group"] else "")
                + f": {cause_words(f['cause'])}"
                for f in self.failovers
            ]
            return "; ".join(parts)
        if self.alerts:
            return ", ".join(sorted({a["kind"].replace("_", " ") for a in self.alerts}))
        kinds = sorted({e.type for e in self.entries})
        return "state changes" if "transition" in kinds else "failover messages"

    def to_json(self) -> dict[str, Any]:
        still_open = any(a["ended_at"] is None for a in self.alerts)
        return {
            "started_at": iso(self.started_at),
            "ended_at": None if still_open else iso(self.ended_at),
            "duration_s": round((self.ended_at - self.started_at).total_seconds(), 3),
            "severity": self.severity,
            "title": self.title,
            "failovers": self.failovers,
            "alerts": self.alerts,
            "entries": [e.to_json() for e in self.entries],
        }


def _alert_order(a: dict[str, Any]) -> tuple[Any, ...]:
    """Alerts by start, the most severe first among those that start together: the same order
    every time (never the order of a set)."""
    return (
        a["started_at"],
        SEVERITY_ORDER.get(a["severity"], 9),
        a["kind"],
        a["unit"] or "",
        a["group"] or 0,
        a["alert_id"],
    )


def parse_at(s: str) -> dt.datetime:
    """A time as the listings write it (`…Z`) back to a datetime."""
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def build(
    store: Store, pair: str, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> tuple[list[Incident], list[dict[str, Any]]]:
    """The incidents of a pair in a time range, and its transitions (for drawing the states)."""
    events = store.events(pair=pair, since=since, until=until)
    fos = [
        {k: v for k, v in f.items() if k != "evidence"}
        for f in outputs.failover_list(store, pair=pair, since=since, until=until)
    ]
    trs = outputs.transition_list(store, pair=pair, since=since, until=until)
    als = outputs.alert_list(store, pair=pair, since=since, until=until)
    entries: list[Entry] = []
    for e in events:
        entries.append(
            Entry(e.at, "event", f"{e.msg_id} {e.text}", e.unit.value if e.unit else None, e.group, e.event_id)
        )
    for n, t in enumerate(trs):  # trs is in the order the states followed each other
        # A role with no cause of its own says why hamon holds it ("its mate took over: …").
        why = t.get("cause_text") if t["cause"] == "unknown" and t.get("cause_text") else t["cause"]
        entries.append(
            Entry(
                parse_at(t["at"]),
                "transition",
                f"{t['unit']}: {t['from']} → {t['to']} ({why})",
                t["unit"],
                t["group"],
                f"{n:08d}",
            )
        )
    for f in fos:
        text = f"FAILOVER {f['previous_active'] or '?'} → {f['new_active']}: {cause_words(f['cause'])}"
        if f["detection_s"] is not None:
            text += f", detected in {f['detection_s']:.1f}s"
        entries.append(Entry(parse_at(f["at"]), "failover", text, f["new_active"], f["group"]))
    last_event = max((e.at for e in events), default=None)
    for a in als:
        entries.append(
            Entry(
                parse_at(a["started_at"]),
                "alert_open",
                f"{a['severity'].upper()} {a['kind']}: {a['detail']}",
                a["unit"],
                a["group"],
                a["alert_id"],
            )
        )
        if a["ended_at"]:
            entries.append(
                Entry(
                    parse_at(a["ended_at"]),
                    "alert_resolved",
                    f"resolved {a['kind']}",
                    a["unit"],
                    a["group"],
                    a["alert_id"],
                )
            )
    order = {"event": 0, "alert_open": 1, "transition": 2, "failover": 3, "alert_resolved": 4}
    entries.sort(key=lambda x: (x.at, order[x.type], x.ref if x.type == "transition" else x.text))
    alert_end = {
        a["alert_id"]: parse_at(a["ended_at"]) if a["ended_at"] else (last_event or parse_at(a["started_at"]))
        for a in als
    }
    incidents: list[Incident] = []
    for entry in entries:
        current = incidents[-1] if incidents else None
        horizon = None
        if current is not None:
            horizon = max(current.ended_at, current.open_until or current.ended_at) + GAP
        if current is None or horizon is None or entry.at > horizon:
            current = Incident(entry.at, entry.at)
            incidents.append(current)
        current.entries.append(entry)
        current.ended_at = max(current.ended_at, entry.at)
        if entry.type == "alert_open" and entry.ref:
            end = alert_end[entry.ref]
            current.open_until = max(current.open_until or end, end)
    by_id = {a["alert_id"]: a for a in als}
    for inc in incidents:
        fo_times = {e.at for e in inc.entries if e.type == "failover"}
        inc.failovers = [f for f in fos if parse_at(f["at"]) in fo_times]
        ids = {e.ref for e in inc.entries if e.type == "alert_open"}
        inc.alerts = [
            {k: v for k, v in by_id[i].items() if k not in ("evidence",)}
            for i in sorted(ids, key=lambda i: _alert_order(by_id[i]))
        ]
    return incidents, trs
