"""Saved CLI output as people paste it: `hamon parse-cli` and `hamon replay --cli`.

A file may hold one command's output or a whole pasted session: prompt lines with the command
echo (`fw/pri/act# show failover history`) split it into outputs; an output without its echo is
recognised by what it says. Each output is read exactly as the poller reads it, so `parse-cli` is
the offline way to check a device's output, and what it prints is what a parser gap report needs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from hamon.model import Event
from hamon.poll.events import history_events, status_events
from hamon.poll.parse import (
    CliParseError,
    FailoverStatus,
    HistoryRow,
    parse_history,
    parse_interfaces,
    parse_show_failover,
    parse_state,
)

COMMANDS = ("show failover", "show failover history", "show failover state", "show failover interface")
# `hostname#`, `hostname/context(config)#`, `fw/pri/act>` followed by a command.
ECHO_RE = re.compile(r"^\s*[\w.\-/@:]*(?:\([\w\-]+\))?[#>]\s*(?P<command>\S.*?)\s*$")


@dataclass(frozen=True)
class CliOutput:
    """One command's output from a file, read."""

    command: str
    result: FailoverStatus | list[HistoryRow] | list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.result, FailoverStatus):
            body: Any = self.result.to_json()
        else:
            body = [r.to_json() if isinstance(r, HistoryRow) else _jsonable(r) for r in self.result]
        return {"command": self.command, "result": body}


def command_of(echo: str) -> str | None:
    """The failover command an echoed line ran (abbreviations as the ASA takes them: `sh fail hist`)."""
    words = echo.lower().split()
    if len(words) < 2 or not "show".startswith(words[0]) or not "failover".startswith(words[1]) or len(words[1]) < 4:
        return None
    if len(words) == 2:
        return "show failover"
    for full in ("history", "state", "interface"):
        if full.startswith(words[2]) and len(words[2]) >= 2:
            return f"show failover {full}"
    return None


def recognise(text: str) -> str:
    """Which command printed `text`, from its content alone."""
    history = re.search(r"From\s+State\s+To\s+State", text) or re.search(
        r"^\s*\d+:\d+:\d+\s+\S+\s+\w{3}\s+\d+\s+\d{4}\s*$", text, re.M
    )
    if history and not re.search(r"^\s*Failover\s+(On|Off)\b", text, re.M):
        return "show failover history"
    if re.search(r"Last\s+Failure\s+Reason", text) or re.search(r"^\s*(This|Other)\s+host\s+-\s", text, re.M):
        return "show failover state"
    if re.search(r"^\s*(System|My|Other)\s+IP\s+Address\s*:", text, re.M):
        return "show failover interface"
    if re.search(r"^\s*Failover\s+(On|Off)\b", text, re.M):
        return "show failover"
    raise CliParseError("not the output of a `show failover` command hamon reads")


def split(text: str) -> list[tuple[str | None, str]]:
    """(echoed command or None, output) pieces of a pasted session."""
    pieces: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        m = ECHO_RE.match(line)
        command = command_of(m.group("command")) if m else None
        if m and (command is not None or re.match(r"^\s*[\w.\-/@:]*(?:\([\w\-]+\))?[#>]\s*$", line)):
            pieces.append((command, []))  # a prompt: what follows is the next command's output
            continue
        pieces[-1][1].append(line)
    return [(c, "\n".join(lines) + "\n") for c, lines in pieces if c is not None or "".join(lines).strip()]


def read(text: str, tz: str | None = None) -> list[CliOutput]:
    """Every failover command output in `text`, read as the poller reads it."""
    out = []
    for command, body in split(text):
        if command is None:
            command = recognise(body)
        out.append(CliOutput(command, _parse(command, body, tz)))
    if not out:
        raise CliParseError("no output in the file")
    return out


def _parse(command: str, body: str, tz: str | None) -> FailoverStatus | list[HistoryRow] | list[dict[str, Any]]:
    if command == "show failover":
        return parse_show_failover(body, tz)
    if command == "show failover history":
        return parse_history(body, tz)
    if command == "show failover state":
        return parse_state(body, tz)
    return parse_interfaces(body)


def events(outputs: list[CliOutput], pair: str, unit: str | None, at: dt.datetime) -> list[Event]:
    """The events the poller would hand over for these outputs (`at`: when the output was taken).

    The polled unit comes from `show failover` (`Failover unit Primary`) or from `unit`; a history
    without either is an error, since its rows do not name the unit.
    """
    status = next((o.result for o in outputs if isinstance(o.result, FailoverStatus)), None)
    polled = unit or (status.unit if status is not None else None)
    found: list[Event] = []
    if status is not None:
        found += status_events(status, None, pair, at)
    for o in outputs:
        if o.command == "show failover history" and isinstance(o.result, list):
            if polled is None:
                raise CliParseError("a `show failover history` names no unit: give --unit primary|secondary")
            found += history_events([r for r in o.result if isinstance(r, HistoryRow)], polled, pair, at)
    return found


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    from hamon.model import iso

    return {k: iso(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}
