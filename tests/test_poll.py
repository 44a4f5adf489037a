"""SSH polls: TextFSM parsing of `show failover*`, poll results as events, and `hamon serve` polling
an ASA simulator over real SSH on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from asa_sim import AsaSimulator, fixture
from helpers import ServiceThread, cli, wait_for
from hypothesis import given, settings
from hypothesis import strategies as st

from hamon.collectors.ssh_poll import Credentials, load_credentials
from hamon.errors import ConfigError
from hamon.poll.events import history_events, status_events
from hamon.poll.parse import CliParseError, parse_history, parse_show_failover, parse_state

UTC = dt.UTC
PASSWORD = "s3cret-Pass"


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- parsing -----------------------------------------------------------------------------------
def test_show_failover_active_standby_merges_ntc_and_hamon_templates() -> None:
    s = parse_show_failover(fixture("show_failover_as_primary_active.txt"))
    assert s.enabled and s.unit == "primary" and s.mode == "active-standby"
    assert (s.failover_link_name, s.failover_link, s.state_link) == ("folink", "up", "up")
    assert (s.our_version, s.mate_version) == ("9.18(3)56", "9.18(3)56")
    assert (s.unit_polltime, s.unit_holdtime, s.interface_polltime, s.interface_holdtime) == (1, 15, 5, 25)
    assert (s.interface_policy, s.monitored_interfaces) == ("1", 3)
    assert [(h.unit, h.this, h.group, h.state) for h in s.hosts] == [
        ("primary", True, None, "Active"),
        ("secondary", False, None, "Standby Ready"),
    ]
    assert s.interfaces == {"outside": "Normal", "inside": "Normal", "dmz": "Normal"}  # from ntc-templates


def test_show_failover_active_active_groups_and_subsecond_timers() -> None:
    s = parse_show_failover(fixture("show_failover_aa_primary.txt"))
    assert s.mode == "active-active" and s.unit == "primary"
    assert (s.unit_polltime, s.unit_holdtime, s.interface_polltime, s.interface_holdtime) == (0.5, 3, 2, 10)
    assert (s.interface_policy, s.monitored_interfaces) == ("50%", 8)
    assert [(h.unit, h.this, h.group, h.state) for h in s.hosts] == [
        ("primary", True, 1, "Active"),
        ("primary", True, 2, "Standby Ready"),
        ("secondary", False, 1, "Standby Ready"),
        ("secondary", False, 2, "Active"),
    ]


def test_not_show_failover_output_is_a_clear_error() -> None:
    with pytest.raises(CliParseError, match="not `show failover`"):
        parse_show_failover("ERROR: % Invalid input detected at '^' marker.\n")


def test_history_rows_with_the_peer_section() -> None:
    rows = parse_history(fixture("show_failover_history_secondary.txt"))
    assert len(rows) == 15 and sum(r.peer for r in rows) == 3
    assert (rows[6].at, rows[6].from_state, rows[6].to_state, rows[6].reason) == (
        t("2026-11-24T03:11:52"),
        "Standby Ready",
        "Just Active",
        "HELLO not heard from mate",
    )
    assert (rows[12].peer, rows[12].to_state, rows[12].reason) == (True, "Failed", "Interface check")


def test_show_failover_state_per_group_with_last_failure_times() -> None:
    aa = parse_state(fixture("show_failover_state_aa.txt"))
    assert [(r["unit"], r["this"], r["group"], r["state"], r["last_failure"]) for r in aa] == [
        ("primary", True, 1, "Active", None),
        ("primary", True, 2, "Standby Ready", None),
        ("secondary", False, 1, "Standby Ready", "Comm Failure"),
        ("secondary", False, 2, "Active", "Comm Failure"),
    ]
    assert aa[2]["last_failure_at"] == t("2026-11-20T11:02:29")
    a_s = parse_state(fixture("show_failover_state_as.txt"))
    assert [(r["unit"], r["state"], r["last_failure"]) for r in a_s] == [
        ("secondary", "Standby Ready", "Ifc Failure"),
        ("primary", "Active", None),
    ]


def test_history_becomes_transitions_with_device_times_and_causes() -> None:
    rows = parse_history(fixture("show_failover_history_secondary.txt"))
    events = history_events(rows, "secondary", "fw-lab", t("2026-11-25T08:15:40"))
    assert [(e.at, e.unit.value if e.unit else None, e.kind, e.cause_text) for e in events] == [
        (t("2026-11-24T03:11:52"), "secondary", "switch_active", "HELLO not heard from mate"),
        (t("2026-11-24T03:12:07"), "secondary", "switch_standby", "Other unit wants me Standby"),
        (t("2026-11-24T03:11:49"), "primary", "switch_failed", "Interface check"),
        (t("2026-11-24T03:12:07"), "primary", "switch_active", "Set by the config command"),
    ]
    assert {e.msg_id for e in events} == {104001, 104002, 104003}
    assert all(e.source == "ssh:fw-lab" and e.text.startswith("show failover history") for e in events)
    # The same row read again (next poll, or from the peer's side) is the same event.
    again = history_events(rows, "secondary", "fw-lab", t("2026-11-25T08:16:40"))
    assert [e.event_id for e in again] == [e.event_id for e in events]


def test_status_events_only_on_change() -> None:
    at = t("2026-11-25T08:00:00")
    first = parse_show_failover(fixture("show_failover_as_secondary_standby.txt"))
    evs = status_events(first, None, "fw-lab", at)
    assert [(e.kind, e.my_state, e.peer_state, e.status) for e in evs] == [
        ("polled_state", "Standby Ready", "Active", "up"),
        ("failover_link_up", None, None, None),
        ("polled_state_link", None, None, "up"),
    ]
    assert status_events(first, first, "fw-lab", at) == []
    down = parse_show_failover(
        fixture("show_failover_as_secondary_standby.txt").replace(
            "GigabitEthernet0/4 (up)", "GigabitEthernet0/4 (down)"
        )
    )
    assert [(e.kind, e.status, e.text) for e in status_events(down, first, "fw-lab", at)] == [
        ("polled_state_link", "down", "show failover (secondary): state link down")
    ]


def test_a_state_link_only_a_poll_shows_down_opens_state_link_down_and_the_next_poll_closes_it(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No syslog at all: `show failover` over SSH says the state link is down, then up again."""
    down = {
        **SECONDARY,
        "show failover": SECONDARY["show failover"].replace("GigabitEthernet0/4 (up)", "GigabitEthernet0/4 (down)"),
    }
    with AsaSimulator(down) as sim:
        polling = Polling(sqlite_url, _setup(tmp_path, sim, monkeypatch))
        try:
            opened = wait_for(
                lambda: [a for a in cli(sqlite_url, "alerts", "--json") if a["kind"] == "state_link_down"]
            )
            assert opened[0]["ended_at"] is None and opened[0]["severity"] == "warning"
            assert cli(sqlite_url, "pairs", "--json")[0]["state_link"] == "down"
            sim.outputs["show failover"] = SECONDARY["show failover"]
            wait_for(lambda: cli(sqlite_url, "pairs", "--json")[0]["state_link"] == "up")
            (closed,) = [a for a in cli(sqlite_url, "alerts", "--json") if a["kind"] == "state_link_down"]
            assert closed["ended_at"] is not None
        finally:
            polling.stop()


