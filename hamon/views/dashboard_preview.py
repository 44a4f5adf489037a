"""Dashboard previews: every panel's own query run on a PostgreSQL store, drawn in the dashboard's grid.

For reports and documentation where no Grafana is at hand: the same SQL Grafana runs (with its
macros and the `pair` variable expanded as Grafana expands them), drawn with matplotlib in the
panels' positions — stat, bar gauge, table, time series, state timeline and histogram. It is a
preview of what the panels show, not Grafana's rendering.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hamon.store.db import Store
from hamon.views.dashboards import STATE_COLOURS

UTC = dt.UTC
COLOURS = {"green": "#56a64b", "blue": "#3274d9", "yellow": "#e0b400", "red": "#e02f44", "purple": "#a352cc"}
COLOURS["gray"] = "#8e8e8e"
COLOURS["orange"] = "#ff9830"
ROW_IN = 0.42  # inches per row of Grafana's dashboard grid


def expand_macros(
    sql: str, start: dt.datetime, end: dt.datetime, pair: str | Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """Grafana's PostgreSQL macros and the `pair` variable, as Grafana expands them — the values as
    bound parameters (a pair name may come from the wire), the SQL with placeholders for them."""
    pairs = [pair] if isinstance(pair, str) else list(pair)
    params: dict[str, Any] = {"hamon_from": start.astimezone(UTC), "hamon_to": end.astimezone(UTC)}
    params.update({f"hamon_pair_{i}": p for i, p in enumerate(pairs)})
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", r"\1 BETWEEN :hamon_from AND :hamon_to", sql)
    sql = sql.replace("$__timeFrom()", "CAST(:hamon_from AS timestamptz)").replace(
        "$__timeTo()", "CAST(:hamon_to AS timestamptz)"
    )

    def group(m: re.Match[str], alias: bool) -> str:
        col, interval = m.group(1), m.group(2).strip()
        secs = {"s": 1, "m": 60, "h": 3600, "d": 86400}[interval[-1]] * int(interval[:-1])
        expr = f"floor(extract(epoch from {col})/{secs})*{secs}"
        return expr + (' AS "time"' if alias else "")

    sql = re.sub(r"\$__timeGroupAlias\(([^,]+),([^)]+)\)", lambda m: group(m, True), sql)
    sql = re.sub(r"\$__timeGroup\(([^,]+),([^)]+)\)", lambda m: group(m, False), sql)
    # A multi-value variable: Grafana writes each selected value quoted, comma-separated
    # (`IN ('fw-a','fw-b')`); here each is a bound value.
    listed = ", ".join(f":hamon_pair_{i}" for i in range(len(pairs))) or "NULL"
    sql = re.sub(r"\(\$\{?pair\}?\)", f"({listed})", sql)
    if "$pair" in sql or "${pair}" in sql:
        raise ValueError("the pair variable is used only as IN ($pair) (a multi-value variable)")
    return sql, params


@dataclass
class PanelData:
    panel: dict[str, Any]
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_panels(
    store: Store, dashboard: dict[str, Any], start: dt.datetime, end: dt.datetime, pair: str
) -> list[PanelData]:
    """Every panel's query on the store (PostgreSQL), with its values bound."""
    out = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":  # a row has no query; a repeated one is the selected pair's here
            continue
        columns, rows = store.panel_query(*expand_macros(panel["targets"][0]["rawSql"], start, end, pair))
        out.append(PanelData({**panel, "title": panel["title"].replace("$pair", pair)}, columns, rows))
    return out


