"""`hamon events`, `hamon quarantine`, `hamon sources`: read what the store holds."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

import click

from hamon.cli.context import Context
from hamon.cli.render import console, emit_json, emit_json_texts, literal, table
from hamon.cli.timerange import parse_time
from hamon.model import iso
from hamon.parse.catalog import EVENT_KINDS

FOLLOW_EVERY = 1.0  # seconds between looks at the store with --follow


class TimeParam(click.ParamType[dt.datetime]):
    """A time option: ISO-8601, a date, or an age such as 15m, 2h, 7d."""

    name = "TIME"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        from hamon.errors import ConfigError

        try:
            return parse_time(str(value))
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeParam()


def _inverted(ctx: click.Context, param: click.Parameter, value: dt.datetime | None) -> dt.datetime | None:
    """Warn (once: the second of the two options to be read sees both) when nothing can match."""
    since = value if param.name == "since" else ctx.params.get("since")
    until = value if param.name == "until" else ctx.params.get("until")
    if since is not None and until is not None and since >= until:
        click.echo(f"warning: --since {iso(since)} is not before --until {iso(until)}: nothing can match", err=True)
    return value


def time_range(command: Callable[..., Any]) -> Callable[..., Any]:
    """The --since/--until options every time-bounded listing has."""
    command = click.option("--until", type=TIME, callback=_inverted, help="Up to this time (exclusive).")(command)
    return click.option(
        "--since", type=TIME, callback=_inverted, help="From this time (inclusive): ISO-8601 or an age (2h, 7d)."
    )(command)


@click.command("events")
@click.option("--pair", metavar="PAIR", help="Only this pair.")
@time_range
@click.option("--id", "msg_id", type=click.IntRange(100000, 999999), help="Only this message id.")
@click.option(
    "--kind",
    type=click.Choice(EVENT_KINDS),
    metavar="KIND",
    help="Only this kind (switch_active, failover_link_down, ...).",
)
@click.option("--limit", type=click.IntRange(1), help="Only the newest N events (listed oldest first).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (with --follow: one object per line).")
@click.option("-f", "--follow", is_flag=True, help="Then print events as they arrive (tail -f; Ctrl-C stops).")
@click.pass_obj
def events_cmd(
    obj: Context,
    pair: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    msg_id: int | None,
    kind: str | None,
    limit: int | None,
    as_json: bool,
    follow: bool,
) -> None:
    """List stored failover events in time order; --follow goes on with those that arrive."""
    if follow:
        _follow_events(obj, pair, msg_id, kind, limit or 10, as_json)
        return
    store, pair = obj.store(), obj.known_pair(pair)
    if as_json:  # built by the database, written as read: a million events in bounded memory
        docs = store.iter_event_json(
            pair=pair, since=since, until=until, msg_id=msg_id, kind=kind, limit=limit, newest=True
        )
        emit_json_texts(docs)
        return
    read = store.iter_events(pair=pair, since=since, until=until, msg_id=msg_id, kind=kind, limit=limit, newest=True)
    evs = list(read)
    rows = [
        (
            iso(e.at),
            e.pair,
            e.unit.value if e.unit else "",
            e.msg_id,
            e.kind,
            e.cause.value if e.cause else "",
            e.interface,
            e.text,
        )
        for e in evs
    ]
    out = console()
    out.print(
        table(
            None,
            ("at", "pair", "unit", "id", "kind", "cause", "interface", "text"),
            rows,
            blanks={"unit": "unknown", "cause": "none", "interface": "none"},
            extra=("interface", "cause"),
        )
    )
    out.print(f"{len(evs):,} events")


def _event_line(e: Any) -> str:
    unit = e.unit.value if e.unit else "-"
    return f"{iso(e.at)}  {e.pair}  {unit}  {e.msg_id}  {e.kind}  {literal(e.text)}"  # echoed, not rich markup


def _follow_events(
    obj: Context, pair: str | None, msg_id: int | None, kind: str | None, last: int, as_json: bool
) -> None:
    """The newest `last` events, then each one as it is stored, until interrupted."""
    import json
    import time

    store = obj.store()
    pair = obj.known_pair(pair)
    seen = store.last_seq()
    shown = list(store.iter_events(pair=pair, msg_id=msg_id, kind=kind, limit=last, newest=True))
    try:
        while True:
            for e in shown:
                click.echo(json.dumps(e.to_json(), ensure_ascii=False) if as_json else _event_line(e))
                seen = max(seen, e.seq)
            sys.stdout.flush()
            time.sleep(FOLLOW_EVERY)
            shown = list(store.iter_events(pair=pair, msg_id=msg_id, kind=kind, after_seq=seen))
    except KeyboardInterrupt:
        return


@click.command("quarantine")
@click.option("--since", type=TIME, help="Received from this time on.")
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Only the newest N lines (listed oldest first).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def quarantine_cmd(obj: Context, since: dt.datetime | None, limit: int, as_json: bool) -> None:
    """List quarantined input lines with the reason each was refused."""
    recs = obj.store().quarantined(limit=limit, since=since, newest=True)
    if as_json:
        emit_json([q.to_json() for q in recs])
        return
    rows = [(q.origin, q.line_no, q.reason, q.raw[:120].decode("utf-8", "backslashreplace")) for q in recs]
    out = console()
    out.print(table(None, ("origin", "line", "reason", "raw (start)"), rows))
    out.print(f"{len(recs):,} quarantined lines shown")


@click.command("sources")
@click.option("--pair", metavar="PAIR", help="Only this pair's senders.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def sources_cmd(obj: Context, pair: str | None, as_json: bool) -> None:
    """Senders seen, with their pair, lines counted and when each was last heard."""
    only = obj.known_pair(pair)
    srcs = [s for s in obj.store().sources() if only is None or s["pair"] == only]
    out_rows = [
        {"source": s["source"], "pair": s["pair"], "lines": int(s["lines"]), "last_at": iso(s["last_at"])} for s in srcs
    ]
    if as_json:
        emit_json(out_rows)
        return
    console().print(
        table(
            None,
            ("source", "pair", "lines", "last heard"),
            [(r["source"], r["pair"], f"{r['lines']:,}", r["last_at"]) for r in out_rows],
        )
    )


COMMANDS = [events_cmd, quarantine_cmd, sources_cmd]