def test_credentials_from_environment_and_secrets_file(tmp_path: Path) -> None:
    env = {"HAMON_SSH_USERNAME": "ops", "HAMON_SSH_PASSWORD": "pw-from-env"}
    assert load_credentials(None, env)[""] == Credentials("ops", "pw-from-env")
    assert "pw-from-env" not in repr(load_credentials(None, env))
    f = tmp_path / "secrets.yml"
    f.write_text("username: audit\npassword: file-pw\nhosts:\n  10.0.0.2: {password: other-pw}\n")
    creds = load_credentials(str(f), env)
    assert creds[""].username == "audit" and creds[""].password == "file-pw"
    assert creds["10.0.0.2"].password == "other-pw"
    f.write_text("username: audit\npasword: typo\n")
    with pytest.raises(ConfigError, match="unknown key 'pasword'"):
        load_credentials(str(f), env)
    with pytest.raises(ConfigError, match="need a username"):
        load_credentials(None, {})


# -- hamon serve polling the simulator ---------------------------------------------------------
SECONDARY = {
    "show failover": fixture("show_failover_as_secondary_standby.txt"),
    "show failover history": fixture("show_failover_history_secondary.txt"),
    "show failover state": fixture("show_failover_state_as.txt"),
}


def Polling(db: str, inventory: Path) -> ServiceThread:
    return ServiceThread(db, inventory, poll_interval=1.0)


def _setup(tmp_path: Path, sim: AsaSimulator, monkeypatch: pytest.MonkeyPatch, password: str = PASSWORD) -> Path:
    inv = tmp_path / "inventory.yml"
    inv.write_text(f"pairs:\n  - name: fw-lab\n    match: [fw-lab]\n    poll: ['127.0.0.1:{sim.port}']\n")
    monkeypatch.setenv("HAMON_SSH_USERNAME", "hamon")
    monkeypatch.setenv("HAMON_SSH_PASSWORD", password)
    monkeypatch.setenv("HAMON_SSH_KNOWN_HOSTS", str(sim.known_hosts(tmp_path / "known_hosts")))
    return inv


def _status(db: str) -> dict[str, Any]:
    services = cli(db, "status", "--json")["services"]
    return services[0]["counters"] if services else {}


