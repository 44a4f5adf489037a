"""Saved device outputs beside what hamon must read from them (`tests/fixtures/cli_read/*.txt` + `.yml`):
`hamon parse-cli` and the poller's parser, one generic test for every pair of files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from hamon.cli import main
from hamon.poll.offline import COMMANDS, events, read
from hamon.poll.parse import CliParseError

DIR = Path(__file__).parent / "fixtures" / "cli_read"
CASES = sorted(DIR.glob("*.txt"))


def _check(outputs: list[Any], want: list[dict[str, Any]]) -> None:
    got = [o.to_json() for o in outputs]
    assert [g["command"] for g in got] == [w["command"] for w in want]
    for g, w in zip(got, want, strict=True):
        if "rows" in w:
            assert len(g["result"]) == w["rows"]
        for row in w.get("result_contains", []):
            assert row in g["result"]
        if isinstance(w.get("result"), dict):
            for key, value in w["result"].items():
                assert g["result"][key] == value, key
        elif "result" in w:
            assert g["result"] == w["result"]


@pytest.mark.parametrize("raw", CASES, ids=[p.stem for p in CASES])
def test_every_saved_output_reads_as_expected(raw: Path) -> None:
    want = yaml.safe_load(raw.with_suffix(".yml").read_text())
    text = raw.read_text()
    if "error" in want:
        with pytest.raises(CliParseError, match=want["error"]):
            read(text)
        want = {**want["with_tz"]}
    outputs = read(text, want.get("tz"))
    _check(outputs, want["outputs"])
    if "events" in want:
        made = events(outputs, "fw", want["events"].get("unit"), dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
        assert [e.kind for e in made] == want["events"]["kinds"]
        if "groups" in want["events"]:
            assert [e.group for e in made] == want["events"]["groups"]
        assert {e.unit.value for e in made if e.unit} <= {want["events"]["unit"]}


def test_every_command_hamon_reads_has_a_saved_output() -> None:
    seen = set()
    for raw in CASES:
        want = yaml.safe_load(raw.with_suffix(".yml").read_text())
        seen |= {o["command"] for o in want.get("outputs", want.get("with_tz", {}).get("outputs", []))}
    assert seen == set(COMMANDS)


def test_parse_cli_prints_what_the_poller_reads(tmp_path: Path) -> None:
    raw = DIR / "as_standby_link_admin_down.txt"
    result = CliRunner().invoke(main, ["parse-cli", str(raw), "--json"])
    assert result.exit_code == 0, result.output
    (doc,) = json.loads(result.stdout)
    assert doc == {"file": str(raw), **read(raw.read_text())[0].to_json()}
    stdin = CliRunner().invoke(main, ["parse-cli", "-", "--json"], input=raw.read_text())
    assert json.loads(stdin.stdout)[0]["result"] == doc["result"]
    bad = tmp_path / "notes.txt"
    bad.write_text("interface GigabitEthernet0/1\n nameif outside\n")
    refused = CliRunner().invoke(main, ["parse-cli", str(bad)])
    assert refused.exit_code == 1 and "not the output of a `show failover` command" in refused.output


def test_a_zone_hamon_cannot_read_is_an_error_not_utc() -> None:
    with pytest.raises(CliParseError, match="unknown time zone 'XYZ'"):
        read(
            "==\nFrom State   To State   Reason\n==\n10:00:00 XYZ Nov 25 2026\nActive    Standby Ready    Other unit wants me Standby\n"
        )


def test_replay_cli_stores_polled_evidence_shown_by_pairs(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'hamon.db'}"]
    history = DIR / "aa_history_group_column.txt"
    status = DIR / "as_standby_link_admin_down.txt"
    for files in (["--cli", str(history), "--unit", "primary"], ["--cli", str(status)]):
        result = CliRunner().invoke(main, [*db, "replay", *files, "--pair", "fw-x", "--json"])
        assert result.exit_code == 0, result.output
    failovers = json.loads(CliRunner().invoke(main, [*db, "failovers", "--json"]).stdout)
    assert [(f["at"], f["group"], f["new_active"], f["cause_text"]) for f in failovers] == [
        ("2026-11-21T14:02:11Z", 2, "primary", "HELLO not heard from mate")
    ]
    (pair,) = json.loads(CliRunner().invoke(main, [*db, "pairs", "--json"]).stdout)
    polled = pair["polled"]["secondary"]
    assert polled["state_link"] == "administratively down"
    assert polled["host_interfaces"]["primary"]["outside"] == {"status": "Failed", "monitoring": "Waiting"}
    assert polled["last_failover_at"] == {"unit": "2026-09-23T15:01:05Z"}
    missing = CliRunner().invoke(main, [*db, "replay", "--cli", str(history)])
    assert missing.exit_code == 2 and "--cli needs --pair" in missing.output


def test_an_active_active_poll_gives_each_group_its_active_unit(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'hamon.db'}"]
    aa = Path(__file__).parent / "fixtures" / "cli" / "show_failover_aa_primary.txt"
    assert CliRunner().invoke(main, [*db, "replay", "--cli", str(aa), "--pair", "fw-dc"]).exit_code == 0
    (pair,) = json.loads(CliRunner().invoke(main, [*db, "pairs", "--json"]).stdout)
    assert (pair["mode"], pair["groups"]) == ("active-active", {"1": "primary", "2": "secondary"})
    assert pair["units"] == {"primary": "active", "secondary": "active"}  # each active for one group
    assert json.loads(CliRunner().invoke(main, [*db, "alerts", "--json"]).stdout) == []  # no split-brain
