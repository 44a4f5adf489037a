"""Correlator scenarios as data: `tests/scenarios/<case>.log` (syslog as a relay writes it; `#` lines
are comments saying what the case is and why the outcome follows from the failover chapter), with
`<case>.inventory.yml` and `<case>.traps` (a trap file for `hamon replay --traps`) when the case has
them, against `<case>.expected.json`: the failovers, alerts and pairs hamon reports afterwards.

`pytest tests/test_scenarios.py --update-scenarios` rewrites the expected files from what hamon now
gives; the diff is then read like code, against the chapter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hamon.cli import main

HERE = Path(__file__).parent / "scenarios"
CASES = sorted(p.stem for p in HERE.glob("*.log"))
DROPPED = {"alerts": ("alert_id", "ack"), "pairs": ("polled", "silent_since"), "failovers": ()}


def outcome(tmp: Path, case: str) -> dict[str, Any]:
    """What hamon says about a case's input, without ids and volatile fields."""
    args = ["--db", f"sqlite:///{tmp / 'hamon.db'}"]
    inventory = HERE / f"{case}.inventory.yml"
    if inventory.exists():
        args += ["--inventory", str(inventory)]
    log = tmp / f"{case}.log"
    log.write_text("".join(x for x in (HERE / f"{case}.log").read_text().splitlines(True) if not x.startswith("#")))
    inputs = [str(log)]
    traps = HERE / f"{case}.traps"
    if traps.exists():
        inputs += ["--traps", str(traps)]

    def run(*cmd: str) -> Any:
        result = CliRunner().invoke(main, [*args, *cmd], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    run("replay", *inputs, "--json", "--no-progress")
    doc: dict[str, Any] = {}
    for name, drop in DROPPED.items():
        doc[name] = [{k: v for k, v in row.items() if k not in drop} for row in run(name, "--json")]
    return doc


@pytest.mark.parametrize("case", CASES)
def test_scenario(case: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    got = outcome(tmp_path, case)
    expected = HERE / f"{case}.expected.json"
    if request.config.getoption("--update-scenarios"):
        expected.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert expected.exists(), f"{expected.name} missing: run pytest {__file__} --update-scenarios and review it"
    assert got == json.loads(expected.read_text())


def test_there_are_scenarios_and_each_says_what_it_is() -> None:
    assert len(CASES) >= 8
    for case in CASES:
        assert (HERE / f"{case}.log").read_text().startswith("#"), f"{case}.log: say what the case is"
