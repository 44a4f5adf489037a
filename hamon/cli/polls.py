"""`hamon parse-cli`: saved `show failover` outputs read as the poller reads them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from hamon.cli.context import Context
from hamon.cli.render import console, emit_json, plain, table
from hamon.errors import HamonError


@click.command("parse-cli")
@click.argument("files", nargs=-1, required=True, metavar="FILE... | -")
@click.option("--tz", metavar="ZONE", help="The units' clock zone (IANA name) for stamps the table cannot read.")
@click.option("--json", "as_json", is_flag=True, help="Print what was read as JSON.")
@click.pass_obj
def parse_cli_cmd(obj: Context, files: tuple[str, ...], tz: str | None, as_json: bool) -> None:
    """Read saved `show failover`, `… history`, `… state` and `… interface` outputs as pasted
    (prompt and command echo tolerated, the command recognised from the content) and print exactly
    what the poller would read. Use it to check a device's output or to report a parser gap.
    """
    from hamon.poll.offline import read
    from hamon.poll.parse import CliParseError

    documents: list[dict[str, Any]] = []
    for name in files:
        text = _text(name)
        try:
            outputs = read(text, tz)
        except CliParseError as exc:
            raise HamonError(f"{name}: {exc}") from exc
        documents += [{"file": name, **o.to_json()} for o in outputs]
    if as_json:
        emit_json(documents)
        return
    out = console()
    for doc in documents:
        out.print(f"[bold]{plain(doc['file'])}[/]: {doc['command']}")
        out.print(_summary(doc["command"], doc["result"]))


def _text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise HamonError(f"cannot read {name}: {exc.strerror}") from exc


def _summary(command: str, result: Any) -> Any:
    rows: list[tuple[Any, ...]]
    if command == "show failover":
        rows = [(h["unit"], "this" if h["this"] else "other", h["group"] or "", h["state"]) for h in result["hosts"]]
        for unit, ifs in sorted(result["host_interfaces"].items()):
            rows += [(unit, "interface", name, f"{v['status']} ({v['monitoring'] or '-'})") for name, v in ifs.items()]
        rows += [("", "last failover", k, v) for k, v in result["last_failover_at"].items()]
        rows += [("", "failover link", result["failover_link_name"] or "", result["failover_link"] or "")]
        rows += [("", "state link", "", result["state_link"] or "")]
        rows += [("", "warning", "", w) for w in result["warnings"]]
        return table(None, ("unit", "what", "name", "value"), rows)
    if command == "show failover history":
        rows = [
            (r["at"], "peer" if r["peer"] else "", r["group"] or "", r["from"], r["to"], r["reason"]) for r in result
        ]
        return table(None, ("at", "", "group", "from", "to", "reason"), rows)
    if command == "show failover state":
        rows = [
            (
                r["unit"],
                "this" if r["this"] else "other",
                r["group"] or "",
                r["state"],
                r["last_failure"],
                r["last_failure_at"],
            )
            for r in result
        ]
        return table(None, ("unit", "host", "group", "state", "last failure", "at"), rows)
    rows = [(r["name"], r["physical"], r["system_ip"], r["my_ip"], r["other_ip"]) for r in result]
    return table(None, ("interface", "physical", "system", "this unit", "other unit"), rows)


COMMANDS = [parse_cli_cmd]
