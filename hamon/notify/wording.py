"""What a notification says: one sentence an engineer paged at night can act on, then the context.

    fw-edge: primary FAILED — secondary active since 10:00:13Z (HELLO not heard from mate, detected in 15s)
    now: primary failed, secondary active
    started: 2026-11-25T10:00:13Z (4m50s ago)
    dashboard: https://grafana.example/d/hamon-pair?var-pair=fw-edge
    runbook: https://wiki.example/fw-edge
    alert: 3f0c1a2b… (acknowledge: hamon alerts ack 3f0c1a2b)

The sentence is read from what the store holds of the pair (its failovers and current state) and
the inventory (runbook, unit addresses); nothing is invented when they are missing.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass
from typing import Any

from hamon.model import iso
from hamon.resolve.inventory import Inventory
from hamon.store.db import Store
from hamon.store.outputs import AlertRecord, failover_list, pair_list

OTHER = {"primary": "secondary", "secondary": "primary"}


def human(seconds: float) -> str:
    """4m50s, 15s, 2h03m, 3d04h."""
    s = round(max(seconds, 0.0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def clock(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%H:%M:%SZ")


@dataclass(frozen=True)
class Wording:
    """Where the words come from besides the store: the inventory and hamon's Grafana."""

    inventory: Inventory | None = None
    external_url: str | None = None

    def describe(self, store: Store, a: AlertRecord, state: str, now: dt.datetime) -> tuple[str, tuple[str, ...]]:
        """(headline, context lines) of an alert's notice in `state` (firing, resolved, repeat N)."""
        pair = next(iter(pair_list(store, a.pair)), None)
        fo = _failover_of(store, a)
        scope = ", ".join(x for x in (a.unit, f"group {a.group}" if a.group else None) if x)
        what = a.kind.replace("_", " ") + (f" ({scope})" if scope else "")
        if state == "resolved" and a.ended_at is not None:
            head = f"{a.pair}: RESOLVED after {human((a.ended_at - a.started_at).total_seconds())} — {what}"
        else:
            head = _firing(a, fo, what)
            if state.startswith("repeat"):
                head += f" — still open after {human((now - a.started_at).total_seconds())}"
        lines = []
        if pair is not None:
            lines.append("now: " + _state_words(pair))
        lines.append(f"started: {iso(a.started_at)} ({human((now - a.started_at).total_seconds())} ago)")
        if a.ended_at is not None and state == "resolved":
            lines.append(f"ended: {iso(a.ended_at)}")
        if self.external_url:
            base = self.external_url.rstrip("/")
            lines.append(f"dashboard: {base}/d/hamon-pair?var-pair={urllib.parse.quote(a.pair)}")
        cfg = self.inventory.pair(a.pair) if self.inventory else None
        if cfg is not None and cfg.runbook:
            lines.append(f"runbook: {cfg.runbook}")
        if cfg is not None and (cfg.poll or cfg.snmp_poll):
            lines.append("units: " + ", ".join(dict.fromkeys((*cfg.poll, *cfg.snmp_poll))))
        lines.append(f"alert: {a.alert_id} (acknowledge: hamon alerts ack {a.alert_id[:8]})")
        return head, tuple(lines)


def _firing(a: AlertRecord, fo: dict[str, Any] | None, what: str) -> str:
    since = clock(a.started_at)
    group = f" group {a.group}" if a.group else ""
    if a.kind == "unit_failed" and a.unit:
        took = ""
        if fo is not None and fo["new_active"] == OTHER.get(a.unit):
            took = f" — {fo['new_active']} active since {clock(dt.datetime.fromisoformat(fo['at']))}{_why(fo)}"
        return f"{a.pair}: {a.unit}{group} FAILED{took or f' since {since}'}"
    if a.kind in ("failover", "slow_failover") and fo is not None:
        word = "slow failover" if a.kind == "slow_failover" else "failover"
        return f"{a.pair}: {word}{group} — {fo['new_active']} active since {since}{_why(fo, fo.get('previous_active'))}"
    if a.kind == "split_brain":
        return f"{a.pair}: SPLIT-BRAIN{group} — both units active since {since}: {a.detail}"
    if a.kind in ("failover_link_down", "state_link_down"):
        link = "failover" if a.kind == "failover_link_down" else "state"
        return f"{a.pair}: {link} link DOWN since {since} — {a.detail}"
    return f"{a.pair}: {what} since {since} — {a.detail}"


def _why(fo: dict[str, Any], was: str | None = None) -> str:
    """` (was primary; HELLO not heard from mate, detected in 15s)`: what is known of it."""
    parts = [fo.get("cause_text") or (fo.get("cause") or "").replace("_", " ")]
    if fo.get("detection_s") is not None:
        parts.append(f"detected in {human(float(fo['detection_s']))}")
    inner = ", ".join(p for p in parts if p)
    if was:
        inner = f"was {was}; {inner}" if inner else f"was {was}"
    return f" ({inner})" if inner else ""


def _failover_of(store: Store, a: AlertRecord) -> dict[str, Any] | None:
    """The pair's failover this alert is about: the last one (of its group) up to a minute after it
    started."""
    until = a.started_at + dt.timedelta(seconds=60)
    found = [f for f in failover_list(store, pair=a.pair, until=until) if a.group is None or f["group"] == a.group]
    return found[-1] if found else None


def _state_words(pair: dict[str, Any]) -> str:
    units = ", ".join(f"{u} {s}" for u, s in sorted(pair["units"].items()))
    groups = [f"group {g}: {f'{u} active' if u else 'active unit unknown'}" for g, u in sorted(pair["groups"].items())]
    return "; ".join([units, *groups]) if groups else units
