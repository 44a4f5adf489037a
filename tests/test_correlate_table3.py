"""Table 3 of the failover chapter (Active/Standby), row by row: raw syslog in, JSON out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from scenario import P, S, U, iso, play

# The pair runs with the primary active and the secondary standby (a prior manual switch-back).
STEADY = [
    P(0, 104001, "Switching to ACTIVE - Set by the config command."),
    S(1, 104002, "Switching to STANDBY - Other unit wants me Standby."),
]


def test_active_unit_failed_fails_over_and_marks_active_failed(tmp_path: Path) -> None:
    # Power loss on the primary at ~100 s: the secondary stops hearing hellos, tests, and takes over
    # when the 15 s unit hold time expires.
    s = play(
        tmp_path,
        STEADY
        + [
            S(100, 105005, "Lost Failover communications with mate on interface failover"),
            S(103, 105008, "Testing Interface inside"),
            S(106, 105009, "Testing on interface inside Passed"),
            S(115, 103001, "No response from other firewall (reason code = 4)."),
            S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
        ],
    )
    fos = s.failovers()
    assert fos[-1] == {
        "pair": "fw",
        "group": None,
        "at": iso(115),
        "new_active": "secondary",
        "previous_active": "primary",
        "cause": "peer_unreachable",
        "cause_text": "HELLO not heard from mate",
        "detection_s": 15.0,
    }
    pair = s.pair()
    assert pair["units"] == {"primary": "failed", "secondary": "active"}
    assert pair["mode"] == "active-standby" and pair["groups"] == {}
    # The capture is in the past: the failover alert settled 15 minutes after the takeover; the
    # primary is still failed as far as anything said.
    assert s.kinds(open_only=True) == {"unit_failed"}
    fo_alert = [a for a in s.alerts() if a["kind"] == "failover"][-1]
    assert (fo_alert["started_at"], fo_alert["ended_at"]) == (iso(115), iso(115 + 900))
    assert "split_brain" not in s.kinds() and "slow_failover" not in s.kinds()


def test_formerly_active_unit_recovers_as_standby_without_failover(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
            P(400, 105002, "Enabling failover."),
            P(402, 104002, "Switching to STANDBY - Detected an Active mate"),
            S(403, 709003, "Beginning configuration replication: Send to mate."),
            P(403, 709005, "Beginning configuration replication: Receiving from mate."),
            S(410, 709004, "End Configuration Replication (ACT)"),
            P(410, 709006, "End Configuration Replication (STB)"),
        ],
    )
    assert [f["at"] for f in s.failovers()] == [iso(0), iso(115)]  # the recovery is no failover
    assert s.pair()["units"] == {"primary": "standby", "secondary": "active"}
    failed = [a for a in s.alerts() if a["kind"] == "unit_failed"]
    assert failed and failed[0]["unit"] == "primary" and failed[0]["ended_at"] == iso(402)
    assert not [a for a in s.alerts() if a["ended_at"] is None]


def test_standby_unit_failed_is_marked_failed_without_failover(tmp_path: Path) -> None:
    s = play(tmp_path, STEADY + [P(200, 103001, "No response from other firewall (reason code = 1).")])
    assert [f["at"] for f in s.failovers()] == [iso(0)]
    assert s.pair()["units"] == {"primary": "active", "secondary": "failed"}
    (alert,) = [a for a in s.alerts() if a["kind"] == "unit_failed"]
    assert alert["unit"] == "secondary" and alert["severity"] == "critical" and alert["ended_at"] is None


def test_failover_link_failed_during_operation_is_no_failover(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 105043, "Failover interface failed"),
            U(200, 105032, "LAN Failover interface is down"),
            P(260, 105042, "Failover interface OK"),
            U(260, 105031, "Failover LAN interface is up"),
        ],
    )
    before = len(s.failovers())
    assert before <= 1 and all(f["at"] == iso(0) for f in s.failovers())
    assert s.pair()["units"] == {"primary": "active", "secondary": "standby"}
    (link,) = [a for a in s.alerts() if a["kind"] == "failover_link_down"]
    assert (link["severity"], link["started_at"], link["ended_at"]) == ("critical", iso(200), iso(260))
    assert s.pair()["failover_link"] == "up"


def test_failover_link_failed_at_startup_makes_both_active(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        [
            U(0, 105032, "LAN Failover interface is down"),
            P(1, 104001, "Switching to ACTIVE - No Active unit found"),
            S(2, 104001, "Switching to ACTIVE - No Active unit found"),
            U(60, 411001, "Line protocol on Interface inside, changed state to up", 4),
        ],
    )
    assert s.pair()["units"] == {"primary": "active", "secondary": "active"}
    assert s.failovers() == []
    (split,) = [a for a in s.alerts() if a["kind"] == "split_brain"]
    assert (split["severity"], split["started_at"], split["ended_at"]) == ("critical", iso(2), None)
    assert "failover_link_down" in s.kinds(open_only=True)


def test_state_link_failed_is_no_failover(tmp_path: Path) -> None:
    inv = "pairs:\n  - name: fw\n    match: [fw]\n    state_interface: state\n"
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 105007, "Link status 'Down' on interface state"),
            P(300, 105006, "Link status 'Up' on interface state"),
        ],
        inventory=inv,
    )
    assert s.pair()["units"] == {"primary": "active", "secondary": "standby"}
    (alert,) = [a for a in s.alerts() if a["kind"] == "state_link_down"]
    assert (alert["severity"], alert["started_at"], alert["ended_at"]) == ("warning", iso(200), iso(300))


def test_state_link_failure_seen_as_a_burst_of_logical_update_errors(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            U(200, 210022, "LU missed 120 updates", 6),
            U(210, 210001, "LU sw_module_name error = 12", 3),
            U(220, 210022, "LU missed 300 updates", 6),
        ],
    )
    (alert,) = [a for a in s.alerts() if a["kind"] == "state_link_down"]
    # Five quiet minutes after the last error (the capture is in the past) the link counts as up.
    assert alert["started_at"] == iso(220) and alert["ended_at"] == iso(520)
    assert s.pair()["state_link"] == "up"


def test_interface_failure_on_active_above_threshold_fails_over(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 105008, "Testing Interface outside"),
            P(215, 105009, "Testing on interface outside Failed"),
            P(216, 104002, "Switching to STANDBY - Interface check"),
            S(
                216,
                104001,
                "Switching to ACTIVE - Other unit wants me Active. Primary unit switch reason: Interface check.",
            ),
        ],
    )
    fo = s.failovers()[-1]
    assert (fo["new_active"], fo["previous_active"], fo["cause"], fo["at"]) == (
        "secondary",
        "primary",
        "interface_failure",
        iso(216),
    )
    assert fo["detection_s"] == 16.0
    assert s.pair()["units"]["secondary"] == "active"
    thr = [a for a in s.alerts() if a["kind"] == "interface_threshold"]
    assert thr and thr[0]["unit"] == "primary" and thr[0]["started_at"] == iso(215)
    assert "split_brain" not in s.kinds()


def test_interface_failure_on_standby_above_threshold_marks_standby_failed(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(200, 105008, "Testing Interface inside"),
            S(210, 105009, "Testing on interface inside Failed"),
            S(211, 104003, "Switching to FAILED."),
        ],
    )
    assert s.pair()["units"] == {"primary": "active", "secondary": "failed"}
    assert all(f["at"] == iso(0) for f in s.failovers())
    assert {"interface_threshold", "unit_failed"} <= s.kinds(open_only=True)
    thr = next(a for a in s.alerts() if a["kind"] == "interface_threshold")
    assert thr["unit"] == "secondary"


def test_a_day_of_symptoms_without_a_failover_is_not_all_kept(monkeypatch) -> None:
    # Interface tests every 10 s for a day, then the peer is lost: only symptoms within the horizon
    # before a takeover count, so the machine keeps a bounded tail of them — and decides what it
    # decides keeping all of them.
    from helpers import parse_bytes
    from scenario import capture

    import hamon.correlate.machine as machine_module
    from hamon.correlate.machine import PairMachine
    from hamon.resolve.inventory import PairConfig

    day = [S(10 + 10 * i, 105008, "Testing Interface inside") for i in range(8640)]
    end = 86_500
    loss = [
        S(end, 105005, "Lost Failover communications with mate on interface failover"),
        S(end + 3, 105008, "Testing Interface inside"),
        S(end + 15, 103001, "No response from other firewall (reason code = 4)."),
        S(end + 15, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
    ]
    result, _ = parse_bytes(capture(STEADY + day + loss).encode(), reference=dt.datetime(2026, 11, 27, tzinfo=dt.UTC))

    def run() -> tuple[list[object], int]:
        m = PairMachine(PairConfig(name="fw"))
        outs: list[object] = []
        longest = 0
        for e in result.events:
            outs += m.apply(e)
            longest = max([longest, *(len(x) for x in m.s.symptoms.values())])
        outs += m.advance(result.events[-1].at.timestamp() + 3600)
        return outs, longest

    kept, longest = run()
    assert longest <= 2 * 300 / 10 + 5  # two horizons of one symptom every 10 s
    monkeypatch.setattr(machine_module, "SYMPTOMS_KEPT", 10**9)
    monkeypatch.setattr(machine_module, "SYMPTOMS_MAX", 10**9)
    everything, longest_all = run()
    assert longest_all > 8000
    assert kept == everything
    (fo,) = [o for o in kept if type(o).__name__ == "Failover" and o.previous_active == "primary"][-1:]
    assert (fo.new_active, fo.cause) == ("secondary", "peer_unreachable")


def test_a_pair_keeps_the_roles_of_at_most_sources_max_sender_addresses() -> None:
    from dataclasses import replace

    from helpers import parse_bytes
    from scenario import capture

    from hamon.correlate.machine import SOURCES_MAX, PairMachine
    from hamon.resolve.inventory import PairConfig

    result, _ = parse_bytes(capture([*STEADY, P(100, 105008, "Testing Interface inside")]).encode())
    steady, probe = result.events[:-1], result.events[-1]
    m = PairMachine(PairConfig(name="fw"))
    for e in steady:
        m.apply(e)
    for i in range(SOURCES_MAX + 500):  # the primary's message from ever new addresses
        m.apply(replace(probe, source=f"10.9.{i // 256}.{i % 256}", event_id=f"{i:032x}", seq=10 + i))
    assert len(m.s.sources) == SOURCES_MAX
    assert m.s.sources["10.9.0.0"] == "active" and "10.9.17.243" not in m.s.sources
