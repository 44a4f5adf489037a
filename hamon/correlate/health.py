"""Health of a pair beyond who is active: links, monitored interfaces, sync, versions, and the alerts
that follow from failovers (failover, flapping, slow_failover).

Each rule reads the pair's state and yields what it decides (`intents`: set a role, raise or resolve
an alert, end a failover, set or cancel a timer, forget symptoms); the pair machine applies them in
one place (`PairMachine.carry`), each before the rule goes on. No rule calls the machine back."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hamon.correlate.alerts import at
from hamon.correlate.intents import (
    Cancel,
    EndFailover,
    Forget,
    Intents,
    Raise,
    Refine,
    Resolve,
    Schedule,
    SetRole,
)
from hamon.correlate.state import UNITS, Machine, Role, Symptom, Timer, TimerKind, other
from hamon.model import AlertUpdate, Cause, Event, Failover, stable_id

FAILOVER_LINK_UP = frozenset({"failover_link_up", "failover_interface_ok", "peer_failover_link_up"})
FAILOVER_LINK_DOWN = frozenset({"failover_link_down", "failover_interface_failed", "peer_failover_link_down"})
# Failover is disabled on mismatch (chapter, Software Requirements; CATALOG 105040, 105044-105048).
DISABLING = {
    "failover_disabled": "failover disabled",
    "failover_version_incompatible": "failover disabled: mate failover version is not compatible",
    "mode_mismatch": "failover disabled: operational mode differs",
    "license_mismatch": "failover disabled: license differs",
    "chassis_mismatch": "failover disabled: chassis differs",
    "card_mismatch": "failover disabled: interface card differs",
    "service_module_mismatch": "failover disabled: service module differs",
}
SYNC_FAILED = {
    "config_replication_failed": "critical",
    "config_sync_locked": "critical",
    "config_replication_slow": "warning",
    "replication_failed": "warning",
    "config_replication_command_failed": "warning",
    "sync_command_failed": "warning",
}
SYNC_OK = frozenset(
    {
        "config_sync_receive_end",
        "config_sync_send_end",
        "config_hash_match",
        "config_replication_completed",
        "config_replication_skipped",
    }
)
SYNC_START = frozenset({"config_sync_receive_start", "config_sync_send_start", "config_hash_differs"})
LU_ERRORS = frozenset(
    {"lu_error", "lu_alloc_failed", "lu_unknown_object", "lu_replication_failed", "lu_missed_updates"}
)
LU_OK = frozenset({"lu_recv_thread_up", "lu_xmit_thread_up", "bulk_sync_end"})
LU_BURST, LU_WINDOW, STATE_QUIET = 3, 60.0, 300.0
FAILED_STATUS = ("Failed", "No Link")
PAIR_GRACE = 5.0  # seconds for the peer to report the same interface before a failure counts
# "You can monitor up to 1025 interfaces on a unit, across all contexts" (chapter): statuses of more
# names than that are not an interface policy's, and would make every status change cost more.
MONITORED_MAX = 1025
JOIN_GRACE = 60.0  # a rejoining unit that reports no version mismatch within this is taken as matching
STATUS = {
    "interface_testing": "Testing",
    "link_up": "Normal",
    "link_down": "No Link",
    "monitoring_normal": "Normal",
    "monitoring_waiting": "Unknown",
    "interface_admin_down": "Link Down",
    "interface_admin_up": "Normal",
}
RESULT = {"passed": "Normal", "failed": "Failed", "status undetermined": "Unknown"}
LINK_EVENTS = {
    "link_down": "down",
    "line_protocol_down": "down",
    "interface_admin_down": "down",
    "link_up": "up",
    "line_protocol_up": "up",
    "interface_admin_up": "up",
}


Rule = Callable[[Machine, Event, str | None, float], Intents]


def apply(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    """Everything that is not a role change: the rule for the event's kind (RULES), then the state
    link's logical-update accounting and the monitored interfaces' statuses."""
    k = e.kind
    if e.interface and k in LINK_EVENTS:
        yield from _named_link(m, e, t)
    rule = RULES.get(k)
    if rule is not None:
        yield from rule(m, e, unit, t)
    if k in LU_ERRORS:
        yield from _lu_error(m, t, (e.event_id,))
    elif k in LU_OK or (k in SYNC_OK and m.s.state_link == "down"):
        yield from _state_link(m, "up", t, (e.event_id,))
    elif k == "polled_state_link" and e.status in ("up", "down") and e.status != m.s.state_link:
        yield from _state_link(m, e.status, t, (e.event_id,))  # a poll's word on the state link
    if unit and e.interface and (k in STATUS or k == "interface_test_result"):
        status = STATUS.get(k) or RESULT.get((e.status or "").lower(), "Unknown")
        yield from _interface(m, e, unit, e.interface, status, t)
    elif k in ("peer_interface_failed", "peer_interface_ok") and unit and e.interface:
        yield from _interface(m, e, other(unit), e.interface, "Failed" if k == "peer_interface_failed" else "Normal", t)


def _link_down(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    yield from _failover_link(m, "down", t, (e.event_id,))


def _link_up(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    yield from _failover_link(m, "up", t, (e.event_id,))


def _lost_communications(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    if e.interface and e.interface == m.cfg.failover_interface:
        yield from _failover_link(m, "down", t, (e.event_id,))


def _disabling(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    for u in [unit] if unit else list(UNITS):
        for scope in m.scopes(e):
            if m.s.role(scope, u) == Role.UNKNOWN:
                yield SetRole(scope, u, Role.DISABLED, t, Cause.UNKNOWN, e)
    yield Raise(t, "failover_disabled", "critical", DISABLING[e.kind] + _detail(e), (e.event_id,))


def _enabled(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    yield Resolve(t, "failover_disabled", (e.event_id,), every=True)
    for scope in m.scopes(e):
        if unit and m.s.role(scope, unit) == Role.DISABLED:
            yield SetRole(scope, unit, Role.UNKNOWN, t, Cause.UNKNOWN, e)
    yield from _joined(m, t)


def _joined(m: Machine, t: float) -> Intents:
    """A unit (re)joined: a version mismatch not said within JOIN_GRACE of it is over — unless it was
    said as this join began (the mismatch is logged as the units first exchange hellos, before the
    configuration is synced), so a sync ending just after it does not clear it."""
    if m.s.version_said is None or t - m.s.version_said > JOIN_GRACE:
        yield Schedule(t + JOIN_GRACE, TimerKind.VERSION_CLEAR)


def _version(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    severity = "critical" if e.kind == "version_incompatible" else "warning"
    yield Cancel(TimerKind.VERSION_CLEAR)
    m.s.version_said = t
    yield Raise(
        t,
        "version_mismatch",
        severity,
        f"mate runs {e.mate_version}, this unit {e.our_version}"
        + (" (incompatible: failover cannot work)" if severity == "critical" else " (upgrade in progress?)"),
        (e.event_id,),
    )


def _sync_failed(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    detail = f"{e.kind.replace('_', ' ')}{_detail(e)}"
    yield Raise(t, "config_sync_failed", SYNC_FAILED[e.kind], detail, (e.event_id,))


def _peer_reports_failed(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    if e.cause == Cause.CONFIG_SYNC:
        yield Raise(t, "config_sync_failed", "critical", f"peer reports: {e.cause_text}", (e.event_id,))


def _sync_start(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    receiver = unit if e.kind == "config_sync_receive_start" else (other(unit) if unit else None)
    for scope in m.scopes(e):
        if receiver and m.s.role(scope, receiver) in (Role.STANDBY, Role.UNKNOWN):
            yield SetRole(scope, receiver, Role.SYNCING, t, Cause.CONFIG_SYNC, e)


def _sync_ok(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    yield Resolve(t, "config_sync_failed", (e.event_id,), every=True)
    yield from _synced(m, e, t)
    yield from _joined(m, t)


def _bulk_sync_end(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    yield from _synced(m, e, t)


def _flapping(m: Machine, e: Event, unit: str | None, t: float) -> Intents:
    detail = "the device reports both units switching back and forth"
    yield Raise(t, "flapping", "critical", detail, (e.event_id,))
    yield Schedule(t + m.cfg.flap_window, TimerKind.FLAP_QUIET)


# What each kind of event does beyond roles, as data: one rule per kind.
RULES: dict[str, Rule] = {
    **dict.fromkeys(FAILOVER_LINK_DOWN, _link_down),
    **dict.fromkeys(FAILOVER_LINK_UP, _link_up),
    "lost_communications": _lost_communications,
    **dict.fromkeys(DISABLING, _disabling),
    "failover_enabled": _enabled,
    "version_incompatible": _version,
    "version_mismatch": _version,
    **dict.fromkeys(SYNC_FAILED, _sync_failed),
    "peer_reports_failed": _peer_reports_failed,
    **dict.fromkeys(SYNC_START, _sync_start),
    **dict.fromkeys(SYNC_OK, _sync_ok),
    "bulk_sync_end": _bulk_sync_end,
    "flapping": _flapping,
}


def _settled(m: Machine, due: float, key: tuple[Any, ...]) -> Intents:
    """A failover alert resolves after `settle` without another failover."""
    scope, unit = key
    yield EndFailover(due, scope or None, unit, fired=True)


def _flap_quiet(m: Machine, due: float, key: tuple[Any, ...]) -> Intents:
    recent = [x for x in m.s.failover_times if x > due - m.cfg.flap_window]
    if len(recent) < m.cfg.flap_count:
        yield Resolve(due, "flapping", every=True)


def _state_quiet(m: Machine, due: float, key: tuple[Any, ...]) -> Intents:
    if not m.s.lu_errors or m.s.lu_errors[-1] <= due - STATE_QUIET:
        yield from _state_link(m, "up", due, ())


def _version_clear(m: Machine, due: float, key: tuple[Any, ...]) -> Intents:
    yield Resolve(due, "version_mismatch", every=True)


def _threshold_due(m: Machine, due: float, key: tuple[Any, ...]) -> Intents:
    yield from _threshold(m, str(key[0]), due)


FIRE: dict[TimerKind, Callable[[Machine, float, tuple[Any, ...]], Intents]] = {
    TimerKind.SETTLE: _settled,
    TimerKind.FLAP_QUIET: _flap_quiet,
    TimerKind.STATE_QUIET: _state_quiet,
    TimerKind.VERSION_CLEAR: _version_clear,
    TimerKind.THRESHOLD: _threshold_due,
}


def fire(m: Machine, timer: Timer) -> Intents:
    """A timer of the health rules, by its kind."""
    return FIRE[timer.kind](m, timer.due, timer.key)


def role_changed(m: Machine, scope: int, unit: str, role: Role, t: float, ev: tuple[str, ...], cause: str) -> Intents:
    """Alerts that follow a unit's role: unit_failed, and the end of a failover once the pair is whole again."""
    yield from unit_failed(m, unit, t, ev, cause)
    group = scope or None
    if (
        role != Role.ACTIVE
        and m.s.role(scope, other(unit)) == Role.ACTIVE
        and m.s.alerts.is_open("failover", group, unit)
    ):
        # It took over, then stood down again while its peer stayed active (a split-brain healed).
        yield EndFailover(t, group, unit, ev)
    if (
        role == Role.STANDBY
        and m.s.alerts.is_open("failover", group, other(unit))
        and not m.assembling(scope, other(unit))
        and _healthy_standby(m, scope, unit)
    ):
        # The unit that lost the active role is back as standby: the pair can fail over again.
        yield EndFailover(t, group, other(unit), ev)


