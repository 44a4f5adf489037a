"""Pictures of a pair: the state of each unit (and group) over time, with the detection window of
every failover, its cause in words, and the span of every alert.

Rows, top to bottom: alerts (packed so that no two bars or labels meet), failover labels (placed at
the lowest level where they do not overlap, measured with the renderer that draws them), then one
lane per unit — per unit and failover group in Active/Active mode. A lane is grey (unknown) until the
first state hamon knows of it, so every unit and group has a row even before anything happened.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Sequence
from typing import Any

from hamon.model import cause_words, iso
from hamon.views.incidents import Incident, parse_at

COLOURS = {
    "active": "#2e9e44",
    "standby": "#3a7bd5",
    "syncing": "#e0b000",
    "failed": "#d0342c",
    "disabled": "#8e44ad",
    "unknown": "#c8c8c8",
}
SEVERITY_COLOURS = {"critical": "#d0342c", "warning": "#e8890c", "info": "#3a7bd5"}
DETECTION_COLOUR = "#f2a33a"
WIDTH_IN, LEFT_IN, RIGHT_IN, DPI = 13.0, 1.9, 2.1, 110
FONT = 8
MAX_LABEL_LEVELS = 6


def lane_name(unit: str, group: int | None) -> str:
    return unit if group is None else f"{unit} · group {group}"


def lane_names(mode: str | None, transitions: Sequence[dict[str, Any]]) -> list[str]:
    """Every unit's row (every unit and group in Active/Active mode), whether or not it changed."""
    names = {lane_name(t["unit"], t["group"]) for t in transitions}
    if mode == "active-active":
        names |= {lane_name(u, g) for u in ("primary", "secondary") for g in (1, 2)}
    elif not any(t["group"] is not None for t in transitions):
        names |= {"primary", "secondary"}
    return sorted(names)


def _lanes(
    names: list[str], transitions: Sequence[dict[str, Any]], before: dict[str, str], start: dt.datetime
) -> dict[str, list[tuple[dt.datetime, str]]]:
    """Each lane's states from `start` on: what it was before (unknown if nothing is known), then
    each transition."""
    lanes = {n: [(start, before.get(n, "unknown"))] for n in names}
    for t in transitions:
        at = max(parse_at(t["at"]), start)
        changes = lanes.setdefault(lane_name(t["unit"], t["group"]), [(start, "unknown")])
        if changes[-1][0] == at:
            changes[-1] = (at, t["to"])
        else:
            changes.append((at, t["to"]))
    return lanes


def failover_label(f: dict[str, Any]) -> str:
    """`10:00:13 → secondary (group 1): mate not heard, detected in 15s`."""
    from hamon.notify.wording import human

    who = f["new_active"] + (f" (group {f['group']})" if f["group"] else "")
    text = f"{parse_at(f['at']).strftime('%H:%M:%S')} → {who}: {cause_words(f['cause'])}"
    if f.get("detection_s") is not None:
        text += f", detected in {human(float(f['detection_s']))}"
    return text


def _levels(spans: Sequence[tuple[float, float]], gap: float) -> list[int]:
    """The lowest level for each span (in order) at which it does not meet an earlier one."""
    ends: list[float] = []
    out = []
    for x0, x1 in spans:
        level = next((i for i, end in enumerate(ends) if x0 > end + gap), len(ends))
        if level == len(ends):
            ends.append(x1)
        else:
            ends[level] = x1
        out.append(level)
    return out


