"""Roles from each unit's own evidence (failover chapter, Tables 3 and 4): split-brain from signs of
life, a unit's own words over its peer's claims, no failover without a takeover claim."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import Line, P, S, U, iso, play

STEADY = [
    P(0, 104001, "Switching to ACTIVE - Set by the config command."),
    S(1, 104002, "Switching to STANDBY - Other unit wants me Standby."),
]
TRAFFIC = [U(i, 411001, "Line protocol on Interface inside, changed state to up", 4) for i in (0, 20, 40)]


def test_a_takeover_while_the_old_active_keeps_talking_is_split_brain_not_a_failed_primary(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
            P(115, 105005, "Lost Failover communications with mate on interface outside"),
            S(400, 104002, "Switching to STANDBY - Detected an Active mate"),
        ],
    )
    (split,) = [a for a in s.alerts() if a["kind"] == "split_brain"]
    assert (split["started_at"], split["ended_at"], split["severity"]) == (iso(115), iso(400), "critical")
    assert "unit_failed" not in s.kinds()
    # The secondary's takeover is the only failover: nothing moved back to a primary that never left.
    assert [(f["at"], f["new_active"]) for f in s.failovers()] == [(iso(0), "primary"), (iso(115), "secondary")]
    assert s.pair()["units"] == {"primary": "active", "secondary": "standby"}
    roles = s.transitions()
    assert not [t for t in roles if t["unit"] == "primary" and t["to"] == "failed"]


def test_the_old_active_talking_before_its_line_is_read_changes_nothing(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(115, 105005, "Lost Failover communications with mate on interface outside"),
            S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
        ],
    )
    assert [a["started_at"] for a in s.alerts() if a["kind"] == "split_brain"] == [iso(115)]
    assert "unit_failed" not in s.kinds()
    assert s.pair()["units"] == {"primary": "active", "secondary": "active"}


def test_a_split_brain_at_the_end_of_the_input_is_declared(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        [
            P(0, 104001, "Switching to ACTIVE - No Active unit found"),
            P(1, 105043, "Failover interface failed"),
            S(4, 104001, "Switching to ACTIVE - No Active unit found"),
            S(5, 105043, "Failover interface failed"),
        ],
    )
    assert s.pair()["units"] == {"primary": "active", "secondary": "active"}
    (split,) = [a for a in s.alerts() if a["kind"] == "split_brain"]
    assert (split["started_at"], split["ended_at"]) == (iso(4), None)
    assert s.failovers() == []


def test_a_unit_that_says_it_is_standby_is_standby(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 104002, "Switching to STNDBY - interface check, mate is healthier"),
            S(
                200,
                104001,
                "Switching to ACTIVE - Other unit wants me Active. Primary unit switch reason: Interface check.",
            ),
        ],
    )
    assert s.pair()["units"] == {"primary": "standby", "secondary": "active"}
    assert "unit_failed" not in s.kinds()
    fo = s.failovers()[-1]
    assert (fo["new_active"], fo["previous_active"], fo["cause"]) == ("secondary", "primary", "interface_failure")


def test_a_rejoining_unit_receiving_the_configuration_is_standby_and_its_mate_active(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
            P(400, 709005, "Beginning configuration replication: Receiving from mate."),
            P(410, 709006, "End Configuration Replication (STB)"),
        ],
    )
    assert s.pair()["units"] == {"primary": "standby", "secondary": "active"}
    failed = next(a for a in s.alerts() if a["kind"] == "unit_failed")
    assert (failed["unit"], failed["started_at"], failed["ended_at"]) == ("primary", iso(115), iso(400))


def test_a_failure_of_a_unit_whose_role_is_unknown_is_no_failover(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        TRAFFIC
        + [
            S(50, 105009, "Testing on interface dmz Failed"),
            S(51, 104003, "Switching to FAILED."),
        ],
    )
    assert s.failovers() == []
    assert s.pair()["units"]["secondary"] == "failed"
    kinds = s.kinds(open_only=True)
    assert {"unit_failed", "interface_threshold"} <= kinds and "failover" not in s.kinds()


def test_the_active_unit_is_known_from_its_mate_joining_and_its_sync(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        TRAFFIC
        + [
            S(100, 104002, "Switching to STANDBY - Detected an Active mate"),
            P(101, 709003, "Beginning configuration replication: Send to mate."),
            P(110, 709004, "End Configuration Replication (ACT)"),
            P(300, 103001, "No response from other firewall (reason code = 1)."),
        ],
    )
    assert s.pair()["units"] == {"primary": "active", "secondary": "failed"}
    failed = next(a for a in s.alerts() if a["kind"] == "unit_failed")
    assert (failed["unit"], failed["started_at"]) == ("secondary", iso(300))
    assert s.failovers() == []


def test_an_interface_failed_on_both_units_opens_nothing_and_fails_nobody(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 105009, "Testing on interface dmz Failed"),
            S(201, 105009, "Testing on interface dmz Failed"),
            P(260, 105009, "Testing on interface dmz Passed"),
            S(260, 105009, "Testing on interface dmz Passed"),
        ],
    )
    assert "interface_threshold" not in s.kinds()
    assert s.pair()["units"] == {"primary": "active", "secondary": "standby"}
    assert all(a["started_at"] != a["ended_at"] for a in s.alerts() if a["kind"] != "failover")


def test_a_sync_the_standby_never_finished_is_a_failed_sync(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(100, 709003, "Beginning configuration replication: Send to mate."),
            P(130, 103001, "No response from other firewall (reason code = 5)."),
        ],
    )
    (sync,) = [a for a in s.alerts() if a["kind"] == "config_sync_failed"]
    assert (sync["severity"], sync["started_at"], sync["ended_at"]) == ("critical", iso(130), None)
    assert "reason code 5" in sync["detail"]
    assert s.pair()["units"]["secondary"] == "failed"


def test_the_survivors_passed_test_does_not_erase_the_detection_time(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(100, 105008, "Testing Interface inside"),
            S(100, 105008, "Testing Interface inside"),
            S(104, 105009, "Testing on interface inside Passed"),
            P(112, 105009, "Testing on interface inside Failed"),
            P(112, 104002, "Switching to STANDBY - Interface check"),
            S(
                112,
                104001,
                "Switching to ACTIVE - Other unit wants me Active. Primary unit switch reason: Interface check.",
            ),
        ],
    )
    fo = s.failovers()[-1]
    assert (fo["cause"], fo["detection_s"]) == ("interface_failure", 12.0)


@pytest.mark.parametrize("last", ["up", "down"])
def test_same_second_lines_keep_their_arrival_order(tmp_path: Path, last: str) -> None:
    inv = "pairs:\n  - name: fw\n    match: [fw]\n    failover_interface: folink\n"
    down = U(100, 411002, "Line protocol on Interface folink, changed state to down", 4)
    up = U(100, 411001, "Line protocol on Interface folink, changed state to up", 4)
    s = play(tmp_path, [*STEADY, *([down, up] if last == "up" else [up, down])], inventory=inv)
    assert s.pair()["failover_link"] == last
    events = [e["msg_id"] for e in s.run("events", "--json") if e["at"] == iso(100)]
    assert events == ([411002, 411001] if last == "up" else [411001, 411002])


# -- properties ------------------------------------------------------------------------------------
KINDS = [
    (104001, "Switching to ACTIVE - HELLO not heard from mate."),
    (104001, "Switching to ACTIVE - Set by the config command."),
    (104002, "Switching to STANDBY - Other unit wants me Standby."),
    (104002, "Switching to STANDBY - Detected an Active mate"),
    (104003, "Switching to FAILED."),
    (105005, "Lost Failover communications with mate on interface outside"),
    (105009, "Testing on interface dmz Failed"),
    (103001, "No response from other firewall (reason code = 4)."),
    (709005, "Beginning configuration replication: Receiving from mate."),
]
line = st.tuples(st.integers(0, 300), st.sampled_from(KINDS), st.sampled_from(["P", "S"]))


def _lines(spec: list[tuple[int, tuple[int, str], str]]) -> list[Line]:
    return [(P if who == "P" else S)(t, msg_id, text) for t, (msg_id, text), who in sorted(spec, key=lambda x: x[0])]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(line, min_size=1, max_size=8))
def test_properties_of_any_sequence(tmp_path_factory: object, spec: list[tuple[int, tuple[int, str], str]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        lines = _lines(spec)
        s = play(Path(d), lines)
        transitions = s.transitions()
        fos = s.failovers()
    takeovers = {(iso(x.at), x.unit) for x in lines if x.msg_id == 104001}
    stand_downs = {
        (iso(x.at), "secondary" if x.unit == "primary" else "primary") for x in lines if x.msg_id in (104002, 104003)
    }
    for fo in fos:
        # No failover without a takeover claim: its own, or the known active standing down.
        assert (fo["at"], fo["new_active"]) in takeovers | stand_downs, fo
    for tr in transitions:
        if tr["to"] != "failed" or tr["cause"] != "peer_unreachable":
            continue
        # Written off by its peer: it did not log (other than standing down) within the merge window.
        said = [x for x in lines if x.unit == tr["unit"] and iso(x.at) >= tr["at"] and x.at < _sec(tr["at"]) + 10]
        assert all(x.msg_id in (104002, 104003, 709005) for x in said), (tr, said)


def _sec(stamp: str) -> float:
    import datetime as dt

    from scenario import T0

    return (dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) - T0).total_seconds()


def test_an_interface_failover_is_over_when_the_old_active_is_a_healthy_standby(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(200, 105009, "Testing on interface outside Failed"),
            P(201, 104002, "Switching to STANDBY - Interface check"),
            S(
                201,
                104001,
                "Switching to ACTIVE - Other unit wants me Active. Primary unit switch reason: Interface check.",
            ),
            P(500, 105009, "Testing on interface outside Passed"),
        ],
    )
    fo_alert = [a for a in s.alerts() if a["kind"] == "failover"][-1]
    threshold = next(a for a in s.alerts() if a["kind"] == "interface_threshold")
    # Standby by its own words, but not whole while its interface fails: both end when it passes.
    assert (threshold["unit"], threshold["started_at"], threshold["ended_at"]) == ("primary", iso(200), iso(500))
    assert (fo_alert["started_at"], fo_alert["ended_at"]) == (iso(201), iso(500))
    assert "unit_failed" not in s.kinds() and s.pair()["units"] == {"primary": "standby", "secondary": "active"}