def unit_failed(m: Machine, unit: str, t: float, ev: tuple[str, ...], cause: str) -> Intents:
    """unit_failed is open while any role of the unit is failed."""
    failed = [s for s, roles in m.s.roles.items() if roles.get(unit) == Role.FAILED]
    if failed:
        where = "" if failed == [0] else " (failover group " + ", ".join(str(s) for s in sorted(failed)) + ")"
        yield Raise(t, "unit_failed", "critical", f"{unit} unit failed{where}: {cause}", ev, unit=unit)
    else:
        yield Resolve(t, "unit_failed", ev, unit=unit)


def cause_from_symptoms(m: Machine, symptoms: list[Symptom]) -> str:
    """When the messages named no cause: interface tests point at interfaces, lost hellos at the peer."""
    interfaces = {x.interface for x in symptoms if x.interface}
    if interfaces and not interfaces <= {m.cfg.failover_interface}:
        return str(Cause.INTERFACE_FAILURE)
    return str(Cause.PEER_UNREACHABLE)


def failover_detail(fo: Failover) -> str:
    """What a failover alert says."""
    where = f" (failover group {fo.group})" if fo.group else ""
    return (
        f"{fo.new_active} took over from {fo.previous_active or 'no active unit'}{where}: {fo.cause}"
        + (f" ({fo.cause_text})" if fo.cause_text else "")
        + (f", detected in {fo.detection_s:.1f}s" if fo.detection_s is not None else "")
    )


