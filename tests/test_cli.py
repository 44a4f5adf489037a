"""The command line: replay summaries, event JSON, errors as one line with a non-zero exit."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hamon.cli import main

EXAMPLE = Path(__file__).parent.parent / "examples" / "asa-pair.log"
EVENT_KEYS = [
    "event_id",
    "at",
    "received_at",
    "pair",
    "unit",
    "source",
    "msg_id",
    "severity",
    "kind",
    "cause",
    "interface",
    "text",
]


def run(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_replay_json_summary_accounts_for_every_line(sqlite_url: str) -> None:
    code, out, _ = run("--db", sqlite_url, "replay", str(EXAMPLE), "--json")
    assert code == 0
    s = json.loads(out)
    total_lines = len(EXAMPLE.read_bytes().splitlines())
    assert s["lines"] == total_lines
    assert s["lines"] == s["events"] + s["quarantined"] + s["ordinary"] + s["other"] + s["blank"]
    assert s["stored"] == s["events"] > 0
    assert set(s["pairs"]) == {"fw-edge", "fw-dc"}
    assert sum(p["events"] for p in s["pairs"].values()) == s["events"]


def test_events_json_has_the_documented_shape(sqlite_url: str) -> None:
    run("--db", sqlite_url, "replay", str(EXAMPLE))
    code, out, _ = run("--db", sqlite_url, "events", "--pair", "fw-edge", "--id", "104001", "--json")
    assert code == 0
    evs = json.loads(out)
    assert evs, "the example has a failover on fw-edge"
    for e in evs:
        assert list(e) == EVENT_KEYS
        assert e["pair"] == "fw-edge" and e["msg_id"] == 104001 and e["kind"] == "switch_active"
        assert e["at"].endswith("Z") and e["unit"] in ("primary", "secondary")
        assert isinstance(e["severity"], int)


def test_events_time_filters(sqlite_url: str) -> None:
    run("--db", sqlite_url, "replay", str(EXAMPLE))
    all_events = json.loads(run("--db", sqlite_url, "events", "--json")[1])
    cut = all_events[len(all_events) // 2]["at"]
    later = json.loads(run("--db", sqlite_url, "events", "--since", cut, "--json")[1])
    earlier = json.loads(run("--db", sqlite_url, "events", "--until", cut, "--json")[1])
    assert len(later) + len(earlier) == len(all_events)
    assert all(e["at"] >= cut for e in later) and all(e["at"] < cut for e in earlier)
    for command in (["events"], ["failovers"], ["report"]):  # an inverted range is said, not silently empty
        code, out, err = run("--db", sqlite_url, *command, "--until", "2026-11-25", "--since", "2026-11-26", "--json")
        listed = json.loads(out)
        assert code == 0 and (listed["failovers_per_week"] if isinstance(listed, dict) else listed) == []
        assert err == (
            "warning: --since 2026-11-26T00:00:00Z is not before --until 2026-11-25T00:00:00Z: nothing can match\n"
        )
    assert run("--db", sqlite_url, "events", "--since", cut, "--json")[2] == ""


def test_replay_reads_stdin_and_gzip(sqlite_url: str, tmp_path: Path) -> None:
    gz = tmp_path / "capture.log.gz"
    gz.write_bytes(gzip.compress(EXAMPLE.read_bytes()))
    a = json.loads(run("--db", sqlite_url, "replay", str(gz), "--json")[1])
    b = json.loads(run("--db", sqlite_url, "replay", "-", "--json", input=EXAMPLE.read_bytes())[1])
    assert a["lines"] == b["lines"] and a["events"] == b["events"]
    assert b["stored"] == 0  # the same events, already stored from the .gz


def test_human_summary_and_tables(sqlite_url: str) -> None:
    code, out, _ = run("--db", sqlite_url, "replay", str(EXAMPLE))
    assert code == 0 and "failover events" in out and "fw-edge" in out
    code, out, _ = run("--db", sqlite_url, "events", "--limit", "2")
    assert code == 0 and "2 events" in out
    code, out, _ = run("--db", sqlite_url, "quarantine", "--json")
    assert code == 0 and isinstance(json.loads(out), list)
    code, out, _ = run("--db", sqlite_url, "sources", "--json")
    assert code == 0 and {s["pair"] for s in json.loads(out)} == {"fw-edge", "fw-dc"}


def test_inventory_names_the_pairs(sqlite_url: str, tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yml"
    inv.write_text("pairs:\n  - name: edge\n    match: [fw-edge]\n")
    s = json.loads(run("--db", sqlite_url, "--inventory", str(inv), "replay", str(EXAMPLE), "--json")[1])
    assert set(s["pairs"]) == {"edge", "fw-dc"}


def test_errors_are_one_line_and_non_zero(sqlite_url: str, tmp_path: Path) -> None:
    cases = [
        (["--db", sqlite_url, "replay", str(tmp_path / "missing.log")], 1, "missing.log: No such file"),
        (["--db", "mysql://x@h/d", "events"], 1, "SQLite or PostgreSQL"),
        (["--db", sqlite_url, "events", "--since", "last tuesday"], 2, "cannot read time"),
        (
            ["--db", sqlite_url, "--inventory", str(tmp_path / "none.yml"), "replay", str(EXAMPLE)],
            1,
            "cannot read inventory",
        ),
        (["--db", sqlite_url, "replay", "--tz", "Mars/Olympus", str(EXAMPLE)], 1, "unknown time zone"),
    ]
    for args, code, message in cases:
        got, _out, err = run(*args)
        assert got == code, (args, err)
        assert message in err
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 3


def test_db_upgrade_and_info(sqlite_url: str) -> None:
    code, out, _ = run("--db", sqlite_url, "db", "upgrade")
    assert code == 0 and "0009" in out
    info = json.loads(run("--db", sqlite_url, "db", "info", "--json")[1])
    assert info["revision"] == info["head"] == "0009" and info["rows"]["events"] == 0


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    env_db = f"sqlite:///{tmp_path / 'x.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "hamon", "--db", env_db, "replay", str(tmp_path / "nope.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("Error:") and "Traceback" not in proc.stderr


def test_read_commands_refuse_a_store_that_does_not_exist(tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "x.db"
    code, _, err = run("--db", f"sqlite:///{typo}", "events")
    assert code == 1 and f"no store at {typo}" in err
    assert not typo.parent.exists()  # nothing was created


def test_an_unanswering_postgresql_is_a_clear_error_within_seconds() -> None:
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts into the backlog, never answers
    port = silent.getsockname()[1]
    t0 = time.monotonic()
    code, _, err = run("--db", f"postgresql+psycopg://hamon@127.0.0.1:{port}/hamon?connect_timeout=2", "pairs")
    silent.close()
    assert code == 1 and f"cannot connect to PostgreSQL at 127.0.0.1:{port}" in err
    assert time.monotonic() - t0 < 15


def test_typos_are_errors_not_empty_answers(sqlite_url: str) -> None:
    assert run("--db", sqlite_url, "replay", str(EXAMPLE))[0] == 0
    code, _, err = run("--db", sqlite_url, "events", "--kind", "bogus")
    assert code == 2 and "bogus" in err
    for command in (["events"], ["failovers"], ["alerts"], ["report"]):
        code, _, err = run("--db", sqlite_url, *command, "--pair", "nosuch")
        assert code == 1 and "no pair 'nosuch' (known: fw-dc, fw-edge)" in err, command
    code, _, err = run("--db", sqlite_url, "silence", "add", "--pair", "fw-edgee")
    assert code == 1 and "needs --force" in err
    assert run("--db", sqlite_url, "silence", "add", "--pair", "fw-new", "--force")[0] == 0


def test_help_names_the_effective_store_without_its_password(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["--help"], env={"HAMON_DB": "postgresql+psycopg://noc:s3cret@db.example:5432/hamon"})
    assert out.exit_code == 0
    assert "Store: postgresql+psycopg://noc:***@db.example:5432/hamon (HAMON_DB; --db overrides)" in out.output
    assert "s3cret" not in out.output
    out = runner.invoke(main, ["--help"], env={"HAMON_DB": "", "XDG_DATA_HOME": str(tmp_path)})
    assert f"Store: sqlite:///{tmp_path}/hamon/hamon.db (default; --db overrides)" in out.output
    assert "Store:" not in runner.invoke(main, ["events", "--help"]).output  # only the top level says it


def test_alerts_since_until_list_what_was_open_in_the_range(sqlite_url: str) -> None:
    run("--db", sqlite_url, "replay", str(EXAMPLE))

    def alerts(*args: str) -> list[tuple[str, str]]:
        code, out, _ = run("--db", sqlite_url, "alerts", *args, "--json")
        assert code == 0
        return sorted((a["pair"], a["kind"]) for a in json.loads(out))

    every = alerts()
    assert every == [
        ("fw-dc", "failover"),
        ("fw-dc", "interface_threshold"),
        ("fw-edge", "failover"),
        ("fw-edge", "unit_failed"),
    ]
    assert alerts("--since", "2026-11-25T10:01:00Z", "--until", "2026-11-25T10:02:00Z") == every[2:]  # fw-edge's
    assert alerts("--since", "2026-11-25T10:06:00Z") == every[:2]  # fw-edge's ended at 10:05:03
    assert alerts("--until", "2026-11-25T10:03:16Z") == every[2:]  # fw-dc's started at 10:03:16
    assert alerts("--since", "2026-11-25T10:08:01Z") == []


def test_limit_takes_the_newest_listed_oldest_first(sqlite_url: str, tmp_path: Path) -> None:
    run("--db", sqlite_url, "replay", str(EXAMPLE))
    every = json.loads(run("--db", sqlite_url, "events", "--json")[1])
    assert json.loads(run("--db", sqlite_url, "events", "--limit", "3", "--json")[1]) == every[-3:]
    edge = [e for e in every if e["pair"] == "fw-edge"]
    assert json.loads(run("--db", sqlite_url, "events", "--pair", "fw-edge", "--limit", "2", "--json")[1]) == edge[-2:]
    bad = tmp_path / "bad.log"
    bad.write_text(
        "".join(f"<161>Nov 25 0999 10:00:0{i} fwy : %ASA-1-104001: (Primary) Switching to ACTIVE\n" for i in range(4))
    )
    run("--db", sqlite_url, "replay", str(bad))
    held = json.loads(run("--db", sqlite_url, "quarantine", "--json")[1])
    assert [q["line_no"] for q in held] == [1, 2, 3, 4]
    newest = json.loads(run("--db", sqlite_url, "quarantine", "--limit", "2", "--json")[1])
    assert [q["line_no"] for q in newest] == [3, 4]


def test_a_config_file_gives_the_defaults_an_admin_shell_needs(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    db = tmp_path / "deployed.db"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("pairs:\n  - name: edge-renamed\n    match: [fw-edge]\n")
    conf = tmp_path / "config.yaml"
    conf.write_text(f"db: sqlite:///{db}\ninventory: {inventory}\ntz: Europe/Berlin\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HAMON_DB", "HAMON_INVENTORY")} | {
        "HAMON_CONFIG": str(conf)
    }

    def hamon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hamon", *args], capture_output=True, text=True, env=env, timeout=60
        )

    example = Path(__file__).resolve().parent.parent / "examples" / "asa-pair.log"
    assert hamon("replay", str(example), "--no-progress").returncode == 0
    assert db.exists(), "the store the config names"
    pairs = json.loads(hamon("pairs", "--json").stdout)
    assert "edge-renamed" in {p["pair"] for p in pairs}, "the inventory the config names"
    helptext = hamon("--help").stdout
    assert f"Store: sqlite:///{db} ({conf}; --db overrides)" in helptext and f"Config: {conf}" in helptext
    other = tmp_path / "other.db"
    assert hamon("--db", f"sqlite:///{other}", "replay", str(example), "--no-progress").returncode == 0
    assert other.exists()  # the command line goes first
    conf.write_text("db: x\ncolour: blue\n")
    bad = hamon("events")
    assert bad.returncode == 1 and f"{conf}: unknown key 'colour'" in bad.stderr


def test_pairs_and_sources_take_pair_like_every_listing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    example = Path(__file__).parent.parent / "examples" / "asa-pair.log"
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "replay", str(example), "--no-progress"]).exit_code == 0
    pairs = json.loads(runner.invoke(main, ["--db", db, "pairs", "--pair", "fw-dc", "--json"]).stdout)
    assert [p["pair"] for p in pairs] == ["fw-dc"]
    sources = json.loads(runner.invoke(main, ["--db", db, "sources", "--pair", "fw-edge", "--json"]).stdout)
    assert sources and {s["pair"] for s in sources} == {"fw-edge"}
    for cmd in ("pairs", "sources"):
        r = runner.invoke(main, ["--db", db, cmd, "--pair", "fw-edgee"])
        assert r.exit_code == 1 and "no pair 'fw-edgee' (known: fw-dc, fw-edge)" in r.output


def test_replay_summary_lists_the_busiest_pairs_not_a_whole_fleet(tmp_path: Path) -> None:
    lines = [
        f"<161>Nov 25 2026 10:00:{i % 60:02d} fw{n:02d} : %ASA-1-105032: LAN Failover interface is down"
        for n in range(30)
        for i in range(1 + n % 3)
    ]
    cap = tmp_path / "fleet.log"
    cap.write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'h.db'}", "replay", str(cap), "--no-progress"])
    assert r.exit_code == 0, r.output
    listed = [line.split()[0] for line in r.stdout.splitlines() if line.startswith("fw")]
    assert len(listed) == 20 and listed == sorted(listed)
    assert {int(name[2:]) % 3 for name in listed} == {1, 2}  # the busiest: 2 and 3 events, not 1
    assert "… and 10 more pairs (the 20 with the most events are shown; all in --json" in r.stdout


def test_follow_lines_print_wire_text_as_it_came_with_controls_escaped() -> None:
    """`events --follow` and `alerts --follow` echo plain lines (no rich markup): brackets stay as
    the device wrote them, control characters are escaped as everywhere else."""
    from dataclasses import replace

    from helpers import parse_bytes

    from hamon.cli.correlation import _alert_line
    from hamon.cli.events import _event_line

    result, _ = parse_bytes(b"<161>Nov 25 2026 10:00:00 fw : %ASA-1-105032: LAN Failover interface is down\n")
    (e,) = result.events
    e = replace(e, text="LAN Failover [inside] is down\x1b[2J")
    assert _event_line(e).endswith("LAN Failover [inside] is down#033[2J")
    alert = {"ended_at": None, "ack": None, "started_at": "2026-11-25T10:00:00Z", "unit": None, "group": None,
             "kind": "failover_link_down", "severity": "critical", "pair": "fw", "alert_id": "0123456789abcdef",
             "detail": "link [failover] down\x07"}  # fmt: skip
    assert _alert_line("opened", alert).endswith("01234567  link [failover] down#007")
