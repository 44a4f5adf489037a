"""`hamon timeline` and `hamon report`: incidents of one pair, statistics of the fleet."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click

from hamon.cli.context import Context
from hamon.cli.events import time_range
from hamon.cli.render import console, emit_json, plain, table
from hamon.errors import ConfigError

if TYPE_CHECKING:
    from hamon.store.db import Store
    from hamon.views.incidents import Incident

STYLE = {"failover": "bold", "alert_open": "red", "alert_resolved": "green", "transition": "cyan", "event": "dim"}


def _span(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@click.command("timeline")
@click.argument("pair")
@time_range
@click.option("--json", "as_json", is_flag=True, help="Print the incidents as JSON.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Also write an HTML page: the states drawn over time and every incident.",
)
@click.option(
    "--png",
    "png_file",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Also write a PNG of each unit's (and group's) state over time with failovers marked.",
)
@click.pass_obj
def timeline_cmd(
    obj: Context,
    pair: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_json: bool,
    html_file: str | None,
    png_file: str | None,
) -> None:
    """The incident timeline of PAIR: transitions, failovers, alerts and the events behind them."""
    from hamon.views import incidents as inc_mod

    store = obj.store()
    incidents, transitions = inc_mod.build(store, pair, since, until)
    if not incidents and not store.events(pair=pair, limit=1):
        raise ConfigError(f"no events for pair {pair!r} (see: hamon pairs)")
    if html_file or png_file:
        _pictures(store, pair, incidents, transitions, since, until, html_file, png_file)
    if as_json:
        emit_json({"pair": pair, "incidents": [i.to_json() for i in incidents]})
        return
    out = console()
    for n, inc in enumerate(incidents, 1):
        j = inc.to_json()
        sev = j["severity"]
        colour = {"critical": "bold red", "warning": "yellow"}.get(sev or "", "bold")
        out.print(
            f"[{colour}]Incident {n}[/]  {j['started_at']} → {j['ended_at'] or 'ongoing'} "
            f"({_span(j['duration_s'])})  {plain(j['title'])}" + (f"  [{colour}]{sev}[/]" if sev else "")
        )
        for e in inc.entries:
            offset = (e.at - inc.started_at).total_seconds()
            who = (e.unit or "") + (f"/g{e.group}" if e.group else "")
            out.print(f"  +{offset:7.1f}s  [{STYLE[e.type]}]{e.type:<14} {plain(who):<14} {plain(e.text)}[/]")
        out.print()
    out.print(
        f"{len(incidents):,} incidents"
        + (f"; wrote {png_file}" if png_file else "")
        + (f"; wrote {html_file}" if html_file else "")
    )


def _pictures(
    store: Store,
    pair: str,
    incidents: list[Incident],
    transitions: list[dict[str, Any]],
    since: dt.datetime | None,
    until: dt.datetime | None,
    html_file: str | None,
    png_file: str | None,
) -> None:
    """The PNG and HTML pictures of a pair over the range (or its incidents' span)."""
    from hamon.store import outputs
    from hamon.views import draw

    times = [e.at for i in incidents for e in i.entries]
    start = since or (min(times) - dt.timedelta(seconds=30) if times else dt.datetime.now(dt.UTC))
    end = until or (max(times) + dt.timedelta(seconds=30) if times else start)
    if end <= start:
        end = start + dt.timedelta(minutes=1)
    state = next(iter(outputs.pair_list(store, pair)), None)
    before: dict[str, str] = {}
    if since is not None:  # what each lane was when the range starts
        for t in outputs.transition_list(store, pair=pair, until=since):
            before[draw.lane_name(t["unit"], t["group"])] = t["to"]
    fig = draw.figure(pair, incidents, transitions, start, end, mode=state["mode"] if state else None, before=before)
    if png_file:
        draw.png(png_file, fig)
    if html_file:
        open_alerts = outputs.alert_list(store, pair=pair, open_only=True)
        now = dt.datetime.now(dt.UTC)
        draw.html_page(
            html_file, pair, fig, incidents, state=state, open_alerts=open_alerts, start=start, end=end, now=now
        )


@click.command("report")
@click.option("--pair", metavar="PAIR", help="Only this pair.")
@time_range
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write the report as one tidy CSV (section, pair, group, unit, dimension, metric, value).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def report_cmd(
    obj: Context,
    pair: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    csv_file: str | None,
    as_json: bool,
) -> None:
    """Fleet statistics: failovers per week, causes, detection times against hold times, time in each
    state, mean time between failovers, longest split-brain."""
    from hamon.views import report

    data = report.build(obj.store(), pair=obj.known_pair(pair), since=since, until=until, inventory=obj.inventory())
    if csv_file:
        rows = report.write_csv(data, csv_file)
        if not as_json:
            console().print(f"wrote {rows:,} rows to {csv_file}")
    if as_json:
        emit_json(data)
        return
    if csv_file:
        return
    out = console()
    titles = {
        "failovers_per_week": "Failovers per week",
        "causes": "Causes",
        "detection": "Detection time (s)",
        "time_in_state": "Time in each state",
        "mtbf": "Mean time between failovers",
        "longest_split_brain": "Longest split-brain",
    }
    for section in report.SECTIONS:
        rows = data[section]
        if not rows:
            out.print(f"[bold]{titles[section]}[/]: none")
            continue
        cols = list(rows[0])
        shown = [c[:-2] if c.endswith("_s") else ("time" if c == "seconds" else c) for c in cols]
        out.print(
            table(titles[section], shown, [[_report_cell(c, r[c]) for c in cols] for r in rows], blanks=REPORT_BLANKS)
        )
        out.print()


REPORT_BLANKS = {"mtbf": "n/a (one failover)", "started_at": "none", "time": "none"}


def _report_cell(column: str, value: object) -> object:
    """Durations as people read them (15.0s, 4m50s, 2h03m), shares as percent."""
    from hamon.notify.wording import human

    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    if column == "share":
        return f"{value * 100:.1f}%"
    if column == "seconds" or column.endswith("_s"):
        return f"{value:.1f}s" if value < 60 else human(value)
    return value


COMMANDS = [timeline_cmd, report_cmd]