def after_failover(m: Machine, fo: Failover, now: float) -> Intents:
    """Alerts that every failover may raise: failover, slow_failover, flapping."""
    t = fo.at.timestamp()
    group = fo.group
    alerts = m.s.alerts
    for u in UNITS:  # the previous failover of this scope is over
        if alerts.is_open("failover", group, u):
            yield EndFailover(t, group, u, fo.evidence)
    yield Raise(now, "failover", "warning", failover_detail(fo), fo.evidence, group, fo.new_active, started_at=t)
    yield Schedule(t + m.timing.settle, TimerKind.SETTLE, (group or 0, fo.new_active))
    yield from _slow(m, fo, now)
    m.s.failover_times = [x for x in m.s.failover_times if x > t - m.cfg.flap_window] + [t]
    m.s.last_failover_at = max(t, m.s.last_failover_at or t)
    if len(m.s.failover_times) >= m.cfg.flap_count:
        yield Raise(
            now,
            "flapping",
            "critical",
            f"{len(m.s.failover_times)} failovers within {m.cfg.flap_window:g}s",
            fo.evidence,
            started_at=m.s.failover_times[0],
        )
    if alerts.is_open("flapping"):
        yield Cancel(TimerKind.FLAP_QUIET)
        yield Schedule(t + m.cfg.flap_window, TimerKind.FLAP_QUIET)