def draw(
    dashboard: dict[str, Any],
    data: list[PanelData],
    path: str | Path,
    span: tuple[dt.datetime, dt.datetime],
    subtitle: str = "",
) -> Path:
    """The dashboard as a PNG: each panel in its grid position (24 columns), time axes over `span`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import dates as mdates

    rows = max(p.panel["gridPos"]["y"] + p.panel["gridPos"]["h"] for p in data)
    unit = ROW_IN
    height_in = rows * unit + 0.8  # the grid and a header
    fig = plt.figure(figsize=(16, height_in), facecolor="#111217")
    top = 1 - 0.8 / height_in
    fig.text(0.01, 1 - 0.35 / height_in, dashboard["title"], color="white", fontsize=14, weight="bold")
    if subtitle:
        fig.text(0.99, 1 - 0.35 / height_in, subtitle, color="#9fa7b3", fontsize=9, ha="right")
    for p in data:
        g = p.panel["gridPos"]
        left, width = g["x"] / 24 + 0.003, g["w"] / 24 - 0.006
        height = g["h"] / rows * top - 0.008
        bottom = top - (g["y"] + g["h"]) / rows * top + 0.004
        frame = fig.add_axes((left, bottom, width, height), facecolor="#181b1f")
        _blank(frame)
        for spine in frame.spines.values():
            spine.set_color("#2c3235")
        title_h = 0.28 / (g["h"] * unit)  # a title line, as a fraction of the panel
        frame.text(0.01, 1 - title_h / 2, p.panel["title"], color="#ccccdc", fontsize=9, va="center")
        # The content sits inside the frame, with room for axis labels where the panel has axes.
        plot = p.panel["type"] in ("timeseries", "histogram", "state-timeline", "bargauge")
        pad_l = (0.12 if p.panel["type"] in ("state-timeline", "bargauge") else 0.04) if plot else 0.005
        pad_b = (0.5 / (g["h"] * unit)) if plot else 0.01
        ax = fig.add_axes(
            (
                left + pad_l * width,
                bottom + pad_b * height,
                width * (1 - pad_l - 0.01),
                height * (1 - pad_b - title_h - 0.02),
            ),
            facecolor="#181b1f",
        )
        for spine in ax.spines.values():
            spine.set_color("#2c3235" if plot else "#181b1f")
        ax.tick_params(colors="#ccccdc", labelsize=7)
        if not p.rows and p.panel["type"] != "stat":
            _blank(ax)
            ax.text(0.5, 0.5, "No data", ha="center", va="center", color="#9fa7b3", transform=ax.transAxes)
            continue
        _DRAW.get(p.panel["type"], _table)(ax, p)
        if p.panel["type"] in ("timeseries", "state-timeline"):
            ax.set_xlim(float(mdates.date2num(span[0])), float(mdates.date2num(span[1])))
    out = Path(path)
    fig.savefig(out, dpi=90, facecolor=fig.get_facecolor())
    plt.close(fig)
    return out


def _blank(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _words(panel: dict[str, Any]) -> dict[str, str]:
    """The panel's value mappings: word → Grafana colour name."""
    words: dict[str, str] = {}
    for m in panel["fieldConfig"].get("defaults", {}).get("mappings", []):
        words.update({w: o["color"] for w, o in m.get("options", {}).items()})
    return words


def _stat(ax: Any, p: PanelData) -> None:
    _blank(ax)
    value = p.rows[0][0] if p.rows and p.rows[0] else None
    text = "—" if value is None else str(value)
    colour = COLOURS.get(_words(p.panel).get(text, ""), "#73bf69")
    ax.text(0.5, 0.45, text, ha="center", va="center", fontsize=22, color=colour, weight="bold", transform=ax.transAxes)


def _bargauge(ax: Any, p: PanelData) -> None:
    labels = [str(r[0]) for r in p.rows]
    values = [float(r[1]) for r in p.rows]
    ax.barh(labels, values, color="#3274d9")
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:g}", va="center", color="white", fontsize=7)