def _text_width_days(texts: Sequence[str], days_per_px: float) -> list[float]:
    """Width of each label in days, measured by the Agg renderer at the figure's resolution."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    r = RendererAgg(100, 100, DPI)
    prop = FontProperties(size=FONT)
    return [r.get_text_width_height_descent(t, prop, ismath=False)[0] * days_per_px for t in texts]


def figure(
    pair: str,
    incidents: list[Incident],
    transitions: list[dict[str, Any]],
    start: dt.datetime,
    end: dt.datetime,
    *,
    mode: str | None = None,
    before: dict[str, str] | None = None,
) -> Any:
    """A matplotlib figure of the pair between start and end (see the module's docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    names = lane_names(mode, transitions)
    lanes = _lanes(names, transitions, before or {}, start)
    failovers = sorted((f for inc in incidents for f in inc.failovers), key=lambda f: f["at"])
    alerts = sorted((a for inc in incidents for a in inc.alerts), key=lambda a: a["started_at"])
    x_start, x_end = mdates.date2num(start), mdates.date2num(end)
    days_per_px = (x_end - x_start) / ((WIDTH_IN - LEFT_IN - RIGHT_IN) * DPI)
    pad = 6 * days_per_px

    labels = [failover_label(f) for f in failovers]
    at = [mdates.date2num(parse_at(f["at"])) for f in failovers]
    widths = _text_width_days(labels, days_per_px)
    levels = _levels([(x, x + w) for x, w in zip(at, widths, strict=True)], pad)
    numbered = bool(levels) and max(levels) >= MAX_LABEL_LEVELS
    if numbered:  # a busy day: numbers on the picture, the sentences listed beneath it
        labels = [f"{n}" for n in range(1, len(failovers) + 1)]
        widths = _text_width_days(labels, days_per_px)
        levels = _levels([(x, x + w) for x, w in zip(at, widths, strict=True)], pad)
    a_spans = []
    a_labels = []
    for a in alerts:
        s = mdates.date2num(parse_at(a["started_at"]))
        e = mdates.date2num(parse_at(a["ended_at"])) if a["ended_at"] else x_end
        a_labels.append(a["kind"].replace("_", " ") + ("" if a["ended_at"] else " (open)"))
        a_spans.append((max(s, x_start), max(e, s)))
    a_widths = _text_width_days(a_labels, days_per_px)
    a_levels = _levels([(s, max(e, s + w)) for (s, e), w in zip(a_spans, a_widths, strict=True)], pad)

    n_lanes, n_fo, n_al = len(lanes), (max(levels) + 1 if levels else 0), (max(a_levels) + 1 if a_levels else 0)
    rows = n_lanes + n_fo * 0.5 + n_al * 0.7
    footnote = len(failovers) if numbered else 0
    height = 1.6 + 0.55 * rows + 0.16 * footnote
    fig = plt.figure(figsize=(WIDTH_IN, height), dpi=DPI)
    bottom_in = 0.75 + 0.16 * footnote
    fig.subplots_adjust(
        left=LEFT_IN / WIDTH_IN, right=1 - RIGHT_IN / WIDTH_IN, bottom=bottom_in / height, top=1 - 0.45 / height
    )
    ax = fig.add_subplot()

    # state lanes: y = n_lanes-1 (first name) … 0
    ypos = {name: n_lanes - 1 - i for i, name in enumerate(lanes)}
    for name, changes in lanes.items():
        for i, (t0, state) in enumerate(changes):
            t1 = changes[i + 1][0] if i + 1 < len(changes) else end
            if t1 <= t0:
                continue
            ax.barh(
                ypos[name],
                (t1 - t0).total_seconds() / 86400,
                left=mdates.date2num(t0),
                height=0.6,
                color=COLOURS.get(state, "#999999"),
                edgecolor="white",
                linewidth=0.5,
                gid=f"state:{name}:{state}",
            )
    lane_top = n_lanes - 0.5
    for f, x in zip(failovers, at, strict=True):
        if f.get("detection_s"):
            ax.fill_betweenx(
                [-0.5, lane_top],
                x - float(f["detection_s"]) / 86400,
                x,
                color=DETECTION_COLOUR,
                alpha=0.25,
                hatch="///",
                linewidth=0,
                gid="detection",
            )
        ax.plot([x, x], [-0.5, lane_top], color="black", linestyle="--", linewidth=1)
    for a, (s, e) in zip(alerts, a_spans, strict=True):
        if a["kind"] == "split_brain":  # both units active: the state lanes shaded red
            ax.fill_betweenx([-0.5, lane_top], s, e, color="#d0342c", alpha=0.15, linewidth=0, gid="split-brain")

    # failover labels
    fo_base = lane_top + 0.1
    for label, x, level in zip(labels, at, levels, strict=True):
        y = fo_base + 0.5 * level + 0.05
        ax.plot([x], [y + 0.1], marker="v", color="black", markersize=4)
        ax.text(x + pad / 2, y, label, fontsize=FONT, ha="left", va="bottom", gid="failover-label", clip_on=False)

    # alerts
    al_base = fo_base + 0.5 * n_fo + 0.1
    for a, (s, e), label, level in zip(alerts, a_spans, a_labels, a_levels, strict=True):
        y = al_base + 0.7 * level + 0.3
        colour = SEVERITY_COLOURS.get(a["severity"], "#777777")
        ax.barh(y, max(e - s, days_per_px * 2), left=s, height=0.22, color=colour, alpha=0.85, gid="alert")
        ax.text(s, y + 0.13, label, fontsize=FONT, ha="left", va="bottom", color=colour, gid="alert-label")

    ax.set_yticks(
        [ypos[n] for n in lanes] + ([fo_base + 0.25] if n_fo else []) + ([al_base + 0.7 * n_al / 2] if n_al else [])
    )
    ax.set_yticklabels(list(lanes) + (["failovers"] if n_fo else []) + (["alerts"] if n_al else []))
    ax.set_ylim(-0.6, al_base + 0.7 * n_al + 0.05)
    ax.set_xlim(x_start, x_end)
    ax.xaxis_date()
    fmt = "%H:%M:%S" if end - start <= dt.timedelta(days=1) else "%m-%d %H:%M"
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt))
    ax.set_title(f"{pair}: {iso(start)} → {iso(end)} (UTC)", fontsize=10, loc="left")
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    handles = [Patch(color=c, label=s) for s, c in COLOURS.items()]
    handles.append(Patch(facecolor=DETECTION_COLOUR, alpha=0.4, hatch="///", label="detection window"))
    handles += [Patch(color=c, label=f"{s} alert") for s, c in SEVERITY_COLOURS.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT, frameon=False)
    if numbered:
        lines = [f"{n}. {failover_label(f)}" for n, f in enumerate(failovers, 1)]
        fig.text(LEFT_IN / WIDTH_IN, 0.1 / height, "\n".join(lines), fontsize=FONT, va="bottom", gid="footnote")
    return fig