def failover_refined(m: Machine, fo: Failover, before: Failover, now: float) -> Intents:
    """A later message of the same takeover: its alert says what is known now (same alert, updated)."""
    t = fo.at.timestamp()
    key = (fo.group or 0, fo.new_active)
    if (failover_detail(fo), fo.at) != (failover_detail(before), before.at):
        # The alert opened with the first word of this takeover; it may have ended already (a
        # handover is whole at once), and is refined all the same.
        first = fo.key_at or before.at
        alert_id = stable_id(m.s.pair, "failover", fo.group, fo.new_active, first.isoformat())
        yield Refine(AlertUpdate(alert_id, fo.at, failover_detail(fo), fo.evidence, at(now)))
    if m.s.alerts.is_open("failover", fo.group, fo.new_active):
        yield Cancel(TimerKind.SETTLE, key)
        yield Schedule(t + m.timing.settle, TimerKind.SETTLE, key)
    if m.s.failover_times and fo.key_at is not None and m.s.failover_times[-1] == fo.key_at.timestamp():
        m.s.failover_times[-1] = t
    m.s.last_failover_at = max(t, m.s.last_failover_at or t)
    yield from _slow(m, fo, now)


def _slow(m: Machine, fo: Failover, now: float) -> Intents:
    allowed = _allowed(m, fo.cause)
    if fo.detection_s is not None and allowed is not None and fo.detection_s > allowed:
        yield Raise(
            now,
            "slow_failover",
            "warning",
            f"{fo.cause} detected in {fo.detection_s:.1f}s; the configured hold time allows {allowed:.1f}s"
            f" (including {m.cfg.slow_failover_margin:g}s margin)",
            fo.evidence,
            group=fo.group,
            unit=fo.new_active,
            started_at=fo.at.timestamp(),
        )


