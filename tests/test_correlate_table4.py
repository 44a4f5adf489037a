"""Table 4 of the failover chapter (Active/Active), row by row: raw syslog in, JSON out."""

from __future__ import annotations

from pathlib import Path

from scenario import P, S, U, iso, play

# Group 1 active on the primary, group 2 on the secondary.
STEADY = [
    P(0, 104001, "(Primary_group_1) Switching to ACTIVE - No Active unit found"),
    S(1, 104001, "(Secondary_group_2) Switching to ACTIVE - No Active unit found"),
    S(2, 104002, "(Secondary_group_1) Switching to STANDBY - Detected an Active mate"),
    P(3, 104002, "(Primary_group_2) Switching to STANDBY - Detected an Active mate"),
]


def test_steady_state_is_recognised_as_active_active(tmp_path: Path) -> None:
    s = play(tmp_path, STEADY)
    pair = s.pair()
    assert pair["mode"] == "active-active"
    assert pair["groups"] == {"1": "primary", "2": "secondary"}
    assert pair["units"] == {"primary": "active", "secondary": "active"}
    assert s.failovers() == [] and "split_brain" not in s.kinds()


def test_unit_failure_moves_its_active_groups_to_the_peer(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(100, 105005, "(Secondary_group_1) Lost Failover communications with mate on interface inside"),
            S(115, 104001, "(Secondary_group_1) Switching to ACTIVE - HELLO not heard from mate."),
        ],
    )
    (fo,) = s.failovers()
    assert fo == {
        "pair": "fw",
        "group": 1,
        "at": iso(115),
        "new_active": "secondary",
        "previous_active": "primary",
        "cause": "peer_unreachable",
        "cause_text": "HELLO not heard from mate",
        "detection_s": 15.0,
    }
    pair = s.pair()
    assert pair["groups"] == {"1": "secondary", "2": "secondary"}
    assert pair["units"]["primary"] == "failed"
    assert s.kinds(open_only=True) == {"unit_failed"} and "split_brain" not in s.kinds()
    assert [a["ended_at"] for a in s.alerts() if a["kind"] == "failover"][-1] == iso(115 + 900)


def test_interface_failure_on_active_group_fails_over_that_group_only(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 105008, "(Primary_group_1) Testing Interface inside"),
            P(210, 105009, "(Primary_group_1) Testing on interface inside Failed"),
            P(211, 104002, "(Primary_group_1) Switching to STANDBY - Interface check"),
            S(
                211,
                104001,
                "(Secondary_group_1) Switching to ACTIVE - Other unit wants me Active. Primary unit switch reason: Interface check.",
            ),
        ],
    )
    (fo,) = s.failovers()
    assert (fo["group"], fo["new_active"], fo["previous_active"], fo["cause"], fo["detection_s"]) == (
        1,
        "secondary",
        "primary",
        "interface_failure",
        11.0,
    )
    assert s.pair()["groups"] == {"1": "secondary", "2": "secondary"}


def test_interface_failure_on_standby_group_marks_it_failed_without_failover(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(200, 105008, "(Secondary_group_1) Testing Interface dmz"),
            S(210, 105009, "(Secondary_group_1) Testing on interface dmz Failed"),
        ],
    )
    assert s.failovers() == []
    pair = s.pair()
    assert pair["groups"] == {"1": "primary", "2": "secondary"}
    assert pair["units"]["secondary"] == "failed"
    assert {"interface_threshold", "unit_failed"} <= s.kinds(open_only=True)


def test_formerly_active_group_recovers_without_failover(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(115, 104001, "(Secondary_group_1) Switching to ACTIVE - HELLO not heard from mate."),
            P(400, 104002, "(Primary_group_1) Switching to STANDBY - Detected an Active mate"),
        ],
    )
    assert [f["at"] for f in s.failovers()] == [iso(115)]
    assert s.pair()["groups"] == {"1": "secondary", "2": "secondary"}
    assert "unit_failed" not in s.kinds(open_only=True)