def test_serve_polls_over_ssh_and_history_becomes_failovers(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with AsaSimulator(SECONDARY) as sim:
        polling = Polling(sqlite_url, _setup(tmp_path, sim, monkeypatch))
        try:
            failovers = wait_for(lambda: len(cli(sqlite_url, "failovers", "--json")) >= 2 and cli(
                sqlite_url, "failovers", "--json"
            ))  # fmt: skip
            assert [(f["at"], f["new_active"], f["previous_active"]) for f in failovers] == [
                ("2026-11-24T03:11:52Z", "secondary", "primary"),
                ("2026-11-24T03:12:07Z", "primary", "secondary"),
            ]
            assert failovers[1]["cause"] == "manual"
            assert sim.commands[:4] == ["terminal pager 0", *SECONDARY]
            polls = wait_for(lambda: _status(sqlite_url).get("polls"))
            assert polls[0]["ok"] and polls[0]["failover"]["unit_holdtime"] == 15
            human = cli(sqlite_url, "status")
            assert "Last polls" in human and "Standby" in human and "127.0.0.1" in human
            assert polls[0]["state"][0]["last_failure"] == "Ifc Failure"
            pair = cli(sqlite_url, "pairs", "--json")[0]
            assert pair["units"] == {"primary": "active", "secondary": "standby"}

            # Syslog lost: the next poll finds the secondary active and the primary failed.
            sim.outputs["show failover"] = (
                SECONDARY["show failover"]
                .replace("This host: Secondary - Standby Ready", "This host: Secondary - Active")
                .replace("Other host: Primary - Active", "Other host: Primary - Failed")
            )
            sim.outputs["show failover history"] = SECONDARY["show failover history"].replace(
                "==========================================================================\nPEER",
                "08:20:11 UTC Nov 25 2026\nStandby Ready              Just Active                "
                "Other unit has lower priority\n\n"
                "==========================================================================\nPEER",
            )
            wait_for(
                lambda: cli(sqlite_url, "pairs", "--json")[0]["units"] == {"primary": "failed", "secondary": "active"}
            )
            # History rows are handed over once, not at every poll (they would re-run the pair).
            wait_for(lambda: polling.service.poller.rounds >= 3)
            # Handed over once each, not at every poll (a repeated old row would re-run the pair):
            # 4 history rows, the state, the failover link and the state link; then the new row and
            # the new state.
            assert polling.service.counters.totals["polled_events"] == 4 + 3 + 1 + 1
            latest = wait_for(
                lambda: [f for f in cli(sqlite_url, "failovers", "--json") if f["at"].startswith("2026-11-25")]
            )
            assert latest[0]["new_active"] == "secondary" and latest[0]["at"] == "2026-11-25T08:20:11Z"
        finally:
            polling.stop()
    # The password is nowhere hamon writes: not in the store, its journal, nor the status.
    written = [p for p in tmp_path.rglob("*.db*") if p.is_file()] + list(tmp_path.rglob("*.hjl"))
    assert any(p.suffix == ".hjl" for p in written), "the polled events went through the journal"
    assert PASSWORD.encode() not in b"".join(p.read_bytes() for p in written)
    assert PASSWORD not in json.dumps(_status(sqlite_url))


def test_a_wrong_password_is_counted_and_shown_not_crashing(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with AsaSimulator(SECONDARY) as sim:
        polling = Polling(sqlite_url, _setup(tmp_path, sim, monkeypatch, password="wrong-one"))
        try:
            rejected = wait_for(lambda: _status(sqlite_url).get("rejected"))
            assert rejected[0]["transport"] == "ssh" and rejected[0]["reason"] == "authentication failed"
            polls = _status(sqlite_url)["polls"]
            assert polls[0]["ok"] is False and polls[0]["error"] == "authentication failed"
            assert sim.failed_logins >= 1 and sim.logins == 0
        finally:
            polling.stop()
    assert cli(sqlite_url, "events", "--json") == []


def test_user_exec_login_uses_enable(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with AsaSimulator(SECONDARY, enable_password="en-pw") as sim:
        inv = _setup(tmp_path, sim, monkeypatch)
        monkeypatch.setenv("HAMON_SSH_ENABLE_PASSWORD", "en-pw")
        polling = Polling(sqlite_url, inv)
        try:
            wait_for(lambda: len(cli(sqlite_url, "failovers", "--json")) >= 2)
            assert sim.commands[:2] == ["enable", "terminal pager 0"]
        finally:
            polling.stop()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000), st.sampled_from(sorted(SECONDARY.values())), st.integers(0, 2000))
def test_cli_parsers_never_fail_on_garbage(noise: str, real: str, cut: int) -> None:
    """Any output — garbage, or real output cut short and mixed with garbage — parses or is a CliParseError."""
    for text in (noise, real[:cut] + noise, noise + real):
        for parse in (parse_show_failover, parse_history, parse_state):
            try:
                result = parse(text)
            except CliParseError:
                continue
            if parse is parse_history:  # whatever parses becomes events without error
                history_events(result, "primary", "fw", t("2026-11-25T00:00:00"))  # type: ignore[arg-type]
            if parse is parse_show_failover:
                status_events(result, None, "fw", t("2026-11-25T00:00:00"))  # type: ignore[arg-type]