def failover_settled(m: Machine, fo: Failover, now: float) -> Intents:
    """The merge window is over: a handover whose old active is standby already left the pair whole.

    Its alert ends now, not at the takeover, so that no alert opens and closes in one instant.
    """
    if fo.previous_active is not None and _healthy_standby(m, fo.group or 0, fo.previous_active):
        yield EndFailover(now, fo.group, fo.new_active, fo.evidence)


def _healthy_standby(m: Machine, scope: int, unit: str) -> bool:
    """A standby that could take over again: no interface policy breach open on it."""
    return m.s.role(scope, unit) == Role.STANDBY and not m.s.alerts.is_open("interface_threshold", scope or None, unit)


def _allowed(m: Machine, cause: str) -> float | None:
    # Table 2: unit loss within the unit hold time; interface trouble within the interface hold
    # time; a failing module within 2 s. Manual, startup and sync failovers are not timed.
    base = {
        Cause.PEER_UNREACHABLE: m.cfg.unit_holdtime,
        Cause.INTERFACE_FAILURE: m.cfg.interface_holdtime,
        Cause.MODULE_FAILURE: 2.0,
    }.get(Cause(cause))
    return None if base is None else base + m.cfg.slow_failover_margin


def _failover_link(m: Machine, status: str, t: float, ev: tuple[str, ...]) -> Intents:
    m.s.failover_link = status
    if status == "down":
        yield Raise(
            t,
            "failover_link_down",
            "critical",
            "failover link down: the pair cannot fail over until it is restored",
            ev,
        )
    else:
        yield Resolve(t, "failover_link_down", ev, every=True)


def _state_link(m: Machine, status: str, t: float, ev: tuple[str, ...]) -> Intents:
    m.s.state_link = status
    if status == "down":
        yield Raise(
            t,
            "state_link_down",
            "warning",
            "state link down: connection state is going stale; sessions will drop at the next failover",
            ev,
        )
    else:
        yield Cancel(TimerKind.STATE_QUIET)
        m.s.lu_errors = []
        yield Resolve(t, "state_link_down", ev, every=True)


def _named_link(m: Machine, e: Event, t: float) -> Intents:
    status = LINK_EVENTS[e.kind]
    if e.interface == m.cfg.state_interface:
        yield from _state_link(m, status, t, (e.event_id,))
    elif e.interface == m.cfg.failover_interface:
        yield from _failover_link(m, status, t, (e.event_id,))


def _lu_error(m: Machine, t: float, ev: tuple[str, ...]) -> Intents:
    # No message says "state link down"; a burst of logical-update errors shows it.
    m.s.lu_errors = [x for x in m.s.lu_errors if x > t - LU_WINDOW] + [t]
    if len(m.s.lu_errors) >= LU_BURST:
        yield from _state_link(m, "down", t, ev)
    if m.s.state_link == "down":
        yield Cancel(TimerKind.STATE_QUIET)
        yield Schedule(t + STATE_QUIET, TimerKind.STATE_QUIET)


def _synced(m: Machine, e: Event, t: float) -> Intents:
    for scope in m.scopes(e):
        for u in UNITS:
            if m.s.role(scope, u) == Role.SYNCING:
                yield SetRole(scope, u, Role.STANDBY, t, Cause.CONFIG_SYNC, e)