def test_preemption_moves_the_group_back_with_cause_preempt(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(115, 104001, "(Secondary_group_1) Switching to ACTIVE - HELLO not heard from mate."),
            P(400, 104002, "(Primary_group_1) Switching to STANDBY - Detected an Active mate"),
            P(430, 104001, "(Primary_group_1) Switching to ACTIVE - Preempt"),
            S(430, 104002, "(Secondary_group_1) Switching to STANDBY - Other unit wants me Standby"),
        ],
    )
    last = s.failovers()[-1]
    assert (last["group"], last["new_active"], last["previous_active"], last["cause"], last["detection_s"]) == (
        1,
        "primary",
        "secondary",
        "preempt",
        None,
    )
    assert s.pair()["groups"] == {"1": "primary", "2": "secondary"}


def test_failover_link_failed_at_startup_makes_both_groups_active_on_both_units(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        [
            U(0, 105032, "LAN Failover interface is down"),
            P(1, 104001, "(Primary_group_1) Switching to ACTIVE - No Active unit found"),
            P(1, 104001, "(Primary_group_2) Switching to ACTIVE - No Active unit found"),
            S(2, 104001, "(Secondary_group_1) Switching to ACTIVE - No Active unit found"),
            S(2, 104001, "(Secondary_group_2) Switching to ACTIVE - No Active unit found"),
            U(60, 411001, "Line protocol on Interface inside, changed state to up", 4),
        ],
    )
    splits = sorted(a["group"] for a in s.alerts() if a["kind"] == "split_brain" and a["ended_at"] is None)
    assert splits == [1, 2]
    assert "failover_link_down" in s.kinds(open_only=True)


def test_state_link_failed_is_no_failover(tmp_path: Path) -> None:
    inv = "pairs:\n  - name: fw\n    match: [fw]\n    mode: active-active\n    state_interface: state\n"
    s = play(
        tmp_path, STEADY + [P(200, 105007, "(Primary_group_1) Link status 'Down' on interface state")], inventory=inv
    )
    assert s.failovers() == []
    assert "state_link_down" in s.kinds(open_only=True)
    assert s.pair()["groups"] == {"1": "primary", "2": "secondary"}


def test_failover_link_failed_during_operation_is_no_failover(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY + [P(200, 105043, "Failover interface failed"), U(200, 105032, "LAN Failover interface is down")],
    )
    assert s.failovers() == []
    assert s.pair()["groups"] == {"1": "primary", "2": "secondary"} and s.pair()["failover_link"] == "down"
    assert "failover_link_down" in s.kinds(open_only=True) and "split_brain" not in s.kinds()


POLICY_2 = "pairs:\n  - name: fw\n    match: [fw]\n    mode: active-active\n    interface_policy: 2\n"


def test_the_interface_policy_holds_per_failover_group(tmp_path: Path) -> None:
    """One failed interface in each group's contexts is not two in either: no group reaches a policy of 2."""
    s = play(
        tmp_path,
        STEADY
        + [
            S(200, 105009, "(Secondary_group_1) Testing on interface dmz Failed"),
            S(205, 105009, "(Secondary_group_2) Testing on interface outside Failed"),
        ],
        inventory=POLICY_2,
    )
    assert "interface_threshold" not in s.kinds()
    assert s.pair()["units"]["secondary"] == "active"  # group 2 still active there, group 1 still standby


def test_a_group_over_its_policy_alerts_for_that_group_and_fails_only_it(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(200, 105009, "(Secondary_group_1) Testing on interface dmz Failed"),
            S(205, 105009, "(Secondary_group_1) Testing on interface inside Failed"),
            S(210, 105009, "(Secondary_group_2) Testing on interface outside Failed"),
        ],
        inventory=POLICY_2,
    )
    (alert,) = [a for a in s.alerts() if a["kind"] == "interface_threshold"]
    assert (alert["group"], alert["unit"], alert["ended_at"]) == (1, "secondary", None)
    assert "dmz, inside" in alert["detail"] and "failover group 1" in alert["detail"]
    # Group 1's standby on the secondary is marked failed (Table 4); group 2 stays active there.
    assert s.failovers() == []
    assert s.pair()["groups"] == {"1": "primary", "2": "secondary"}