def png(path: str, fig: Any) -> None:
    """Write the figure as PNG."""
    fig.savefig(path, format="png", dpi=DPI)


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
header{border-bottom:2px solid #ddd;margin-bottom:1em}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:14px}
dt{font-weight:bold}
table{border-collapse:collapse;margin-bottom:1.5em}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;font-size:13px;vertical-align:top}
td.at,td.who,td.what{white-space:nowrap}
tr.critical td{background:#fbe3e1}
tr.warning td{background:#fdf0dc}
tr.info td{background:#e6eefa}
tr.failover td{font-weight:bold}
h2.critical{color:#b00}
h2.warning{color:#a60}
.muted{color:#777}
svg{max-width:100%;height:auto}
"""


def _entry_class(e: dict[str, Any], severity_of: dict[str, str]) -> str:
    if e["type"] in ("alert_open", "alert_resolved"):
        return severity_of.get(e["ref"] or "", "")
    if e["type"] == "failover":
        return "failover"
    if e["type"] == "transition" and "→ failed" in e["text"]:
        return "critical"
    return ""


def html_page(
    path: str,
    pair: str,
    fig: Any,
    incidents: list[Incident],
    *,
    state: dict[str, Any] | None,
    open_alerts: Sequence[dict[str, Any]],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> None:
    """A self-contained HTML page: a header (current state, open alerts, when it was made, the range),
    the picture (inline SVG), then the incidents, newest first."""
    from hamon.notify.wording import human

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.find("<svg") :]
    esc = html.escape
    if state is None:
        now_words = "not correlated yet"
    else:
        parts = [f"{u} {s}" for u, s in sorted(state["units"].items())]
        parts += [f"group {g}: {u or 'unknown'} active" for g, u in sorted(state["groups"].items())]
        now_words = ", ".join(parts) + f" (failover link {state['failover_link']}, state link {state['state_link']})"
    open_rows = (
        "".join(
            f"<tr class='{esc(a['severity'])}'><td class='at'>{esc(a['started_at'])}</td>"
            f"<td class='what'>{esc(a['severity'])} {esc(a['kind'])}</td>"
            f"<td>{esc(human((now - parse_at(a['started_at'])).total_seconds()))} open</td>"
            f"<td>{esc(a['detail'])}</td></tr>"
            for a in open_alerts
        )
        or "<tr><td class='muted'>none</td></tr>"
    )
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>hamon timeline: {esc(pair)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{esc(pair)}</h1><dl>",
        f"<dt>now</dt><dd id='now'>{esc(now_words)}</dd>",
        f"<dt>range</dt><dd>{esc(iso(start))} → {esc(iso(end))}</dd>",
        f"<dt>incidents</dt><dd>{len(incidents)} (newest first)</dd>",
        f"<dt>generated</dt><dd>{esc(iso(now))} by hamon</dd></dl>",
        f"<h3>Open alerts ({len(open_alerts)})</h3><table id='open-alerts'>{open_rows}</table></header>",
        svg,
    ]
    for n in range(len(incidents), 0, -1):
        j = incidents[n - 1].to_json()
        sev = j["severity"] or ""
        severity_of = {a["alert_id"]: a["severity"] for a in j["alerts"]}
        took = human(j["duration_s"])
        out.append(
            f"<section class='incident' id='incident-{n}'><h2 class='{sev}'>Incident {n}: {esc(j['title'])}</h2>"
            f"<p>{esc(j['started_at'])} → {esc(j['ended_at'] or 'ongoing')} ({took}){' — ' + sev if sev else ''}</p>"
            "<table><tr><th>at</th><th>what</th><th>unit</th><th>group</th><th></th></tr>"
        )
        for e in j["entries"]:
            out.append(
                f"<tr class='{_entry_class(e, severity_of)}'><td class='at'>{esc(e['at'])}</td>"
                f"<td class='what'>{esc(e['type'])}</td><td class='who'>{esc(e['unit'] or '')}</td>"
                f"<td>{'' if e['group'] is None else e['group']}</td><td>{esc(e['text'])}</td></tr>"
            )
        out.append("</table></section>")
    out.append("</body></html>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