def unit_ok(m: Machine, e: Event, unit: str, t: float) -> Intents:
    """`Switching to OK` (104004, e.g. after `failover reset`): the unit is restored to an unfailed
    state and tests its interfaces afresh — what failed before is not known to fail now (if it still
    does, its tests say so again), and its symptoms are over."""
    failed = {k for k, st in m.s.interfaces.get(unit, {}).items() if st in FAILED_STATUS}
    for key in failed:
        del m.s.interfaces[unit][key]
    m.s.failed_since.pop(unit, None)
    for scope in m.scopes(e):
        yield Forget(scope, unit)
    if failed:
        yield from _threshold(m, e.event_id, t, may_raise=False)


def _interface(m: Machine, e: Event, unit: str, name: str, status: str, t: float) -> Intents:
    # In Active/Active an interface belongs to its failover group's contexts: keyed `name@gN`.
    key = f"{name}@g{e.group}" if e.group else name
    known = m.s.interfaces.setdefault(unit, {})
    if key not in known and len(known) >= MONITORED_MAX:
        return  # more than a unit can monitor: not one the policy counts (the event is stored as it came)
    was = known.get(key)
    known[key] = status
    since = m.s.failed_since.setdefault(unit, {})
    if status in FAILED_STATUS:
        since.setdefault(key, t)
    else:
        since.pop(key, None)
    if status == "Normal":  # a passed test ends that unit's symptom on that interface (not its peer's)
        for scope in m.scopes(e):
            yield Forget(scope, unit, name)
    counted = (was in FAILED_STATUS) != (status in FAILED_STATUS)  # a change the policy can see
    counted = counted or (was is None and m.cfg.interface_policy.percent and not m.cfg.monitored_interfaces)
    if status != was and counted:
        # (A change between two statuses that both count as not failed — Testing after Normal, a
        # new interface under test — changes no unit's count: a storm of interface tests costs no
        # policy check each.)
        # An alert opens only once the peer had time to report the same interface: failed on both
        # units, it does not count (chapter, Interface Monitoring), and no alert opens only to
        # close. What no longer holds is resolved at once.
        yield from _threshold(m, e.event_id, t, may_raise=False)
        yield Schedule(t + max(m.cfg.interface_polltime, PAIR_GRACE), TimerKind.THRESHOLD, (e.event_id,))


def _in_scope(interfaces: dict[str, str], scope: int, special: set[str | None]) -> dict[str, str]:
    """A unit's interface statuses that count for a scope (0: the unit; N: failover group N).

    An interface reported without a group (no `_group_N` tag) counts for every group.
    """
    out = {}
    for key, status in interfaces.items():
        name, _, group = key.partition("@g")
        if name not in special and (scope == 0 or not group or int(group) == scope):
            out[name] = status
    return out


def _policy_need(m: Machine, mine: dict[str, str]) -> int:
    """How many failed interfaces meet the interface policy, for a unit's statuses in a scope."""
    policy = m.cfg.interface_policy
    monitored = m.cfg.monitored_interfaces or max(len(mine), 1)
    return math.ceil(policy.value * monitored / 100) if policy.percent else policy.value


def detection_start(m: Machine, scope: int, unit: str, symptoms: list[Symptom]) -> float | None:
    """When the symptom that made the interface policy met began, for a failover on interface
    failure of `unit` (None: no interface symptoms enough to say so).

    With a policy of N interfaces, the failover comes when the N-th interface fails: detection
    starts at that interface's first symptom (its testing), not at an earlier interface that alone
    did not meet the policy (Interface Monitoring; Table 2: the interface hold time counts from the
    interface's own problem)."""
    special = {m.cfg.failover_interface, m.cfg.state_interface}
    mine = _in_scope(m.s.interfaces.get(unit, {}), scope, special)
    need = max(_policy_need(m, mine), 1)
    first: dict[str, float] = {}
    for t, _id, name, who in symptoms:
        if name and who == unit and name not in special:
            first[str(name)] = min(first.get(str(name), float(t)), float(t))
    # Only the interfaces that failed count: one merely tested (a lost mate's tests of every
    # interface, minutes before) did not make the policy met.
    failed = {n: t for n, t in first.items() if mine.get(n) in FAILED_STATUS}
    first = failed if len(failed) >= need else first
    if len(first) < need:
        return None
    return sorted(first.values())[need - 1]


