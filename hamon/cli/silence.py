"""`hamon silence add|list|remove`: mute notifications of a pair and/or kind for a while."""

from __future__ import annotations

import datetime as dt

import click

from hamon.cli.context import Context
from hamon.cli.render import console, emit_json, table
from hamon.cli.timerange import parse_duration
from hamon.errors import ConfigError
from hamon.model import ALERT_KINDS, iso


@click.group("silence")
def silence_group() -> None:
    """Mute notifications by pair and kind until a silence expires (alerts are still recorded)."""


@silence_group.command("add")
@click.option("--pair", metavar="PAIR", help="Only this pair (default: every pair).")
@click.option("--kind", type=click.Choice(ALERT_KINDS), help="Only this alert kind (default: every kind).")
@click.option("--for", "duration", default="2h", show_default=True, help="How long: 30m, 2h, 1d, 1w.")
@click.option("--comment", default="", help="Why (shown by hamon silence list).")
@click.option("--force", is_flag=True, help="Silence a pair hamon has not seen yet (one that is about to come).")
@click.option("--json", "as_json", is_flag=True, help="Print the new silence as JSON.")
@click.pass_obj
def add_cmd(
    obj: Context, pair: str | None, kind: str | None, duration: str, comment: str, force: bool, as_json: bool
) -> None:
    """Add a silence: mute notifications of a pair, a kind or both until it expires."""
    from hamon.store.notify import add_silence

    if pair is None and kind is None:
        raise ConfigError("a silence needs --pair or --kind (or both); to stop all notifications, drop --notify")
    obj.store(create=True)
    if pair is not None and not force:
        try:
            obj.known_pair(pair)
        except ConfigError as exc:
            raise ConfigError(f"{exc}; a silence for a pair not seen yet needs --force") from exc
    now = dt.datetime.now(dt.UTC)
    until = now + parse_duration(duration)
    silence = add_silence(obj.store(create=True), pair, kind, now, until, comment)
    sid = silence.silence_id
    row = silence.to_json()
    if as_json:
        emit_json(row)
    else:
        console().print(f"silence {sid}: {pair or 'every pair'} / {kind or 'every kind'} until {iso(until)}")


@silence_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also expired silences.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_cmd(obj: Context, show_all: bool, as_json: bool) -> None:
    """List silences (active ones unless --all)."""
    from hamon.store.notify import silence_list

    now = dt.datetime.now(dt.UTC)
    rows = [x.to_json() for x in silence_list(obj.store(), active_at=None if show_all else now)]
    if as_json:
        emit_json(rows)
        return
    console().print(
        table(
            None,
            ("id", "pair", "kind", "expires", "comment"),
            [(r["id"], r["pair"] or "*", r["kind"] or "*", r["expires_at"], r["comment"]) for r in rows],
        )
    )


@silence_group.command("remove")
@click.argument("silence_id", type=int)
@click.pass_obj
def remove_cmd(obj: Context, silence_id: int) -> None:
    """Remove a silence by its id (see hamon silence list --all)."""
    from hamon.store.notify import remove_silence

    n = remove_silence(obj.store(), silence_id)
    if not n:
        raise ConfigError(f"no silence {silence_id} (see: hamon silence list --all)")
    console().print(f"removed silence {silence_id}")


COMMANDS = [silence_group]