def _table(ax: Any, p: PanelData) -> None:
    _blank(ax)
    if not p.rows:
        ax.text(0.5, 0.5, "No data", ha="center", va="center", color="#9fa7b3", transform=ax.transAxes)
        return
    panel_in = p.panel["gridPos"]["h"] * ROW_IN
    row_h = min(0.2 / panel_in, 0.3)  # a table row is 0.2 in, as a fraction of the panel
    shown = p.rows[: max(1, int(0.95 / row_h) - 1)]
    cells = [[_cell(v) for v in r] for r in shown]
    span = (len(shown) + 1) * row_h
    lengths = [min(40, max([len(c)] + [len(r[i]) for r in cells])) + 2 for i, c in enumerate(p.columns)]
    widths = [n / sum(lengths) for n in lengths]
    table = ax.table(cellText=cells, colLabels=p.columns, cellLoc="left", colWidths=widths, bbox=(0, 1 - span, 1, span))
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    coloured = {
        o["matcher"]["options"]
        for o in p.panel["fieldConfig"].get("overrides", [])
        if any(prop["id"] == "custom.cellOptions" for prop in o["properties"])
    }
    words = _words(p.panel)
    for (row, col), cell in table.get_celld().items():
        cell.set_edgecolor("#2c3235")
        cell.set_facecolor("#22252b" if row == 0 else "#181b1f")
        cell.get_text().set_color("#ccccdc")
        if row > 0 and p.columns[col] in coloured and cells[row - 1][col] in words:  # Grafana's colour-background
            cell.set_facecolor(COLOURS.get(words[cells[row - 1][col]], "#181b1f"))
            cell.get_text().set_color("white")


def _cell(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, float | decimal.Decimal):
        return f"{float(v):.1f}"
    s = "" if v is None else str(v)
    return s if len(s) <= 40 else s[:38] + "…"


def _times(values: list[Any]) -> list[dt.datetime]:
    return [v if isinstance(v, dt.datetime) else dt.datetime.fromtimestamp(float(v), UTC) for v in values]


def _timeseries(ax: Any, p: PanelData) -> None:
    if not p.rows:
        return _table(ax, p)
    times = _times([r[0] for r in p.rows])
    for i, name in enumerate(p.columns[1:], 1):
        ax.plot(times, [float(r[i] or 0) for r in p.rows], marker="o", markersize=2, linewidth=1.2, label=name)
    ax.legend(fontsize=7, facecolor="#181b1f", labelcolor="#ccccdc", edgecolor="#2c3235")


def _histogram(ax: Any, p: PanelData) -> None:
    values = [float(r[0]) for r in p.rows if r[0] is not None]
    ax.hist(values, bins=min(20, max(3, len(values))), color="#3274d9")


def _state_timeline(ax: Any, p: PanelData) -> None:
    if not p.rows:
        return _table(ax, p)
    times = _times([r[0] for r in p.rows])
    end = max(times[-1], dt.datetime.now(UTC))  # the last state lasts until now
    total = max(end - times[0], dt.timedelta(seconds=1))
    lanes = [(i, name) for i, name in enumerate(p.columns[1:], 1) if any(r[i] is not None for r in p.rows)]
    for row_no, (i, _) in enumerate(lanes):
        current, since = None, times[0]
        for t, r in [*zip(times, p.rows, strict=True), (end, None)]:
            value = r[i] if r is not None else "__end__"
            if value is None or value == current:  # no change, or the same state again (merged)
                continue
            if current is not None:
                colour = COLOURS.get(STATE_COLOURS.get(str(current), ""), "#5794f2")
                ax.barh(row_no, t - since, left=since, color=colour, edgecolor="#111217", height=0.7)
                if (t - since) / total > 0.06:  # a label only where it fits
                    ax.text(since, row_no, f" {current}", va="center", fontsize=6.5, color="white", clip_on=True)
            current, since = value, t
    ax.set_yticks(range(len(lanes)), [name for _, name in lanes])
    ax.invert_yaxis()


_DRAW = {
    "stat": _stat,
    "bargauge": _bargauge,
    "table": _table,
    "timeseries": _timeseries,
    "histogram": _histogram,
    "state-timeline": _state_timeline,
}


def preview(store: Store, directory: str | Path, start: dt.datetime, end: dt.datetime, pair: str) -> list[Path]:
    """Every dashboard drawn as `<uid>.png` in `directory`."""
    from hamon.views import dashboards

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    span = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
    paths = []
    for uid, dash in dashboards.build().items():
        sub = f"pair {pair} · {span}" if uid == "hamon-pair" else span
        paths.append(draw(dash, run_panels(store, dash, start, end, pair), out / f"{uid}.png", (start, end), sub))
    return paths