def _threshold(m: Machine, event_id: str, t: float, *, may_raise: bool = True) -> Intents:
    """interface_threshold: failed monitored interfaces on a unit reach the interface policy.

    In Active/Active the policy holds per failover group (each group has its own interfaces and
    fails over on its own), so the alert, and a standby group marked failed, are per group.
    """
    policy = m.cfg.interface_policy
    ifs = m.s.interfaces
    special = {m.cfg.failover_interface, m.cfg.state_interface}
    scopes = (1, 2) if m.s.mode == "active-active" else (0,)
    for scope in scopes:
        group = scope or None
        where = f" (failover group {scope})" if scope else ""
        for unit in UNITS:
            mine = _in_scope(ifs.get(unit, {}), scope, special)
            theirs = _in_scope(ifs.get(other(unit), {}), scope, set())
            # An interface failed on both units is Unknown on both and does not count (chapter).
            failed = sorted(n for n, st in mine.items() if st in FAILED_STATUS and theirs.get(n) not in FAILED_STATUS)
            need = _policy_need(m, mine)
            if failed and len(failed) >= max(need, 1):
                if not may_raise:
                    continue
                since = _met_at(m.s.failed_since.get(unit, {}), failed, scope, max(need, 1))
                yield Raise(
                    t,
                    "interface_threshold",
                    "critical",
                    f"{len(failed)} failed monitored interface(s) on {unit}{where} ({', '.join(failed)}); policy {policy}",
                    (event_id,),
                    group=group,
                    unit=unit,
                    started_at=since,
                )
                if m.s.role(scope, unit) == Role.STANDBY and m.claimed_since(scope, unit, since) is None:
                    # Table 3/4: on the standby (group) above threshold — marked failed, no failover
                    # (unless the unit said what it is since).
                    yield SetRole(scope, unit, Role.FAILED, since, Cause.INTERFACE_FAILURE, evidence=(event_id,))
            elif m.s.alerts.is_open("interface_threshold", group, unit):
                yield Resolve(t, "interface_threshold", (event_id,), group, unit)
                if m.s.role(scope, unit) == Role.STANDBY and not m.assembling(scope, other(unit)):
                    # The unit that lost the active role to its interfaces is a healthy standby again.
                    yield EndFailover(t, group, other(unit), (event_id,))
                if m.s.role(scope, unit) == Role.FAILED and m.claimed_since(scope, unit, 0.0) != Role.FAILED:
                    # "A failed ASA returns to standby mode if the interface failure threshold is no
                    # longer met" (chapter, Interface Monitoring).
                    yield SetRole(
                        scope,
                        unit,
                        Role.STANDBY,
                        t,
                        Cause.INTERFACE_FAILURE,
                        cause_text="interface threshold no longer met",
                        evidence=(event_id,),
                    )


def _met_at(since: dict[str, float], failed: list[str], scope: int, need: int) -> float:
    """When a unit's failed interfaces first reached the policy (the need-th failure)."""
    times = sorted(
        t
        for key, t in since.items()
        if key.partition("@g")[0] in failed and (scope == 0 or _group_of(key) in (0, scope))
    )
    return times[min(need, len(times)) - 1]


def _group_of(key: str) -> int:
    _, _, group = key.partition("@g")
    return int(group) if group else 0


def _detail(e: Event) -> str:
    parts = [p for p in (e.cause_text, e.command, e.mate_version and f"mate {e.mate_version}") if p]
    return f" ({'; '.join(parts)})" if parts else ""
