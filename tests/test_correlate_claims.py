"""Both units claiming active, in any order and timing, and a role implied by the mate's words
(failover chapter: "the standby unit switches to active mode and classifies the other unit as
failed"; Scenario 1: "both ASAs become active")."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario import Line, P, S, Scenario, U, iso, play

LOST = "Lost Failover communications with mate on interface outside"
HELLO = "Switching to ACTIVE - HELLO not heard from mate."


def splits(s: Scenario) -> list[tuple[str, str | None]]:
    return [(a["started_at"], a["ended_at"]) for a in s.alerts() if a["kind"] == "split_brain"]


def test_the_old_active_never_heard_saying_its_role_keeps_talking_after_the_takeover(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        [
            U(0, 411001, "Line protocol on Interface inside, changed state to up", 4),
            P(20, 105008, "Testing Interface outside"),
            S(115, 104001, HELLO),
            P(116, 105005, LOST),
            P(180, 105005, LOST),
            P(300, 105005, LOST),
            S(400, 104002, "Switching to STANDBY - Detected an Active mate"),
        ],
    )
    assert splits(s) == [(iso(115), iso(400))]
    assert "unit_failed" not in s.kinds()


STEADY = [
    P(0, 104001, "Switching to ACTIVE - Set by the config command."),
    S(1, 104002, "Switching to STANDBY - Other unit wants me Standby."),
]


@pytest.mark.parametrize("before", [[], STEADY], ids=["roles-never-heard", "after-a-steady-state"])
@pytest.mark.parametrize("first", ["primary", "secondary"])
def test_both_units_switching_to_active_for_lost_hellos_in_one_second(
    tmp_path: Path, before: list[Line], first: str
) -> None:
    claims = [P(115, 104001, HELLO), S(115, 104001, HELLO)]
    s = play(tmp_path, before + (claims if first == "primary" else claims[::-1]))
    assert s.pair()["units"] == {"primary": "active", "secondary": "active"}
    assert splits(s) == [(iso(115), None)]


def test_a_takeover_two_seconds_after_the_first_lost_hello_while_the_old_active_keeps_logging(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(113, 105005, LOST),
            S(115, 104001, HELLO),
            P(140, 105005, LOST),
            P(200, 105005, LOST),
        ],
    )
    assert s.pair()["units"] == {"primary": "active", "secondary": "active"}
    assert splits(s) == [(iso(115), None)]


@pytest.mark.parametrize("policy", ["2", '"50%"'])
def test_detection_starts_at_the_interface_that_met_a_policy_above_one(tmp_path: Path, policy: str) -> None:
    """Interface policy 2 (or 50 % of 4 interfaces): `inside` failed long ago and alone met
    nothing; `outside` failing 195 s later met the policy, and the takeover 5 s after its testing
    began is no slow failover (the interface hold time is 25 s)."""
    inventory = f"pairs:\n  - name: fw\n    match: [fw]\n    interface_policy: {policy}\n    monitored_interfaces: 4\n"
    s = play(
        tmp_path,
        STEADY
        + [
            P(10, 105008, "Testing Interface inside"),
            P(12, 105009, "Testing on interface inside Failed"),
            P(200, 105008, "Testing Interface outside"),
            P(202, 105009, "Testing on interface outside Failed"),
            S(205, 104001, "Switching to ACTIVE - Interface check."),
            P(205, 104002, "Switching to STANDBY - interface check, mate is healthier"),
        ],
        inventory=inventory,
    )
    fo = s.failovers()[-1]
    assert (fo["cause"], fo["detection_s"]) == ("interface_failure", 5.0)
    assert "slow_failover" not in s.kinds()
    (met,) = [a for a in s.alerts() if a["kind"] == "interface_threshold"]
    assert met["started_at"] == iso(202)


@pytest.mark.parametrize("gap", [0, 1, 4])
@pytest.mark.parametrize("roles_known", [False, True], ids=["roles-never-heard", "after-a-steady-state"])
def test_the_old_actives_reason_given_first_is_the_takeovers_cause(tmp_path: Path, gap: int, roles_known: bool) -> None:
    """`failover active` on the standby, or `no failover active` on the active: the active says why
    it stands down ("Set by the config command") before its mate says "Other unit wants me Active"."""
    before = [S(0, 104001, "Switching to ACTIVE - HELLO not heard from mate.")] if roles_known else []
    s = play(
        tmp_path,
        before
        + [
            S(100, 104002, "Switching to STANDBY - Set by the config command."),
            P(100 + gap, 104001, "Switching to ACTIVE - Other unit wants me Active."),
        ],
    )
    last = s.failovers()[-1]
    assert (last["previous_active"], last["new_active"], last["cause"]) == ("secondary", "primary", "manual")
    assert last["cause_text"] == "Set by the config command"
    assert s.pair()["units"] == {"primary": "active", "secondary": "standby"}


def test_an_old_active_whose_clock_runs_behind_still_noticed_its_mate_missing(tmp_path: Path) -> None:
    """Its `Lost Failover communications` is stamped 15 s before the takeover by its slow clock: a
    unit that noticed its mate missing was up after contact was lost — a split-brain, not a failure."""
    s = play(
        tmp_path,
        STEADY + [P(103, 105005, LOST), S(115, 104001, HELLO)],
        skew={"primary": -3},
    )
    assert splits(s) == [(iso(115), None)]
    assert "unit_failed" not in s.kinds()


def test_an_old_active_written_off_goes_on_noticing_its_mate_missing(tmp_path: Path) -> None:
    """Every sign of life around the takeover lost by the relay: the primary is failed at first;
    its tests half a minute later show it up all along and still active (it never stood down)."""
    s = play(tmp_path, STEADY + [S(115, 104001, HELLO), P(140, 105008, "Testing Interface outside")])
    assert splits(s) == [(iso(115), None)]
    assert s.pair()["units"] == {"primary": "active", "secondary": "active"}
    (failed,) = [a for a in s.alerts() if a["kind"] == "unit_failed"]
    assert (failed["unit"], failed["started_at"], failed["ended_at"]) == ("primary", iso(115), iso(140))


def test_the_survivor_standing_down_for_an_active_mate_it_had_written_off(tmp_path: Path) -> None:
    """Nothing of the primary reached hamon around the takeover; a minute later the secondary
    detects an active mate and stands down, and the primary said nothing of a restart: it was up
    and active all along — a split-brain from the takeover to the stand-down."""
    s = play(
        tmp_path, STEADY + [S(115, 104001, HELLO), S(200, 104002, "Switching to STANDBY - Detected an Active mate")]
    )
    assert splits(s) == [(iso(115), iso(200))]
    assert s.pair()["units"] == {"primary": "active", "secondary": "standby"}


def test_an_interface_test_of_an_earlier_takeover_stamped_after_it_is_no_symptom_of_a_later_one(tmp_path: Path) -> None:
    """Behind skewed clocks the old active's test of the interface that made it hand over is stamped
    two seconds after the new active's takeover; as standby (no `logging standby`) it never says the
    test passed. Two minutes later the active loses power: that old test is not where the later
    failover's detection starts (it would read 130 s, a false slow_failover page)."""
    s = play(
        tmp_path,
        [
            P(0, 104001, "Switching to ACTIVE - Set by the config command."),
            S(1, 104002, "Switching to STANDBY - Other unit wants me Standby."),
            S(100, 104001, "Switching to ACTIVE - ifc [inside] check, mate is healthier"),
            P(102, 105008, "Testing Interface inside"),
            P(104, 105009, "Testing on interface inside Failed"),
            P(104, 104002, "Switching to STANDBY - interface check, mate is healthier"),
            P(232, 104001, HELLO),
        ],
    )
    fos = s.failovers()
    assert [(f["new_active"], f["cause"]) for f in fos][-2:] == [
        ("secondary", "interface_failure"),
        ("primary", "peer_unreachable"),
    ]
    assert fos[-1]["detection_s"] is None  # nothing heard of the loss itself
    assert "slow_failover" not in s.kinds()


