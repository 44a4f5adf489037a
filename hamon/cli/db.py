"""`hamon db`: the store's schema and contents."""

from __future__ import annotations

import click

from hamon.cli.context import Context
from hamon.cli.render import console, emit_json


@click.group("db")
def db_group() -> None:
    """Manage the store (migrations are also applied automatically on first use)."""


@db_group.command("upgrade")
@click.pass_obj
def upgrade_cmd(obj: Context) -> None:
    """Apply pending schema migrations."""
    store = obj.store(migrate=False, create=True)
    before = store.revision()
    after = store.upgrade()
    console().print(f"{store.url}: schema {before or 'empty'} -> {after}")


@db_group.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def info_cmd(obj: Context, as_json: bool) -> None:
    """Where the store is, its schema revision and row counts."""
    from hamon.store.db import HEAD_REVISION

    store = obj.store()
    info = {
        "url": store.url,
        "dialect": store.dialect,
        "revision": store.revision(),
        "head": HEAD_REVISION,
        "rows": store.counts(),
    }
    if as_json:
        emit_json(info)
        return
    out = console()
    out.print(f"store     {info['url']}\nrevision  {info['revision']} (newest {HEAD_REVISION})")
    for name, n in info["rows"].items():  # type: ignore[union-attr]
        out.print(f"{name:<16}{n:>12,}")


COMMANDS = [db_group]
