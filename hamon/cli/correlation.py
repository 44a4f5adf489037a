"""`hamon failovers`, `hamon alerts`, `hamon pairs`, `hamon correlate`: what the correlator decided."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from rich.text import Text

from hamon.cli.context import Context
from hamon.cli.events import FOLLOW_EVERY, time_range
from hamon.cli.render import console, emit_json, literal, styled, table
from hamon.model import ALERT_KINDS

FAILOVER_KEYS = ("pair", "group", "at", "new_active", "previous_active", "cause", "cause_text", "detection_s")
ALERT_KEYS = ("pair", "kind", "severity", "group", "unit", "started_at", "ended_at", "detail", "alert_id", "ack")
PAIR_KEYS = (
    "pair",
    "mode",
    "units",
    "groups",
    "failover_link",
    "state_link",
    "open_alerts",
    "last_failover_at",
    "polled",
    "silent_since",
)


def _shape(rows: list[dict[str, Any]], keys: tuple[str, ...], evidence: bool) -> list[dict[str, Any]]:
    extra = ("evidence",) if evidence else ()
    return [{k: r[k] for k in keys + extra if k in r} for r in rows]


@click.command("failovers")
@click.option("--pair", metavar="PAIR", help="Only this pair.")
@time_range
@click.option("--evidence", is_flag=True, help="Add the ids of the events behind each failover.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def failovers_cmd(
    obj: Context, pair: str | None, since: dt.datetime | None, until: dt.datetime | None, evidence: bool, as_json: bool
) -> None:
    """Every failover: when, to which unit, from which, why, and how long detection took."""
    from hamon.store import outputs

    rows = outputs.failover_list(obj.store(), pair=obj.known_pair(pair), since=since, until=until)
    if as_json:
        emit_json(_shape(rows, FAILOVER_KEYS, evidence))
        return
    out = console()
    out.print(
        table(
            None,
            ("at", "pair", "group", "new active", "previous", "cause", "detection", "cause text"),
            [
                (
                    r["at"],
                    r["pair"],
                    r["group"],
                    r["new_active"],
                    r["previous_active"],
                    r["cause"],
                    "" if r["detection_s"] is None else f"{r['detection_s']:.1f}s",
                    r["cause_text"],
                )
                for r in rows
            ],
            blanks={"previous": "unknown", "detection": "unknown", "cause text": "none"},
            extra=("previous",),
        )
    )
    out.print(f"{len(rows):,} failovers")


@click.group("alerts", invoke_without_command=True)
@click.option("--pair", metavar="PAIR", help="Only this pair.")
@click.option("--open", "open_only", is_flag=True, help="Only alerts that are still open.")
@click.option("--kind", type=click.Choice(ALERT_KINDS), help="Only this kind.")
@time_range
@click.option("--evidence", is_flag=True, help="Add the ids of each alert's evidence events.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (with --follow: one object per line).")
@click.option(
    "-f", "--follow", is_flag=True, help="Then print alerts as they open, resolve or are acknowledged (Ctrl-C stops)."
)
@click.pass_context
def alerts_cmd(
    ctx: click.Context,
    pair: str | None,
    open_only: bool,
    kind: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    evidence: bool,
    as_json: bool,
    follow: bool,
) -> None:
    """Alerts with their lifecycle: open ones have no end yet. With --since/--until, the alerts that
    were open at some time in that range (started before --until, not ended before --since).
    `hamon alerts ack ID` acknowledges one."""
    from hamon.store import outputs

    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.obj
    if follow:
        _follow_alerts(obj, obj.known_pair(pair), kind, as_json)
        return

    rows = outputs.alert_list(
        obj.store(), pair=obj.known_pair(pair), open_only=open_only, kind=kind, since=since, until=until
    )
    if as_json:
        emit_json(_shape(rows, ALERT_KEYS, evidence))
        return
    out = console()
    style = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
    now = dt.datetime.now(dt.UTC)
    rows_out = [
        (
            styled(r["kind"], style[r["severity"]]),
            styled(r["severity"], style[r["severity"]]),
            r["pair"],
            (r["unit"] or "") + (f"/g{r['group']}" if r["group"] else ""),
            r["started_at"],
            r["ended_at"] or styled("open", "bold"),
            _lasted(r, now),
            r["alert_id"][:8],
            f"{r['ack']['by']}" if r["ack"] else "",
            r["detail"],
        )
        for r in rows
    ]
    out.print(
        table(
            None,
            ("kind", "severity", "pair", "unit", "started", "ended", "for", "id", "acked by", "detail"),
            rows_out,
            blanks={"acked by": "none", "unit": "pair"},
            extra=("acked by", "ended", "severity"),
        )
    )
    n_open = sum(1 for r in rows if r["ended_at"] is None)
    out.print(f"{len(rows):,} alerts, {n_open:,} open")


def _lasted(r: dict[str, Any], now: dt.datetime) -> str:
    """How long an alert lasted (4m50s), or has been open so far (open 2h03m)."""
    from hamon.notify.wording import human

    started = dt.datetime.fromisoformat(r["started_at"])
    if r["ended_at"] is None:
        return f"open {human((now - started).total_seconds())}"
    return human((dt.datetime.fromisoformat(r["ended_at"]) - started).total_seconds())


def _alert_line(change: str, r: dict[str, Any]) -> str:
    scope = ", ".join(x for x in (r["unit"], f"group {r['group']}" if r["group"] else None) if x)
    at = r["ended_at"] if change == "resolved" else (r["ack"]["at"] if change == "acknowledged" else r["started_at"])
    who = f" by {r['ack']['by']}" if change == "acknowledged" else ""
    what = r["kind"] + (f" ({scope})" if scope else "")
    return f"{at}  {change}{who}  {r['severity']}  {r['pair']}  {what}  {r['alert_id'][:8]}  {literal(r['detail'])}"


def _follow_alerts(obj: Context, pair: str | None, kind: str | None, as_json: bool) -> None:
    """The open alerts, then every opening, resolution and acknowledgement as it is stored."""
    import json
    import sys
    import time

    from hamon.store import outputs

    known: dict[str, tuple[Any, Any]] = {}
    first = True
    try:
        while True:
            rows = outputs.alert_list(obj.store(), pair=pair, kind=kind)
            for r in rows:
                now = (r["ended_at"], r["ack"])
                before = known.get(r["alert_id"])
                known[r["alert_id"]] = now
                changes = []
                new = before is None and not first  # stored since the last look
                if new or (first and r["ended_at"] is None):
                    changes.append("opened")  # at the start: the open ones
                if r["ended_at"] is not None and (new or (before is not None and before[0] is None)):
                    changes.append("resolved")
                if r["ack"] is not None and (new or (before is not None and before[1] != r["ack"])):
                    changes.append("acknowledged")
                for change in changes:
                    click.echo(json.dumps({"change": change, **r}) if as_json else _alert_line(change, r))
            first = False
            sys.stdout.flush()
            time.sleep(FOLLOW_EVERY)
    except KeyboardInterrupt:
        return


@alerts_cmd.command("ack")
@click.argument("alert_id", metavar="ID")
@click.option("--comment", default="", help="Why, or what is being done (shown with the alert).")
@click.option("--by", metavar="NAME", help="Who acknowledges (default: $HAMON_USER or the login name, @host).")
@click.option("--json", "as_json", is_flag=True, help="Print the acknowledged alert as JSON.")
@click.pass_obj
def ack_cmd(obj: Context, alert_id: str, comment: str, by: str | None, as_json: bool) -> None:
    """Acknowledge an alert by its id (or the first 6+ characters of it, as `hamon alerts` shows):
    someone is on it. Its repeated notifications stop; the acknowledgement is shown with the alert."""
    from hamon.cli.timerange import who
    from hamon.errors import ConfigError
    from hamon.store import outputs
    from hamon.store.notify import ack_alert, alert_ids_like

    wanted = alert_id.strip().lower()
    if len(wanted) < 6 or any(c not in "0123456789abcdef" for c in wanted):
        raise ConfigError(f"not an alert id: {alert_id!r} (give at least 6 hex digits, as `hamon alerts` shows)")
    found = alert_ids_like(obj.store(), wanted)
    if not found:
        raise ConfigError(f"no alert {alert_id!r} (see: hamon alerts)")
    if len(found) > 1:
        raise ConfigError(
            f"{alert_id!r} is the start of {len(found)} alerts ({', '.join(f[:12] for f in found)}): give more"
        )
    ack_alert(obj.store(), found[0], by or who(), comment, dt.datetime.now(dt.UTC))
    (row,) = [r for r in outputs.alert_list(obj.store()) if r["alert_id"] == found[0]]
    if as_json:
        emit_json({k: row[k] for k in ALERT_KEYS})
        return
    state = "open" if row["ended_at"] is None else f"resolved {row['ended_at']}"
    console().print(
        f"acknowledged {found[0][:8]}: {row['pair']} {row['kind']} ({state}) by {row['ack']['by']}"
        + (f": {comment}" if comment else "")
    )


@click.command("pairs")
@click.option("--pair", metavar="PAIR", help="Only this pair.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def pairs_cmd(obj: Context, pair: str | None, as_json: bool) -> None:
    """Every pair as it stands: mode, state of each unit, active unit per group, links, open alerts."""
    from hamon.store import outputs

    rows = outputs.pair_list(obj.store(), obj.known_pair(pair))
    if as_json:
        emit_json(_shape(rows, PAIR_KEYS, False))
        return
    colour = {"active": "green", "standby": "cyan", "failed": "bold red", "syncing": "yellow", "disabled": "magenta"}
    now = dt.datetime.now(dt.UTC)

    def state(s: str) -> Text | str:
        return styled(s, colour[s]) if s in colour else s

    out = console()
    out.print(
        table(
            None,
            (
                "pair",
                "mode",
                "primary",
                "secondary",
                "groups",
                "failover link",
                "state link",
                "open alerts",
                "silent",
                "last failover",
            ),
            [
                (
                    r["pair"],
                    r["mode"],
                    state(r["units"]["primary"]),
                    state(r["units"]["secondary"]),
                    " ".join(f"{g}:{u or '?'}" for g, u in sorted(r["groups"].items())),
                    r["failover_link"],
                    r["state_link"],
                    r["open_alerts"],
                    _silent(r["silent_since"], now),
                    r["last_failover_at"],
                )
                for r in rows
            ],
            blanks={"silent": "no", "groups": "n/a"},
        )
    )


def _silent(since: str | None, now: dt.datetime) -> Text | None:
    """`since 10:00:13Z (20m)` for a pair with an open pair_silent alert."""
    from hamon.notify.wording import clock, human

    if since is None:
        return None
    at = dt.datetime.fromisoformat(since)
    return styled(f"since {clock(at)} ({human((now - at).total_seconds())})", "bold red")


@click.command("correlate")
@click.option("--pair", "pairs", multiple=True, metavar="PAIR", help="Only this pair (repeatable; default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def correlate_cmd(obj: Context, pairs: tuple[str, ...], as_json: bool) -> None:
    """Recompute failovers, transitions and alerts from the stored events, from scratch.

    Run it after changing the inventory (hold times, interface policy): replay only correlates
    what new input touched.
    """
    from hamon.correlate.engine import correlate

    store = obj.store()
    names = list(pairs) or store.pairs()
    result = correlate(store, dict.fromkeys(names), obj.inventory())
    summary = {
        "pairs": result.pairs,
        "events": result.events,
        "failovers": result.failovers,
        "alerts_opened": result.alerts_opened,
    }
    if as_json:
        emit_json(summary)
    else:
        console().print(
            f"{result.pairs:,} pairs, {result.events:,} events: {result.failovers:,} failovers, "
            f"{result.alerts_opened:,} alerts"
        )


COMMANDS = [failovers_cmd, alerts_cmd, pairs_cmd, correlate_cmd]