def _built(t: int) -> Line:
    n = t % 250
    return U(t, 302013, f"Built inbound TCP connection {t} for outside:198.51.100.{n}/443 to inside:10.1.1.{n}/443", 6)


def test_a_pause_of_a_unit_found_alive_later_does_not_time_the_takeover(tmp_path: Path) -> None:
    """Every hello lost while both units stay up; a relay lost the old active's traffic of the 8 s
    before the takeover, so the pair looks as if it fell silent then, and the old active said nothing
    tagged within the merge window: it is written off at first. When the survivor stands down for it
    ("Detected an Active mate") it was up all along: the failover is told again without that pause
    as its detection (nothing of the loss itself was heard), and the split-brain stands."""
    traffic = [_built(t) for t in range(2, 92)] + [_built(t) for t in range(100, 170)]
    s = play(
        tmp_path,
        [
            P(0, 104001, "Switching to ACTIVE - Set by the config command."),
            S(1, 104002, "Switching to STANDBY - Other unit wants me Standby."),
            *traffic,
            S(100, 104001, HELLO),
            S(170, 104002, "Switching to STANDBY - Detected an Active mate"),
        ],
    )
    (fo,) = [f for f in s.failovers() if f["cause"] == "peer_unreachable"]
    assert (fo["at"], fo["new_active"], fo["detection_s"]) == (iso(100), "secondary", None)
    assert splits(s) == [(iso(100), iso(170))]
