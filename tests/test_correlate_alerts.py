"""Every alert kind from raw syslog, split-brain without false alarms, and determinism."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import Line, P, S, Scenario, U, capture, iso, play

STEADY = [
    P(0, 104001, "Switching to ACTIVE - Set by the config command."),
    S(1, 104002, "Switching to STANDBY - Other unit wants me Standby."),
]
MANUAL = [  # `no failover active` on the primary: both units log their side of it
    P(
        100,
        104002,
        "Switching to STANDBY - Other unit wants me Standby. Secondary unit switch reason: Set by the config command.",
    ),
    S(100, 104001, "Switching to ACTIVE - Other unit wants me Active."),
]


def _manual(at: float, to: str) -> list[Line]:
    new, old = (S, P) if to == "secondary" else (P, S)
    return [
        new(at, 104001, "Switching to ACTIVE - Set by the config command."),
        old(at, 104002, "Switching to STANDBY - Other unit wants me Standby."),
    ]


def test_failover_alert_for_every_failover_resolving_when_the_pair_is_whole(tmp_path: Path) -> None:
    s = play(tmp_path, STEADY + MANUAL)
    fo = s.failovers()[-1]
    assert (fo["new_active"], fo["previous_active"], fo["cause"], fo["detection_s"]) == (
        "secondary",
        "primary",
        "manual",
        None,
    )
    alerts = [a for a in s.alerts() if a["kind"] == "failover"]
    assert len(alerts) == len(s.failovers()) == 2
    assert alerts[-1]["severity"] == "warning" and alerts[-1]["unit"] == "secondary"
    # The old active is standby at once; the alert ends when the merge window closes, so that it does
    # not open and close in one instant.
    assert alerts[-1]["ended_at"] == iso(110)


@pytest.mark.parametrize("skew", [-4.0, 0.0, 4.0])
@pytest.mark.parametrize("order", ["standby-first", "active-first"])
def test_manual_failover_is_never_split_brain_whatever_the_order_or_clock_skew(
    tmp_path: Path, skew: float, order: str
) -> None:
    lines = STEADY + (MANUAL if order == "standby-first" else MANUAL[::-1])
    s = play(tmp_path, lines, skew={"secondary": skew})
    assert "split_brain" not in s.kinds()
    fo = s.failovers()[-1]
    assert (fo["new_active"], fo["previous_active"], fo["cause"]) == ("secondary", "primary", "manual")
    assert fo["at"] == iso(100 + skew)  # the new active's own message gives the time
    assert len(s.failovers()) == 2
    assert s.pair()["units"] == {"primary": "standby", "secondary": "active"}


def test_unit_loss_with_a_silent_old_active_is_not_split_brain(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
            S(300, 105008, "Testing Interface inside"),
            S(301, 105009, "Testing on interface inside Passed"),
        ],
    )
    assert "split_brain" not in s.kinds()


def test_split_brain_when_the_written_off_unit_keeps_speaking_as_active(tmp_path: Path) -> None:
    # One switch carries both the failover and data links and fails: each unit loses the other.
    s = play(
        tmp_path,
        STEADY
        + [
            S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
            P(130, 103001, "No response from other firewall (reason code = 4)."),
            P(140, 105005, "Lost Failover communications with mate on interface inside"),
        ],
    )
    (split,) = [a for a in s.alerts() if a["kind"] == "split_brain"]
    assert (split["started_at"], split["ended_at"], split["severity"]) == (iso(130), None, "critical")
    assert s.pair()["units"] == {"primary": "active", "secondary": "active"}


def test_split_brain_from_the_vpn_witness_and_its_resolution(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            U(
                200,
                720032,
                "(VPN-Secondary) HA status callback: id=3,seq=200,grp=0,event=406,op=130,my=Active,peer=Active.",
                6,
            ),
            P(260, 104002, "Switching to STANDBY - Detected an Active mate"),
        ],
    )
    (split,) = [a for a in s.alerts() if a["kind"] == "split_brain"]
    assert (split["started_at"], split["ended_at"]) == (iso(200), iso(260))


def test_brief_both_active_within_the_grace_is_not_split_brain(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            U(
                200,
                720032,
                "(VPN-Secondary) HA status callback: id=3,seq=200,grp=0,event=406,op=130,my=Active,peer=Active.",
                6,
            ),
            P(203, 104002, "Switching to STANDBY - Other unit wants me Standby"),
        ],
    )
    assert "split_brain" not in s.kinds()


def test_flapping_after_three_failovers_in_ten_minutes_and_its_end(tmp_path: Path) -> None:
    lines = STEADY + _manual(100, "secondary") + _manual(200, "primary") + _manual(300, "secondary")
    lines += [S(1000, 105008, "Testing Interface inside")]  # later traffic moves event time on
    s = play(tmp_path, lines)
    (flap,) = [a for a in s.alerts() if a["kind"] == "flapping"]
    # the prelude's switch at 0 is the first of them; ten minutes after the last one it is over
    assert (flap["severity"], flap["started_at"], flap["ended_at"]) == ("critical", iso(0), iso(900))


def test_flapping_reported_by_the_device(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY + [P(50, 105037, "(Primary and Standby) Both units are switching back and forth as the active unit")],
    )
    (flap,) = [a for a in s.alerts() if a["kind"] == "flapping"]
    assert (flap["started_at"], flap["ended_at"]) == (iso(50), iso(650))  # quiet for the flap window since


def test_slow_failover_when_detection_exceeds_the_hold_time(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(100, 105005, "Lost Failover communications with mate on interface failover"),
            S(131, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
        ],
    )
    assert s.failovers()[-1]["detection_s"] == 31.0
    (slow,) = [a for a in s.alerts() if a["kind"] == "slow_failover"]
    assert slow["severity"] == "warning" and slow["unit"] == "secondary" and "allows 20.0s" in slow["detail"]


def test_slow_failover_follows_the_configured_hold_time(tmp_path: Path) -> None:
    inv = "pairs:\n  - name: fw\n    match: [fw]\n    unit_polltime: 3\n    unit_holdtime: 30\n"
    s = play(
        tmp_path,
        STEADY
        + [
            S(100, 105005, "Lost Failover communications with mate on interface failover"),
            S(131, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
        ],
        inventory=inv,
    )
    assert "slow_failover" not in s.kinds()


@pytest.mark.parametrize(
    ("msg_id", "text", "severity"),
    [
        (103007, "Mate version 9.20(2)21 is not identical with ours 9.20(2).", "warning"),
        (103006, "Mate version 9.18(3) is not compatible with ours 9.20(2).", "critical"),
    ],
)
def test_version_mismatch(tmp_path: Path, msg_id: int, text: str, severity: str) -> None:
    s = play(tmp_path, STEADY + [S(200, msg_id, text)])
    (alert,) = [a for a in s.alerts() if a["kind"] == "version_mismatch"]
    assert alert["severity"] == severity and alert["ended_at"] is None and "9.20(2)" in alert["detail"]


def test_config_sync_failed_and_resolved_by_a_completed_sync(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 105022, "Config replication failed with reason = CFG_SYNC_TIMEOUT"),
            S(300, 709006, "End Configuration Replication (STB)"),
        ],
    )
    (alert,) = [a for a in s.alerts() if a["kind"] == "config_sync_failed"]
    assert (alert["severity"], alert["started_at"], alert["ended_at"]) == ("critical", iso(200), iso(300))
    assert "CFG_SYNC_TIMEOUT" in alert["detail"]


def test_failover_disabled_by_command_and_by_mismatch(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 105001, "Disabling failover."),
            P(300, 105002, "Enabling failover."),
            P(400, 105044, "Mate operational mode (multi) is not compatible with my mode (single)."),
        ],
    )
    alerts = [a for a in s.alerts() if a["kind"] == "failover_disabled"]
    assert [(a["started_at"], a["ended_at"]) for a in alerts] == [(iso(200), iso(300)), (iso(400), None)]
    assert "mode differs" in alerts[1]["detail"]


FULL = STEADY + [
    S(100, 105005, "Lost Failover communications with mate on interface failover"),
    S(103, 105008, "Testing Interface inside"),
    S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
    P(400, 105002, "Enabling failover."),
    P(402, 104002, "Switching to STANDBY - Detected an Active mate"),
    P(403, 709005, "Beginning configuration replication: Receiving from mate."),
    P(410, 709006, "End Configuration Replication (STB)"),
    *_manual(500, "primary"),
    P(700, 105043, "Failover interface failed"),
    P(760, 105042, "Failover interface OK"),
    *_manual(800, "secondary"),
    *_manual(900, "primary"),
    P(4200, 105008, "Testing Interface outside"),
    P(4210, 105009, "Testing on interface outside Failed"),
    P(4211, 104002, "Switching to STANDBY - Interface check"),
    S(4211, 104001, "Switching to ACTIVE - Other unit wants me Active."),
    S(8000, 105022, "Config replication failed with reason = CFG_SYNC_TIMEOUT"),
]


def _everything(s: Scenario) -> tuple[object, ...]:
    # received_at is the capture file's time: it differs between files and is not the correlator's
    # Events of one device second are listed in arrival order, which reordered input changes.
    events = sorted(
        ({k: v for k, v in e.items() if k != "received_at"} for e in s.run("events", "--json")),
        key=lambda e: e["event_id"],
    )
    return (s.failovers(), s.alerts(), s.pair(), events)


@pytest.mark.parametrize("cut", [5, 11, 15, 19, 22])
def test_replaying_in_two_halves_equals_replaying_whole(tmp_path: Path, cut: int) -> None:
    (tmp_path / "whole").mkdir()
    (tmp_path / "halves").mkdir()
    whole = play(tmp_path / "whole", FULL)
    halves = Scenario(tmp_path / "halves")
    halves.replay(capture(FULL[:cut]))
    halves.replay(capture(FULL[cut:]))
    assert _everything(halves) == _everything(whole)
    halves.replay(capture(FULL))  # and the whole again on top changes nothing
    assert _everything(halves) == _everything(whole)


def test_late_lines_arriving_after_later_ones_give_the_same_result(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = play(tmp_path / "a", FULL)
    late = Scenario(tmp_path / "b")
    late.replay(capture(FULL[:8] + FULL[10:]))
    late.replay(capture(FULL[8:10]))  # two lines from the middle arrive last
    assert _everything(late) == _everything(whole)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), dup=st.floats(0.0, 0.5), window=st.floats(0.0, 5.0))
def test_duplicates_and_reordering_within_the_window_change_nothing(
    tmp_path_factory: pytest.TempPathFactory, seed: int, dup: float, window: float
) -> None:
    rng = random.Random(seed)
    base = tmp_path_factory.mktemp("base")
    reference = play(base, FULL)
    lines = capture(FULL).splitlines()
    noisy = [line for line in lines for _ in range(2 if rng.random() < dup else 1)]  # relays duplicate
    # Reorder within the window: each line moves up to `window` places (lines are seconds apart or less).
    keyed = sorted(enumerate(noisy), key=lambda p: p[0] + rng.random() * window)
    shuffled = [line for _, line in keyed]
    other = Scenario(tmp_path_factory.mktemp("noisy"))
    other.replay("\n".join(shuffled) + "\n")
    assert _everything(other) == _everything(reference)


def test_a_unit_is_tracked_for_at_most_the_interfaces_it_can_monitor(tmp_path: Path) -> None:
    # A unit monitors up to 1025 interfaces (chapter); names beyond that (a hostile or broken sender)
    # do not count for the interface policy, nor does the correlator keep them.
    lines = STEADY + [S(200 + n * 0.001, 105009, f"Testing on interface if{n:04d} Failed") for n in range(1030)]
    s = Scenario(tmp_path)
    summary = s.replay(capture(lines))
    (alert,) = [a for a in s.alerts() if a["kind"] == "interface_threshold"]
    assert alert["unit"] == "secondary"
    assert alert["detail"].startswith("1025 failed monitored interface(s) on secondary (if0000, ")
    assert "if1024" in alert["detail"] and "if1025" not in alert["detail"]
    assert summary["stored"] == len(lines)  # every event is stored as it came
