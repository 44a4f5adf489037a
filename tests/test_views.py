"""Timelines, pictures, the fleet report and the exact JSON shapes of the correlator's listings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hamon.cli import main

EXAMPLE = Path(__file__).parent.parent / "examples" / "asa-pair.log"


def run(db: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--db", db, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def db(store_url: str) -> str:
    run(store_url, "replay", str(EXAMPLE), "--no-progress")
    return store_url


def test_listing_shapes_are_exactly_the_contract(db: str) -> None:
    fos = json.loads(run(db, "failovers", "--json"))
    assert [list(f) for f in fos] == [
        ["pair", "group", "at", "new_active", "previous_active", "cause", "cause_text", "detection_s"]
    ] * 2
    alerts = json.loads(run(db, "alerts", "--json"))
    assert alerts and all(
        list(a) == ["pair", "kind", "severity", "group", "unit", "started_at", "ended_at", "detail", "alert_id", "ack"]
        for a in alerts
    )
    pairs = json.loads(run(db, "pairs", "--json"))
    assert [p["pair"] for p in pairs] == ["fw-dc", "fw-edge"]
    assert all(
        list(p)
        == [
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
        ]
        for p in pairs
    )
    with_evidence = json.loads(run(db, "alerts", "--evidence", "--json"))
    events = {e["event_id"] for e in json.loads(run(db, "events", "--json"))}
    assert all(a["evidence"] and set(a["evidence"]) <= events for a in with_evidence)


def test_timeline_groups_the_failover_into_one_incident(db: str) -> None:
    t = json.loads(run(db, "timeline", "fw-edge", "--json"))
    (inc,) = t["incidents"]
    assert inc["title"] == "failover to secondary: mate not heard (hellos lost)" and inc["severity"] == "critical"
    assert inc["failovers"][0]["detection_s"] == 15.0
    types = [e["type"] for e in inc["entries"]]
    assert types.index("event") < types.index("failover") < types.index("alert_resolved")
    assert inc["duration_s"] == 315.0
    text = run(db, "timeline", "fw-edge")
    assert "Incident 1" in text and "FAILOVER primary → secondary" in text


def test_timeline_pictures(db: str, tmp_path: Path) -> None:
    png, html = tmp_path / "t.png", tmp_path / "t.html"
    run(db, "timeline", "fw-dc", "--png", str(png), "--html", str(html))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    page = html.read_text()
    assert "<svg" in page and "failover to secondary (group 1): interface health check failed" in page


def test_timeline_of_an_unknown_pair_is_a_clear_error(db: str) -> None:
    result = CliRunner().invoke(main, ["--db", db, "timeline", "nope"])
    assert result.exit_code == 1 and "no events for pair 'nope'" in result.stderr


def test_report_agrees_with_the_failovers(db: str, tmp_path: Path) -> None:
    rep = json.loads(run(db, "report", "--json"))
    assert sum(r["failovers"] for r in rep["failovers_per_week"]) == 2
    assert {(r["pair"], r["cause"]) for r in rep["causes"]} == {
        ("fw-edge", "peer_unreachable"),
        ("fw-dc", "interface_failure"),
    }
    det = {r["pair"]: r for r in rep["detection"]}
    assert det["fw-edge"]["p50_s"] == 15.0 and det["fw-edge"]["hold_s"] == 15.0 and det["fw-edge"]["over_hold"] == 0
    assert det["fw-dc"]["hold_s"] == 25.0
    shares: dict[tuple[str, object, str], float] = {}
    for r in rep["time_in_state"]:
        key = (r["pair"], r["group"], r["unit"])
        shares[key] = shares.get(key, 0.0) + r["share"]
    assert all(abs(s - 1.0) < 0.01 for s in shares.values())
    failed = next(
        r for r in rep["time_in_state"] if r["pair"] == "fw-edge" and r["unit"] == "primary" and r["state"] == "failed"
    )
    assert failed["seconds"] == 290.0  # from the unit loss to its rejoin as standby
    assert {r["pair"]: r["seconds"] for r in rep["longest_split_brain"]} == {"fw-dc": None, "fw-edge": None}
    out = tmp_path / "r.csv"
    run(db, "report", "--csv", str(out))
    rows = list(csv.DictReader(out.open()))
    assert rows and set(rows[0]) == {"section", "pair", "group", "unit", "dimension", "metric", "value"}
    assert {r["section"] for r in rows} >= {"failovers_per_week", "causes", "detection", "time_in_state"}


def test_correlate_from_scratch_gives_what_replay_gave(db: str) -> None:
    before = [json.loads(run(db, c, "--json")) for c in ("failovers", "alerts", "pairs")]
    summary = json.loads(run(db, "correlate", "--json"))
    assert summary["pairs"] == 2 and summary["failovers"] == 2
    assert [json.loads(run(db, c, "--json")) for c in ("failovers", "alerts", "pairs")] == before


def test_inventory_hold_times_change_the_verdict(db: str, tmp_path: Path) -> None:
    inv = tmp_path / "inv.yml"
    inv.write_text(
        "pairs:\n  - name: fw-edge\n    match: [fw-edge]\n    unit_polltime: 1\n    unit_holdtime: 5\n    slow_failover_margin: 1\n"
    )
    result = CliRunner().invoke(main, ["--db", db, "--inventory", str(inv), "correlate", "--pair", "fw-edge"])
    assert result.exit_code == 0
    slow = json.loads(run(db, "alerts", "--kind", "slow_failover", "--json"))
    assert [(a["pair"], a["unit"]) for a in slow] == [("fw-edge", "secondary")]


def test_timeline_is_the_same_whatever_the_hash_seed(db: str) -> None:
    """Alerts that open together (unit_failed and failover at the takeover) come in one order, not in
    the order of a set, which changes with the interpreter's hash seed."""
    import os
    import subprocess
    import sys

    outs = set()
    for seed in range(8):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        proc = subprocess.run(
            [sys.executable, "-m", "hamon", "--db", db, "timeline", "fw-edge", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        outs.add(proc.stdout)
    assert len(outs) == 1
    (inc,) = json.loads(outs.pop())["incidents"]
    assert [a["kind"] for a in inc["alerts"]] == ["unit_failed", "failover"]
