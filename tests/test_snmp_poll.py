"""cfwHardwareStatusTable polls with pysnmp 7 against a simulated ASA agent on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import ServiceThread, cli, parse_bytes, wait_for
from snmp_agent_sim import COMMUNITY, V3_AUTH_KEY, V3_PRIV_KEY, V3_USER, SnmpAgentSimulator, primary_active

from hamon.collectors.snmp_poll import read_table
from hamon.correlate.machine import PairMachine
from hamon.poll.events import snmp_hardware_events
from hamon.resolve.inventory import PairConfig
from hamon.service.serve import ServeConfig, Service
from hamon.store import Store


def test_table_rows_name_the_roles_the_link_and_the_answering_unit() -> None:
    cells = {(2, 4): "LAN_FO Gi0/3", (3, 4): 3, (4, 4): "LAN_FO Gi0/3"}
    cells |= {(2, 6): "Primary unit", (3, 6): 10, (4, 6): "Standby unit"}
    cells |= {(2, 7): "Secondary unit (this device)", (3, 7): 9, (4, 7): "Active unit"}
    hw = read_table(cells)
    assert (hw.this_unit, hw.roles, hw.failover_link) == (
        "secondary",
        {"primary": "standby", "secondary": "active"},
        "down",
    )
    off = read_table({(2, 6): "Primary unit (this device)", (3, 6): 3, (4, 6): "Failover Off"})
    assert off.roles == {"primary": "failover off"}


def test_failover_off_is_no_failover_link_down() -> None:
    # A unit with failover off answers the LAN row with 3 (down) and `not Configured`.
    cells = {(2, 4): "Failover LAN Interface", (3, 4): 3, (4, 4): "not Configured"}
    cells |= {(2, 6): "Primary unit (this device)", (3, 6): 3, (4, 6): "Failover Off"}
    cells |= {(2, 7): "Secondary unit", (3, 7): 3, (4, 7): "Failover Off"}
    hw = read_table(cells)
    assert hw.failover_link is None and hw.roles == {"primary": "failover off", "secondary": "failover off"}
    events = snmp_hardware_events(hw.this_unit, hw.roles, hw.failover_link, None, "fw", dt.datetime.now(dt.UTC))
    assert [e.msg_id for e in events] == [0]  # the units' state; no 105032 failover link down


def test_snmp_standby_does_not_end_a_known_sync() -> None:
    """The table cannot tell Standby Ready from syncing: a sync known from syslog stands."""
    result, _ = parse_bytes(
        b"<166>Nov 25 2026 10:00:00 fw : %ASA-1-104001: (Primary) Switching to ACTIVE - Set by the config command.\n"
        b"<166>Nov 25 2026 10:00:05 fw : %ASA-6-709005: (Secondary) Beginning configuration replication: "
        b"Receiving from mate.\n"
    )
    m = PairMachine(PairConfig(name="fw"))
    for e in result.events:
        m.apply(e)
    m.advance(result.events[-1].at.timestamp() + 60)
    assert m.s.role(0, "secondary") == "syncing"
    at = result.events[-1].at.replace(second=30)
    for e in snmp_hardware_events("primary", {"primary": "active", "secondary": "standby"}, "up", None, "fw", at):
        m.apply(e)
    assert (m.s.role(0, "primary"), m.s.role(0, "secondary")) == ("active", "syncing")


def Polling(db: str, inventory: Path, **cfg: Any) -> ServiceThread:
    return ServiceThread(db, inventory, poll_interval=0.5, poll_timeout=0.5, **cfg)


def _inventory(tmp_path: Path, port: int) -> Path:
    inv = tmp_path / "inventory.yml"
    inv.write_text(f"pairs:\n  - name: fw-snmp\n    match: [fw-snmp]\n    snmp_poll: ['127.0.0.1:{port}']\n")
    return inv


def _counters(db: str) -> dict[str, Any]:
    services = cli(db, "status", "--json")["services"]
    return services[0]["counters"] if services else {}


def test_serve_polls_the_table_v2c_and_follows_role_and_link_changes(sqlite_url: str, tmp_path: Path) -> None:
    with SnmpAgentSimulator(primary_active()) as agent:
        polling = Polling(sqlite_url, _inventory(tmp_path, agent.port), snmp_poll={"community": COMMUNITY})
        try:
            pairs = lambda: cli(sqlite_url, "pairs", "--json")  # noqa: E731
            wait_for(lambda: pairs() and pairs()[0]["units"] == {"primary": "active", "secondary": "standby"})
            assert pairs()[0]["failover_link"] == "up"
            # The secondary took over (the primary, answering, now says so) and the failover link went down.
            agent.rows[6] = ["Primary unit (this device)", 10, "Standby unit"]
            agent.rows[7] = ["Secondary unit", 9, "Active unit"]
            agent.rows[4] = ["LAN_FO GigabitEthernet0/3", 3, "LAN_FO GigabitEthernet0/3"]
            wait_for(lambda: pairs()[0]["units"] == {"primary": "standby", "secondary": "active"})
            alerts = wait_for(lambda: cli(sqlite_url, "alerts", "--open", "--kind", "failover_link_down", "--json"))
            assert alerts[0]["pair"] == "fw-snmp"
            # The status row is written on its own period: wait for the one that carries the polls.
            polls = wait_for(lambda: _counters(sqlite_url).get("polls"))
            assert polls[0]["ok"] and polls[0]["hardware"]["this_unit"] == "primary"
            events = cli(sqlite_url, "events", "--json")
            assert {e["source"] for e in events} == {"snmp-poll:fw-snmp"}
            assert sum(e["kind"] == "polled_state" for e in events) == 2  # one per change, not per poll
        finally:
            polling.stop()


def test_v3_authpriv_polls_and_a_wrong_community_is_counted(sqlite_url: str, tmp_path: Path) -> None:
    with SnmpAgentSimulator(primary_active()) as agent:
        v3 = {"user": V3_USER, "auth": "SHA224", "auth_key": V3_AUTH_KEY, "priv": "AES", "priv_key": V3_PRIV_KEY}
        polling = Polling(sqlite_url, _inventory(tmp_path, agent.port), snmp_poll=v3)
        try:
            wait_for(lambda: cli(sqlite_url, "pairs", "--json"))
        finally:
            polling.stop()
    other = tmp_path / "other"
    other.mkdir()
    db = f"sqlite:///{other / 'hamon.db'}"
    with SnmpAgentSimulator(primary_active()) as agent:
        polling = Polling(db, _inventory(other, agent.port), snmp_poll={"community": "not-the-community"})
        try:
            rejected = wait_for(lambda: _counters(db).get("rejected"), timeout=15)
            assert rejected[0]["transport"] == "snmp-poll" and "timeout" in rejected[0]["reason"].lower()
            assert _counters(db)["polls"][0]["ok"] is False
        finally:
            polling.stop()
    assert cli(db, "events", "--json") == []


def test_snmp_polls_need_credentials(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAMON_SNMP_POLL_COMMUNITY", raising=False)
    from hamon.errors import ConfigError

    with pytest.raises(ConfigError, match="need a community"):
        Service(ServeConfig(syslog_udp=["127.0.0.1:0"]), Store(sqlite_url), str(_inventory(tmp_path, 1161))).start()


def test_sighup_starts_and_stops_polls_with_the_inventory(sqlite_url: str, tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yml"
    inv.write_text("pairs:\n  - name: fw-snmp\n    match: [fw-snmp]\n")
    with SnmpAgentSimulator(primary_active()) as agent:
        polling = Polling(sqlite_url, inv, snmp_poll={"community": COMMUNITY})
        try:
            assert polling.service.snmp_poller is None
            _inventory(tmp_path, agent.port)  # the same file, now with snmp_poll
            polling.service.reload.set()  # what SIGHUP does
            wait_for(lambda: cli(sqlite_url, "pairs", "--json"))
            assert polling.service.snmp_poller is not None and agent.requests > 0
            inv.write_text("pairs:\n  - name: fw-snmp\n    match: [fw-snmp]\n")
            polling.service.reload.set()
            wait_for(lambda: polling.service.snmp_poller is None)
            seen = agent.requests
            time.sleep(1.5)  # three poll intervals
            assert agent.requests == seen  # no longer polled
        finally:
            polling.stop()
