"""The health rules decide; the pair machine applies. A rule yields intents and changes no role,
alert or timer itself, and the machine applies each before the rule goes on."""

from __future__ import annotations

from helpers import parse_bytes

from hamon.correlate import health
from hamon.correlate.intents import Cancel, EndFailover, Raise, Resolve, Schedule, SetRole
from hamon.correlate.machine import PairMachine
from hamon.correlate.state import TimerKind
from hamon.model import Event
from hamon.resolve.inventory import PairConfig

HEAD = b"<166>Nov 25 2026 10:00:%02d fw : "


def _events(*lines: tuple[int, str]) -> list[Event]:
    data = b"".join(HEAD % s + text.encode() + b"\n" for s, text in lines)
    result, _ = parse_bytes(data)
    return result.events


def _untouched(m: PairMachine) -> tuple[object, ...]:
    return (dict(m.s.roles), dict(m.s.alerts.open), list(m.s.timers))


def test_a_rule_yields_its_decisions_and_changes_no_role_alert_or_timer_itself() -> None:
    m = PairMachine(PairConfig(name="fw"))
    (mismatch,) = _events((0, "%ASA-1-103007: (Primary) Mate version 9.18(4) is not identical with ours 9.20(2)."))
    before = _untouched(m)
    decided = list(health.apply(m, mismatch, "primary", mismatch.at.timestamp()))
    assert _untouched(m) == before  # nothing applied yet
    assert [type(i) for i in decided] == [Cancel, Raise]
    raised = decided[1]
    assert isinstance(raised, Raise) and raised.kind == "version_mismatch" and raised.severity == "warning"
    assert raised.detail == "mate runs 9.18(4), this unit 9.20(2) (upgrade in progress?)"
    m.carry([], iter(decided))
    assert m.s.alerts.is_open("version_mismatch")


def test_the_machine_applies_each_decision_before_the_rule_reads_on() -> None:
    """A sync's end: the syncing unit becomes standby (a role change the machine applies, with its own
    consequences), then the version-mismatch clear timer is set — in that order, as the outputs say."""
    m = PairMachine(PairConfig(name="fw"))
    evs = _events(
        (0, "%ASA-1-104001: (Primary) Switching to ACTIVE - Set by the config command."),
        (5, "%ASA-6-709005: (Secondary) Beginning configuration replication: Receiving from mate."),
    )
    for e in evs:
        m.apply(e)
    assert m.s.role(0, "secondary") == "syncing"
    (end,) = _events((9, "%ASA-6-709006: (Secondary) End Configuration Replication (STB)"))
    seen: list[tuple[str, str]] = []
    rule = health.apply(m, end, "secondary", end.at.timestamp())
    for intent in rule:
        seen.append((type(intent).__name__, m.s.role(0, "secondary")))
        m.carry([], iter([intent]))
    assert ("SetRole", "syncing") in seen  # decided while still syncing ...
    assert seen[-1] == ("Schedule", "standby")  # ... and applied before the rule went on
    assert any(t.kind == TimerKind.VERSION_CLEAR for t in m.s.timers)


def test_a_takeover_after_a_settle_ends_the_last_failover_in_one_decision() -> None:
    """The failover and slow_failover alerts of one takeover end together with its settle timer:
    one EndFailover, applied in one place."""
    m = PairMachine(PairConfig(name="fw"))
    evs = _events(
        (0, "%ASA-1-104001: (Primary) Switching to ACTIVE - Set by the config command."),
        (10, "%ASA-1-104001: (Secondary) Switching to ACTIVE - Other unit wants me Active."),
        (12, "%ASA-1-104001: (Primary) Switching to ACTIVE - Other unit wants me Active."),
    )
    decided: list[object] = []
    carry = m.carry

    def spy(out: list[object], intents: object) -> None:
        listed = list(intents)  # type: ignore[call-overload]
        decided.extend(listed)
        carry(out, iter(listed))  # type: ignore[arg-type]

    m.carry = spy  # type: ignore[method-assign]
    for e in evs:
        m.apply(e)
    m.advance(evs[-1].at.timestamp() + 600)
    ends = [i for i in decided if isinstance(i, EndFailover)]
    assert ends and all(i.unit in ("primary", "secondary") for i in ends)
    assert not any(isinstance(i, Resolve) and i.kind in ("failover", "slow_failover") for i in decided)
    assert not m.s.alerts.is_open("failover", None, "secondary")
    assert not [t for t in m.s.timers if t.kind == TimerKind.SETTLE]
    assert any(isinstance(i, Schedule) and i.kind == TimerKind.SETTLE for i in decided)
    assert not any(isinstance(i, SetRole) and i.role == "failed" for i in decided)
