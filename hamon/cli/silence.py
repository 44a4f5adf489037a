"""`hamon silence add|list|remove`: mute notifications of a pair and/or kind for a while."""

from __future__ import annotations

import datetime as dt

import click

from hamon.cli.context import Context
from hamon.cli.render import console, emit_json, styled, table
from hamon.cli.timerange import parse_duration, parse_when, who
from hamon.errors import ConfigError
from hamon.model import ALERT_KINDS, iso


@click.group("silence")
def silence_group() -> None:
    """Mute notifications by pair and kind until a silence expires (alerts are still recorded)."""


@silence_group.command("add")
@click.option("--pair", metavar="PAIR", help="Only this pair (default: every pair).")
@click.option("--kind", type=click.Choice(ALERT_KINDS), help="Only this alert kind (default: every kind).")
@click.option("--for", "duration", help="How long: 30m, 2h, 1d, 1w (default 2h; not with --end).")
@click.option("--start", metavar="TIME", help="A maintenance window: from TIME (+2h, in 30m, ISO-8601; default now).")
@click.option("--end", metavar="TIME", help="Until TIME (+4h, ISO-8601) instead of --for.")
@click.option("--comment", default="", help="Why (shown by hamon silence list).")
@click.option("--force", is_flag=True, help="Silence a pair hamon has not seen yet (one that is about to come).")
@click.option("--json", "as_json", is_flag=True, help="Print the new silence as JSON.")
@click.pass_obj
def add_cmd(
    obj: Context,
    pair: str | None,
    kind: str | None,
    duration: str | None,
    start: str | None,
    end: str | None,
    comment: str,
    force: bool,
    as_json: bool,
) -> None:
    """Add a silence: mute notifications of a pair, a kind or both, now or in a maintenance window."""
    from hamon.store.notify import add_silence

    if pair is None and kind is None:
        raise ConfigError("a silence needs --pair or --kind (or both); to stop all notifications, drop --notify")
    if duration and end:
        raise ConfigError("give --for or --end, not both")
    obj.store(create=True)
    if pair is not None and not force:
        try:
            obj.known_pair(pair)
        except ConfigError as exc:
            raise ConfigError(f"{exc}; a silence for a pair not seen yet needs --force") from exc
    now = dt.datetime.now(dt.UTC)
    begins = parse_when(start, now) if start else now
    until = parse_when(end, now) if end else begins + parse_duration(duration or "2h")
    if until <= begins:
        raise ConfigError(f"the silence would end ({iso(until)}) before it starts ({iso(begins)})")
    if until <= now:
        raise ConfigError(f"the silence would be over already ({iso(until)}): nothing to mute")
    silence = add_silence(
        obj.store(create=True),
        pair,
        kind,
        now,
        until,
        comment,
        starts_at=begins if begins > now else None,
        created_by=who(),
    )
    if as_json:
        emit_json(silence.to_json(now))
        return
    what = f"{pair or 'every pair'} / {kind or 'every kind'}"
    if begins > now:
        console().print(f"silence {silence.silence_id}: {what} from {iso(begins)} until {iso(until)} (scheduled)")
    else:
        console().print(f"silence {silence.silence_id}: {what} until {iso(until)}")


@silence_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also expired and removed silences (kept for audit).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_cmd(obj: Context, show_all: bool, as_json: bool) -> None:
    """List silences: active and scheduled ones (--all: expired and removed ones too)."""
    from hamon.store.notify import silence_list

    now = dt.datetime.now(dt.UTC)
    rows = [x.to_json(now) for x in silence_list(obj.store())]
    if not show_all:
        rows = [r for r in rows if r["state"] in ("active", "scheduled")]
    if as_json:
        emit_json(rows)
        return
    colour = {"active": "green", "scheduled": "cyan", "expired": "dim", "removed": "dim"}
    console().print(
        table(
            None,
            ("id", "state", "pair", "kind", "from", "until", "by", "comment"),
            [
                (
                    r["id"],
                    styled(r["state"], colour[r["state"]]),
                    r["pair"] or "*",
                    r["kind"] or "*",
                    r["starts_at"],
                    r["removed_at"] if r["state"] == "removed" else r["expires_at"],
                    r["created_by"] or "",
                    r["comment"],
                )
                for r in rows
            ],
        )
    )
    if not rows:
        console().print("no silences" + ("" if show_all else " in force or scheduled (--all: past ones too)"))


@silence_group.command("remove")
@click.argument("silence_id", type=int)
@click.pass_obj
def remove_cmd(obj: Context, silence_id: int) -> None:
    """End a silence now, by its id; it stays listed as removed (hamon silence list --all)."""
    from hamon.store.notify import remove_silence

    if not remove_silence(obj.store(), silence_id):
        raise ConfigError(f"no silence {silence_id} in force or scheduled (see: hamon silence list --all)")
    console().print(f"removed silence {silence_id}")


COMMANDS = [silence_group]
