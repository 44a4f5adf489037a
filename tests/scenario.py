"""Scenario harness: raw syslog lines in, the correlator's JSON out (through `hamon replay`)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from hamon.cli import main

T0 = dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Line:
    """One syslog line `at` seconds after T0, as the unit's own clock stamps it."""

    at: float
    msg_id: int
    text: str
    severity: int = 1
    unit: str | None = None  # whose clock stamps it (for skew); None: the pair's shared sender

    def render(self, host: str, skew: dict[str, float]) -> str:
        t = T0 + dt.timedelta(seconds=self.at + skew.get(self.unit or "", 0.0))
        return f"<16{self.severity}>{t:%b %d %Y %H:%M:%S} {host} : %ASA-{self.severity}-{self.msg_id}: {self.text}"


def P(at: float, msg_id: int, text: str, severity: int = 1) -> Line:
    """A line logged by the primary unit, `(Primary)` tag added unless the text has one."""
    return Line(at, msg_id, text if text.startswith("(") else f"(Primary) {text}", severity, "primary")


def S(at: float, msg_id: int, text: str, severity: int = 1) -> Line:
    """A line logged by the secondary unit."""
    return Line(at, msg_id, text if text.startswith("(") else f"(Secondary) {text}", severity, "secondary")


def U(at: float, msg_id: int, text: str, severity: int = 1) -> Line:
    """An untagged line (failover link, interfaces, LU)."""
    return Line(at, msg_id, text, severity, None)


def capture(lines: list[Line], host: str = "fw", skew: dict[str, float] | None = None) -> str:
    return "\n".join(line.render(host, skew or {}) for line in lines) + "\n"


class Scenario:
    """A store in a temporary directory and the commands over it."""

    def __init__(self, tmp: Path, inventory: str | None = None) -> None:
        self.db = f"sqlite:///{tmp / 'hamon.db'}"
        self.tmp = tmp
        self.args = ["--db", self.db]
        if inventory is not None:
            inv = tmp / "inventory.yml"
            inv.write_text(inventory)
            self.args += ["--inventory", str(inv)]
        self.n = 0

    def run(self, *args: str) -> Any:
        result = CliRunner().invoke(main, [*self.args, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def replay(self, text: str) -> Any:
        self.n += 1
        path = self.tmp / f"capture-{self.n}.log"
        path.write_text(text)
        return self.run("replay", str(path), "--json", "--no-progress")

    def failovers(self, pair: str = "fw") -> list[dict[str, Any]]:
        return list(self.run("failovers", "--pair", pair, "--json"))

    def alerts(self, pair: str = "fw") -> list[dict[str, Any]]:
        return list(self.run("alerts", "--pair", pair, "--json"))

    def pair(self, name: str = "fw") -> dict[str, Any]:
        return next(p for p in self.run("pairs", "--json") if p["pair"] == name)

    def transitions(self, pair: str = "fw") -> list[dict[str, Any]]:
        from hamon.store import Store
        from hamon.store.outputs import transition_list

        store = Store(self.db)
        try:
            return transition_list(store, pair=pair)
        finally:
            store.close()

    def kinds(self, pair: str = "fw", *, open_only: bool = False) -> set[str]:
        return {a["kind"] for a in self.alerts(pair) if not open_only or a["ended_at"] is None}


def play(tmp: Path, lines: list[Line], inventory: str | None = None, skew: dict[str, float] | None = None) -> Scenario:
    s = Scenario(tmp, inventory)
    s.replay(capture(lines, skew=skew))
    return s


def iso(seconds: float) -> str:
    t = T0 + dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
