"""Fleet statistics with pandas: failovers per week, causes, detection times against hold times,
time in each state, mean time between failovers, longest split-brain."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from typing import TYPE_CHECKING, Any

from hamon.model import iso
from hamon.resolve.inventory import Inventory, PairConfig
from hamon.store import outputs
from hamon.store.db import Store

if TYPE_CHECKING:
    import pandas as pd

SECTIONS = ("failovers_per_week", "causes", "detection", "time_in_state", "mtbf", "longest_split_brain")


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(rows, columns=columns)
    for c in ("at", "started_at", "ended_at"):
        if c in df:
            df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
    return df


def _clean(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, float):
        return round(v, 3)
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in r.items()} for r in df.to_dict(orient="records")]


def build(
    store: Store,
    *,
    pair: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    inventory: Inventory | None = None,
) -> dict[str, Any]:
    """The report as a JSON-ready mapping of sections."""
    import pandas as pd

    fos = _frame(
        outputs.failover_list(store, pair=pair, since=since, until=until),
        ["pair", "group", "at", "new_active", "previous_active", "cause", "cause_text", "detection_s"],
    )
    alerts = _frame(
        outputs.alert_list(store, pair=pair, since=since, until=until),
        ["pair", "kind", "severity", "group", "unit", "started_at", "ended_at", "detail"],
    )
    ends = outputs.last_event_times(store, pair)
    pairs = sorted(ends)
    end_of = {p: (until or ends[p] or dt.datetime.now(dt.UTC)) for p in pairs}
    cfg = {p: (inventory.pair(p) if inventory else PairConfig(name=p)) for p in pairs}
    out: dict[str, Any] = {"since": iso(since) if since else None, "until": iso(until) if until else None}

    if fos.empty:
        out["failovers_per_week"] = []
        out["causes"] = []
        out["detection"] = []
        out["mtbf"] = [{"pair": p, "failovers": 0, "mtbf_s": None} for p in pairs]
    else:
        week = fos["at"].dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time.dt.strftime("%Y-%m-%d")
        per_week = fos.assign(week=week).groupby(["pair", "week"]).size().reset_index(name="failovers")
        out["failovers_per_week"] = _records(per_week)
        out["causes"] = _records(fos.groupby(["pair", "cause"]).size().reset_index(name="failovers"))
        timed = fos.dropna(subset=["detection_s"])
        rows = []
        for (p, cause), g in timed.groupby(["pair", "cause"]):
            c = cfg.get(str(p)) or PairConfig(name=str(p))
            hold = {
                "peer_unreachable": c.unit_holdtime,
                "interface_failure": c.interface_holdtime,
                "module_failure": 2.0,
            }.get(str(cause))
            d = g["detection_s"]
            rows.append(
                {
                    "pair": p,
                    "cause": cause,
                    "count": len(d),
                    "p50_s": d.quantile(0.5),
                    "p90_s": d.quantile(0.9),
                    "p99_s": d.quantile(0.99),
                    "max_s": d.max(),
                    "hold_s": hold,
                    "over_hold": int((d > hold).sum()) if hold is not None else None,
                }
            )
        out["detection"] = [{k: _clean(v) for k, v in r.items()} for r in rows]
        mtbf = []
        for p in pairs:
            times = fos.loc[fos["pair"] == p, "at"].sort_values()
            gaps = times.diff().dropna().dt.total_seconds()
            mtbf.append({"pair": p, "failovers": len(times), "mtbf_s": _clean(gaps.mean()) if len(gaps) else None})
        out["mtbf"] = mtbf

    states = []
    for p in pairs:
        trs = _frame(
            outputs.transition_list(store, pair=p, since=since, until=until),
            ["group", "unit", "at", "from", "to", "cause", "cause_text", "evidence"],
        )
        if trs.empty:
            continue
        end = pd.Timestamp(end_of[p])
        for (group, unit), g in trs.groupby(["group", "unit"], dropna=False):
            g = g.sort_values("at")
            nxt = g["at"].shift(-1).fillna(end)
            dur = (nxt - g["at"]).dt.total_seconds().clip(lower=0)
            total = dur.sum()
            for state, secs in dur.groupby(g["to"]).sum().items():
                states.append(
                    {
                        "pair": p,
                        "group": None if pd.isna(group) else int(group),
                        "unit": unit,
                        "state": state,
                        "seconds": _clean(secs),
                        "share": _clean(secs / total) if total else None,
                    }
                )
    out["time_in_state"] = states

    splits = alerts[alerts["kind"] == "split_brain"] if not alerts.empty else alerts
    longest = []
    for p in pairs:
        s = splits[splits["pair"] == p] if not splits.empty else splits
        if s.empty:
            longest.append({"pair": p, "seconds": None, "started_at": None})
            continue
        ended = s["ended_at"].fillna(pd.Timestamp(end_of[p]))
        dur = (ended - s["started_at"]).dt.total_seconds()
        i = dur.idxmax()
        longest.append(
            {"pair": p, "seconds": _clean(dur[i]), "started_at": iso(s.loc[i, "started_at"].to_pydatetime())}
        )
    out["longest_split_brain"] = longest
    return out


def write_csv(report: dict[str, Any], path: str) -> int:
    """The report as one tidy CSV: section, pair, group, unit, dimension, metric, value. Returns rows."""
    n = 0
    ids = ("pair", "group", "unit")
    dims = ("week", "cause", "state")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["section", "pair", "group", "unit", "dimension", "metric", "value"])
        for section in SECTIONS:
            for row in report.get(section, []):
                dim = next((row[d] for d in dims if d in row), "")
                for k, v in row.items():
                    if k in ids or k in dims:
                        continue
                    w.writerow(
                        [
                            section,
                            row.get("pair"),
                            row.get("group"),
                            row.get("unit"),
                            dim,
                            k,
                            "" if v is None else json.dumps(v) if isinstance(v, list | dict) else v,
                        ]
                    )
                    n += 1
    return n
