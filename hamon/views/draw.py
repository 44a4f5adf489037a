"""Pictures of a pair: the state of each unit (and group) over time, failovers and alerts marked."""

from __future__ import annotations

import datetime as dt
import html
import io
from typing import Any

from hamon.views.incidents import Incident

COLOURS = {
    "active": "#2e9e44",
    "standby": "#3a7bd5",
    "syncing": "#e0b000",
    "failed": "#d0342c",
    "disabled": "#8e44ad",
    "unknown": "#c8c8c8",
}


def _lanes(transitions: list[dict[str, Any]]) -> dict[str, list[tuple[dt.datetime, str]]]:
    lanes: dict[str, list[tuple[dt.datetime, str]]] = {}
    for t in transitions:
        name = t["unit"] if t["group"] is None else f"{t['unit']} · group {t['group']}"
        lanes.setdefault(name, []).append((dt.datetime.fromisoformat(t["at"].replace("Z", "+00:00")), t["to"]))
    return dict(sorted(lanes.items()))


def figure(
    pair: str, incidents: list[Incident], transitions: list[dict[str, Any]], start: dt.datetime, end: dt.datetime
) -> Any:
    """A matplotlib figure: one lane per unit (or unit and group), coloured by state."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    lanes = _lanes(transitions)
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.6 * max(len(lanes), 1)))
    for row, changes in enumerate(lanes.values()):
        for i, (t0, state) in enumerate(changes):
            t1 = changes[i + 1][0] if i + 1 < len(changes) else end
            ax.barh(
                row,
                (t1 - t0).total_seconds() / 86400,
                left=mdates.date2num(t0),
                height=0.6,
                color=COLOURS.get(state, "#999999"),
                edgecolor="white",
                linewidth=0.5,
            )
    for inc in incidents:
        for f in inc.failovers:
            at = dt.datetime.fromisoformat(f["at"].replace("Z", "+00:00"))
            ax.axvline(mdates.date2num(at), color="black", linestyle="--", linewidth=1)
            ax.annotate(
                f"failover → {f['new_active']}",
                (mdates.date2num(at), len(lanes) - 0.4),
                fontsize=8,
                rotation=0,
                ha="left",
                va="bottom",
            )
        for a in inc.alerts:
            if a["kind"] == "split_brain":
                s = dt.datetime.fromisoformat(a["started_at"].replace("Z", "+00:00"))
                e = dt.datetime.fromisoformat(a["ended_at"].replace("Z", "+00:00")) if a["ended_at"] else end
                ax.axvspan(mdates.date2num(s), mdates.date2num(e), color="#d0342c", alpha=0.15)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(list(lanes))
    ax.set_ylim(-0.6, len(lanes) + 0.2)
    ax.set_xlim(mdates.date2num(start), mdates.date2num(end))
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M:%S"))
    fig.autofmt_xdate()
    ax.set_title(f"{pair}: unit states (UTC); dashed: failovers, red band: split-brain")
    ax.legend(
        handles=[Patch(color=c, label=s) for s, c in COLOURS.items()],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout()
    return fig


def png(path: str, fig: Any) -> None:
    """Write the figure as PNG."""
    fig.savefig(path, format="png", dpi=110)


def html_page(path: str, pair: str, fig: Any, incidents: list[Incident]) -> None:
    """A self-contained HTML page: the picture (inline SVG) and the incident timeline."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.find("<svg") :]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>hamon timeline: {html.escape(pair)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;font-size:13px}"
        ".critical{color:#b00}.warning{color:#a60}.failover{font-weight:bold}</style></head><body>",
        f"<h1>{html.escape(pair)}</h1>",
        svg,
    ]
    for n, inc in enumerate(incidents, 1):
        j = inc.to_json()
        sev = j["severity"] or ""
        parts.append(
            f"<h2 class='{sev}'>Incident {n}: {html.escape(j['title'])}</h2><p>{j['started_at']} → "
            f"{j['ended_at'] or 'ongoing'} ({j['duration_s']:.0f}s){' — ' + sev if sev else ''}</p>"
        )
        parts.append("<table><tr><th>at</th><th>what</th><th>unit</th><th>group</th><th></th></tr>")
        for e in j["entries"]:
            cls = "failover" if e["type"] == "failover" else ""
            parts.append(
                f"<tr class='{cls}'><td>{e['at']}</td><td>{e['type']}</td><td>{e['unit'] or ''}</td>"
                f"<td>{e['group'] or ''}</td><td>{html.escape(e['text'])}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
