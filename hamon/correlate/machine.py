"""The per-pair failover state machine: `apply(event)` and `advance(t)` return outputs; nothing else.

Pure and deterministic: the same events in the same order give the same outputs, and the order
is fixed by the engine (device time, then arrival). Timers run on event time.

Evidence rules, strongest first (failover chapter: Failover Events, Tables 3 and 4; Unit Health
Monitoring; Interface Monitoring). A unit's role comes from the strongest recent evidence about it:

| evidence | conclusion |
|---|---|
| the unit's own words: `Switching to ACTIVE/STANDBY/FAILED`, `Switching to OK`, its sync messages (`Send to mate`/`(ACT)` = active; `Receiving from mate` = syncing; `(STB)` = standby), its own `show failover` "This host" | that role, at once; no peer's claim of the same moment or older overrides it |
| a poll or trap about the unit (the peer's `show failover` "Other host" while the two are in contact) | that role |
| the joining unit's `Switching to STANDBY - Detected an Active mate`, the receiving unit's `Receiving from mate`/`(STB)` | its peer is active (when nothing stronger said otherwise) |
| a unit's takeover for any cause but startup | its mate was the active unit, whatever was heard of the mate before (a unit takes over only from an active mate) |
| the peer's takeover on a failure cause (`HELLO not heard from mate`, interface check, module) | the old active failed (Tables 3/4: "Mark active as failed") — unless it said otherwise itself, or it showed signs of life without standing down: then it is still active and both are (split-brain) |
| the peer's takeover on a non-failure cause (manual, preempt, the other unit asked) | the old active is standby |
| the old active's own stand-down (`Switching to STANDBY/FAILED`) while it was known active and its peer was not | its peer took over (an implied takeover: only the active unit logs unless `logging standby` is set) |
| a unit's failure whose role was not known | a failure, never a failover: a failover needs a takeover claim |
| `No response from other firewall` from the active unit | the standby failed (Table 3) |
| a unit written off by its peer speaking as active later (it reports its peer gone) | it is active: both are |
| signs of life: a tagged message from the unit at or after its peer's takeover (less one hold time) | it was not powered off |

Split-brain: both units active by their own words, or one took over on a loss of contact while the
other kept showing life without standing down. It is checked after a grace period (clock skew and
reordering), opened at the moment both became active and closed when one stands down or reboots.

A failover is output as soon as its takeover is known; messages of the same takeover arriving
within the merge window refine its cause, detection time and (to the new active's own message) its
time in place — the same failover id, the same alert, updated. The old active's fate on a failure
cause is settled when the window closes, so that its own words and its signs of life count.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable
from typing import Any

from hamon.correlate import health
from hamon.correlate.alerts import AlertBook, at
from hamon.correlate.intents import Cancel, EndFailover, Forget, Intents, Raise, Refine, Resolve, Schedule, SetRole
from hamon.correlate.state import (
    DEFAULT_TIMING,
    UNITS,
    Claim,
    Draft,
    DraftKey,
    PairState,
    Restate,
    Role,
    SplitCheck,
    Symptom,
    Timer,
    TimerKind,
    Timing,
    other,
)
from hamon.correlate.traffic import Traffic
from hamon.model import Cause, Event, Failover, Output, Transition, Unit
from hamon.resolve.inventory import PairConfig

FAILURE_CAUSES = (Cause.PEER_UNREACHABLE, Cause.INTERFACE_FAILURE, Cause.MODULE_FAILURE)
# Sender addresses a pair keeps the role of: two units, each logging from an address per context
# (multiple context mode); beyond that, a sender naming the pair from ever new addresses is not kept.
SOURCES_MAX = 4096
SHARED = "shared"  # a sender speaking for both units at once
SHARED_WITHIN = 60.0  # seconds between the two roles' lines that make a sender shared
SYMPTOMS_KEPT = 2  # symptoms are kept for this many horizons (a takeover's draft starts before the latest)
SYMPTOMS_MAX = 1000  # and at most this many per scope, the newest (a flood's first ones do not matter)
SYMPTOM_KINDS = frozenset(
    {
        "lost_communications",
        "interface_testing",
        "link_down",
        "peer_no_response",
        "peer_power_failure",
        "peer_interface_failed",
        "peer_reports_failure",
    }
)
TAKEOVER_KINDS = frozenset({"switch_active", "cloud_switch_active"})
LEAVE_KINDS = frozenset({"switch_standby", "cloud_switch_backup", "switch_failed"})
PEER_DOWN_KINDS = frozenset({"peer_no_response", "peer_power_failure", "peer_reports_failure"})
# A unit's own sync messages say its role: the sender is active, the receiver joins as standby.
SYNC_ROLES = {
    "config_sync_send_start": (Role.ACTIVE, Role.SYNCING),
    "config_sync_send_end": (Role.ACTIVE, Role.STANDBY),
    "config_sync_receive_start": (Role.SYNCING, Role.ACTIVE),
    "config_sync_receive_end": (Role.STANDBY, Role.ACTIVE),
}
# A configuration sync completed: the pair is whole again.
WHOLE_KINDS = frozenset({"config_sync_send_end", "config_sync_receive_end"})
# Messages a unit logs that are no sign of it holding on to the active role.
NOT_LIFE = LEAVE_KINDS | {"switch_ok", "config_sync_receive_start", "config_sync_receive_end", "peer_reports_failed"}


class PairMachine:
    """One pair's state machine."""

    def __init__(
        self,
        config: PairConfig,
        state: PairState | None = None,
        timing: Timing = DEFAULT_TIMING,
        traffic: Traffic | None = None,
    ) -> None:
        self.cfg = config
        self.timing = timing
        self.traffic = traffic or Traffic()
        self.s = state or PairState(config.name, mode=config.mode)
        self.s.alerts.pair = config.name
        # Event time the machine has reached (events applied, timers fired): a checkpoint of its
        # state is stamped with this, never earlier, so that nothing in it is newer than its stamp.
        self.now: float | None = self.s.last_t
        # Latest due time of a timer fired (not part of the state: a resumed machine starts afresh).
        self.fired: float = float("-inf")

    # -- driving ------------------------------------------------------------------------------
    def apply(self, e: Event) -> list[Output]:
        """Apply one event (after firing the timers that are due before it)."""
        t = e.at.timestamp()
        out = self.advance(t)
        self.s.last_t = t if self.s.last_t is None else max(self.s.last_t, t)
        if e.group is not None and self.s.mode is None:
            self._become_active_active()
        unit = self._unit_of(e)
        polled = e.source.startswith(("ssh:", "snmp-poll:"))
        if e.unit is not None and not polled and e.kind not in TAKEOVER_KINDS and e.kind not in LEAVE_KINDS:
            # polls have no address; a role change is said as the unit's address changes with it
            # (the new active takes over the active address): neither tells which role an address has
            self._learn_source(e)
        kind = e.kind
        rule = ROLE_RULES.get(kind)
        if rule is not None and unit:
            rule(self, out, e, unit, t)  # what the message says of a unit's role
        else:
            if kind in SYNC_ROLES and unit and e.unit is not None:
                self._sync_claim(out, e, unit, t)
            self.carry(out, health.apply(self, e, unit, t))  # links, interfaces, versions, sync
        if e.unit is not None and not polled and kind in SYMPTOM_KINDS and unit:
            self._revived(out, e, unit, t)
        if not self.s.drafts:
            self._forget_symptoms(e)
        if kind in SYMPTOM_KINDS:
            for scope in self.scopes(e):
                kept = self.s.symptoms.setdefault(scope, [])
                kept.append(Symptom(t, e.event_id, e.interface, unit))
                since = t - SYMPTOMS_KEPT * self.timing.symptom_horizon
                if len(kept) > SYMPTOMS_MAX or kept[0][0] < since:
                    # Only symptoms within the horizon before a takeover count: a pair that never
                    # fails over does not keep every one it logged (a day of interface tests).
                    self.s.symptoms[scope] = [x for x in kept if x.t >= since][-SYMPTOMS_MAX:]
        if e.unit is not None and not polled and kind not in NOT_LIFE:
            # A sign of life from the unit that logged it (the tag names it, whatever its address).
            self.s.heard[e.unit.value] = max(t, self.s.heard.get(e.unit.value, t))
        return out

    def _ok(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        """`Switching to OK`: a failed unit is standby again."""
        for scope in self.scopes(e):
            if self.s.role(scope, unit) == Role.FAILED:
                self._claim(scope, unit, Role.STANDBY, t)
                self.set_role(out, scope, unit, Role.STANDBY, t, e, Cause.UNKNOWN)
        self.carry(out, health.unit_ok(self, e, unit, t))

    def _reported_failed(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        """`Other firewall reports this firewall failed`: the unit says its peer holds it failed."""
        for scope in self.scopes(e):
            self._claim(scope, unit, Role.FAILED, t)
            self.set_role(out, scope, unit, Role.FAILED, t, e, e.cause or Cause.UNKNOWN)
        self.carry(out, health.apply(self, e, unit, t))

    def _revived(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        """A unit written off as failed because its mate stopped hearing it goes on noticing its
        mate missing (lost hellos, interface tests) without having stood down or restarted (a
        restart says `Enabling failover`, `Detected an Active mate`): it was up all along (its signs
        of life around the takeover did not reach hamon), and, never having stood down, it is still
        the active unit — both are, since the takeover."""
        for scope in self.scopes(e):
            since = self.s.unheard.get(scope, {}).get(unit)
            if (
                since is None
                or self.s.role(scope, unit) != Role.FAILED
                or self.s.role(scope, other(unit)) != Role.ACTIVE
            ):
                continue
            if self.claimed_since(scope, unit, since) is not None:
                continue  # it said what it became since
            words = "it kept logging after its mate took over: it never stopped being active"
            self._start_split(scope, since, (e.event_id,))  # first: both have been active since then
            self._restate(out, scope, unit, t)
            self.set_role(out, scope, unit, Role.ACTIVE, t, e, Cause.UNKNOWN, words)

    def _restate(self, out: list[Output], scope: int, unit: str, t: float) -> None:
        """A unit written off as silent was alive all along: the failover from it, timed from the
        pair's pause before it, is told again timed from its symptoms alone (`Restate`)."""
        restate = self.s.restate.pop(scope, None)
        if restate is not None and restate.unit == unit:
            alive = dataclasses.replace(restate.alive, emitted_at=at(t))
            out.append(alive)
            self.carry(out, health.failover_refined(self, alive, restate.timed, t))

    def _forget_symptoms(self, e: Event) -> None:
        """Symptoms whose story ended count for no later failover: those before the pair was whole
        again (a unit joined its active mate, a configuration sync completed): a split-brain's tests
        of every interface minutes before an unrelated power loss. (An interface's own end when it
        passes its tests, and a unit's when it is OK again: health.)"""
        if e.kind in WHOLE_KINDS or (e.kind in LEAVE_KINDS and e.cause == Cause.STARTUP):
            for scope in self.scopes(e):
                self.s.symptoms.pop(scope, None)

    def advance(self, t: float) -> list[Output]:
        """Fire every timer due at or before t, in order."""
        out: list[Output] = []
        self.now = t if self.now is None else max(self.now, t)
        while self.s.timers and self.s.timers[0].due <= t:
            timer = self.s.timers.pop(0)
            self.fired = max(self.fired, timer.due)
            fire = FIRE.get(timer.kind)
            if fire is not None:
                fire(self, out, timer.due, timer.key)
            else:
                self.carry(out, health.fire(self, timer))
        return out

    def finish(self) -> list[Output]:
        """End of the data: settle the failovers still being assembled, as they stand."""
        out: list[Output] = []
        for key in sorted(self.s.drafts, key=lambda k: (self.s.drafts[k].first_seen, k)):
            self._settle(out, key, self.s.drafts[key].first_seen + self.timing.merge_window)
        return out

    def quiet(self) -> bool:
        """Nothing is being assembled or checked: a checkpoint here is final."""
        return not self.s.drafts and not self.s.split_checks

    # -- timers -------------------------------------------------------------------------------
    def schedule(self, due: float, kind: TimerKind, *key: Any) -> None:
        """Add a timer unless the same one is set (found by bisection: a storm of interface tests
        sets thousands, and a scan of the list for each would be quadratic)."""
        timer = Timer(due, kind, key)
        timers = self.s.timers
        order = timer.order()
        i = bisect.bisect_left(timers, order, key=Timer.order)
        j = i
        while j < len(timers) and timers[j].order() == order:
            if timers[j] == timer:
                return
            j += 1
        timers.insert(i, timer)

    def cancel(self, kind: TimerKind, *key: Any) -> None:
        self.s.timers = [x for x in self.s.timers if not (x.kind == kind and x.key == key)]

    # -- the health rules' decisions ------------------------------------------------------------
    def carry(self, out: list[Output], intents: Intents) -> None:
        """Apply what a health rule decides, each intent before the rule goes on (it reads the state
        its earlier decisions made). The one place the health rules' decisions change the pair."""
        for intent in intents:
            CARRY[type(intent)](self, out, intent)

    def _set_role_intent(self, out: list[Output], i: SetRole) -> None:
        self.set_role(out, i.scope, i.unit, i.role, i.t, i.event, i.cause, i.cause_text, i.evidence)

    def _raise(self, out: list[Output], i: Raise) -> None:
        self.s.alerts.raise_(
            out, i.t, i.kind, i.severity, i.detail, i.evidence, group=i.group, unit=i.unit, started_at=i.started_at
        )

    def _resolve(self, out: list[Output], i: Resolve) -> None:
        if i.every:
            self.s.alerts.resolve_kind(out, i.t, i.kind, i.evidence)
        else:
            self.s.alerts.resolve(out, i.t, i.kind, i.evidence, group=i.group, unit=i.unit)

    def _end_failover(self, out: list[Output], i: EndFailover) -> None:
        self.s.alerts.resolve(out, i.t, "failover", i.evidence, group=i.group, unit=i.unit)
        self.s.alerts.resolve(out, i.t, "slow_failover", i.evidence, group=i.group, unit=i.unit)
        if not i.fired:
            self.cancel(TimerKind.SETTLE, i.group or 0, i.unit)

    def _refine(self, out: list[Output], i: Refine) -> None:
        out.append(i.update)
        self.s.alerts.refresh(i.update.alert_id, i.update.started_at.timestamp(), i.update.detail)

    def _schedule(self, out: list[Output], i: Schedule) -> None:
        self.schedule(i.due, i.kind, *i.key)

    def _cancel(self, out: list[Output], i: Cancel) -> None:
        self.cancel(i.kind, *i.key)

    def _forget(self, out: list[Output], i: Forget) -> None:
        kept = self.s.symptoms.get(i.scope, [])
        if i.interface is None:
            self.s.symptoms[i.scope] = [x for x in kept if x.unit != i.unit]
        else:
            self.s.symptoms[i.scope] = [x for x in kept if (x.interface, x.unit) != (i.interface, i.unit)]

    def _draft_due(self, out: list[Output], due: float, key: tuple[Any, ...]) -> None:
        if (scope_unit := (key[0], key[1])) in self.s.drafts:
            self._settle(out, scope_unit, due)

    def _split_due(self, out: list[Output], due: float, key: tuple[Any, ...]) -> None:
        self._check_split(out, key[0], due)

    # -- roles --------------------------------------------------------------------------------
    def scopes(self, e: Event) -> list[int]:
        if e.group is not None:
            return [e.group]
        return [1, 2] if self.s.mode == "active-active" else [0]

    def _become_active_active(self) -> None:
        self.s.mode = "active-active"
        unit_roles = self.s.roles.pop(0, {})
        unit_claims = self.s.claims.pop(0, {})
        for g in (1, 2):
            self.s.roles.setdefault(g, dict(unit_roles))
            self.s.claims.setdefault(g, dict(unit_claims))

    def _claim(self, scope: int, unit: str, role: Role, t: float, e: Event | None = None) -> None:
        """What a unit said about itself, and when: the strongest evidence there is (with the
        message's cause, for a takeover its words turn out to belong to)."""
        said = (str(e.cause or Cause.UNKNOWN), e.cause_text, e.event_id) if e is not None else ()
        self.s.claims.setdefault(scope, {})[unit] = Claim(t, role, *said)

    def _stood_down(self, scope: int, unit: str, since: float) -> Claim | None:
        """A unit's own standing down (with its message) at or after `since`."""
        claim = self.s.claims.get(scope, {}).get(unit)
        if claim is None or claim.t < since or claim.role not in (Role.STANDBY, Role.FAILED) or claim.event_id is None:
            return None
        return claim

    def claimed_since(self, scope: int, unit: str, since: float) -> Role | None:
        """The role a unit claimed for itself at or after `since`, if it did."""
        claim = self.s.claims.get(scope, {}).get(unit)
        return claim.role if claim is not None and claim.t >= since else None

    def set_role(
        self,
        out: list[Output],
        scope: int,
        unit: str,
        role: Role,
        t: float,
        e: Event | None,
        cause: str,
        cause_text: str | None = None,
        evidence: tuple[str, ...] = (),
    ) -> None:
        old = self.s.role(scope, unit)
        if old == role:
            return
        self.s.roles.setdefault(scope, {})[unit] = role
        ev = tuple(sorted(set(evidence + ((e.event_id,) if e else ()))))
        text = cause_text if cause_text is not None else (e.cause_text if e else None)
        out.append(
            Transition(self.s.pair, scope or None, unit, at(t), str(old), str(role), str(cause), text, ev, at(t))
        )
        if role != Role.FAILED:
            self.s.written_off.get(scope, {}).pop(unit, None)
            self.s.unheard.get(scope, {}).pop(unit, None)
        self.carry(out, health.role_changed(self, scope, unit, role, t, ev, str(cause)))
        if role != Role.ACTIVE:
            self._clear_split(out, scope, t, ev)
        elif self.s.role(scope, other(unit)) == Role.ACTIVE:
            # Both active, in whatever order and by whatever evidence: checked after the grace
            # (a takeover's old active is settled by then: failed, standby, or still active).
            self._start_split(scope, t, ev)

    def _unit_of(self, e: Event) -> Unit | None:
        """The unit that logged a message: its tag, else the role its sender address speaks for."""
        if e.unit is not None:
            return e.unit
        role = self.s.sources.get(e.source)
        if role is None:
            return None
        holders = [u for u in UNITS if self.s.role(self.scopes(e)[0], u) == role]
        return holders[0] if len(holders) == 1 else None

    def _learn_source(self, e: Event) -> None:
        # The active unit sends from the active address, the standby from the standby address. A
        # sender that speaks for both roles at once (both units' tagged lines within SHARED_WITHIN,
        # no failover between: both units behind one relay or one device id) is `shared`: it
        # attributes nothing and its silence is the pair's.
        role = self.s.role(self.scopes(e)[0], e.unit.value if e.unit else "")
        known = self.s.sources
        if role not in (Role.ACTIVE, Role.STANDBY) or e.source == e.device_id:
            return
        if e.source not in known and len(known) >= SOURCES_MAX:
            return
        t = e.at.timestamp()
        was = known.get(e.source)
        if was == SHARED:
            return
        spoke = self.s.spoke.setdefault(e.source, [None, None])
        spoke[0 if role == Role.ACTIVE else 1] = t
        other_t = spoke[1 if role == Role.ACTIVE else 0]
        since = self.s.last_failover_at
        if (
            was is not None
            and was != role
            and other_t is not None
            and t - other_t <= SHARED_WITHIN
            and (since is None or other_t > since)
        ):
            known[e.source] = SHARED
            return
        known[e.source] = role

    def _sync_claim(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        """Configuration sync: the sender speaks as the active unit, the receiver joins as standby."""
        mine, peers = SYNC_ROLES[e.kind]
        peer = other(unit)
        for scope in self.scopes(e):
            self._claim(scope, unit, mine, t)
            if mine != Role.SYNCING or self.s.role(scope, unit) != Role.STANDBY:
                self.set_role(out, scope, unit, mine, t, e, Cause.CONFIG_SYNC)
            peer_role = self.s.role(scope, peer)
            if peers == Role.ACTIVE and peer_role != Role.ACTIVE and self.claimed_since(scope, peer, t) is None:
                self.set_role(out, scope, peer, Role.ACTIVE, t, e, Cause.CONFIG_SYNC)
            elif peers == Role.SYNCING and peer_role in (Role.STANDBY, Role.UNKNOWN, Role.FAILED):
                self.set_role(out, scope, peer, Role.SYNCING, t, e, Cause.CONFIG_SYNC)
            elif peers == Role.STANDBY and peer_role in (Role.SYNCING, Role.UNKNOWN, Role.FAILED):
                self.set_role(out, scope, peer, Role.STANDBY, t, e, Cause.CONFIG_SYNC)

    # -- takeovers ----------------------------------------------------------------------------
    def _takeover(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        cause = e.cause or Cause.UNKNOWN
        for scope in self.scopes(e):
            peer = other(unit)
            peer_role = self.s.role(scope, peer)
            self._claim(scope, unit, Role.ACTIVE, t)
            if (
                unit in self.s.written_off.get(scope, {})
                and t > self.s.written_off[scope][unit] + self.timing.merge_window
            ):
                # Written off by its peer's takeover, it speaks as active again: both are active.
                self.set_role(out, scope, unit, Role.ACTIVE, t, e, cause)
                self._start_split(scope, t, (e.event_id,))
                continue
            draft = self._draft(scope, unit, t)
            if cause == Cause.STARTUP and draft is None:
                # It found no active peer. If the peer says it is active, both are.
                self.set_role(out, scope, unit, Role.ACTIVE, t, e, cause)
                if peer_role == Role.ACTIVE:
                    self._start_split(scope, t, (e.event_id,))
                continue
            if (
                cause != Cause.STARTUP
                and peer_role in (Role.UNKNOWN, Role.STANDBY)
                and self.s.role(scope, unit) != Role.ACTIVE
                and self.claimed_since(scope, peer, t - self.timing.merge_window) is None
            ):
                # A unit takes over only from an active mate: its takeover makes the mate the old
                # active, whatever hamon heard (or never heard) of the mate before.
                words = f"its mate took over: {e.cause_text}" if e.cause_text else "its mate took over"
                self.set_role(out, scope, peer, Role.ACTIVE, t, None, Cause.UNKNOWN, words, (e.event_id,))
                peer_role = Role.ACTIVE
            self.set_role(out, scope, unit, Role.ACTIVE, t, e, cause)
            previous = peer if peer_role in (Role.ACTIVE, Role.UNKNOWN) or cause != Cause.STARTUP else None
            self._add_to_draft(out, scope, unit, previous, t, e, takeover=True)

    def _leave(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        role = Role.FAILED if e.kind == "switch_failed" else Role.STANDBY
        peer = other(unit)
        cause = e.cause or Cause.UNKNOWN
        if role == Role.FAILED and cause == Cause.UNKNOWN and self.s.failed_since.get(unit):
            # `Switching to FAILED.` names no cause; its failed monitored interfaces do.
            cause = Cause.INTERFACE_FAILURE
        for scope in self.scopes(e):
            was, peer_role = self.s.role(scope, unit), self.s.role(scope, peer)
            self._claim(scope, unit, role, t, e)
            self.set_role(out, scope, unit, role, t, e, cause)
            if self._draft(scope, peer, t) is not None:
                # Its side of a takeover already known.
                self._add_to_draft(out, scope, peer, unit, t, e, takeover=False)
            elif e.cause == Cause.STARTUP:
                # "Detected an Active mate": the peer is active (and was: no failover).
                since = self.s.unheard.get(scope, {}).get(peer)
                if since is not None and was == Role.ACTIVE and self.claimed_since(scope, peer, since) is None:
                    # The active unit stands down for a mate written off when it stopped hearing
                    # it, which said nothing since (no restart): that mate was up and active all
                    # along — both were, from the takeover until now.
                    self._raise_split(out, scope, t, since, (e.event_id,))
                    self._restate(out, scope, peer, t)
                    self._clear_split(out, scope, t, (e.event_id,))
                if peer_role != Role.ACTIVE and self.claimed_since(scope, peer, t) is None:
                    self.set_role(out, scope, peer, Role.ACTIVE, t, e, Cause.STARTUP)
            elif was == Role.ACTIVE and peer_role != Role.ACTIVE:
                # The known active unit steps down: its peer takes over, maybe without a word of its own.
                self._add_to_draft(out, scope, peer, unit, t, e, takeover=False)

    def _peer_down(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        peer = other(unit)
        for scope in self.scopes(e):
            if unit in self.s.written_off.get(scope, {}):
                # Written off as failed, it reports its peer gone: it is alive and thinks itself active.
                self.set_role(out, scope, unit, Role.ACTIVE, t, e, Cause.UNKNOWN)
                self._start_split(scope, t, (e.event_id,))
            elif self.s.role(scope, unit) != Role.ACTIVE:
                continue
            elif self._alive(peer, t):
                # Not heard, yet it logs: out of reach, not failed; speaking as active, both are.
                if self.s.role(scope, peer) == Role.ACTIVE:
                    self._start_split(scope, t, (e.event_id,))
            elif self.s.role(scope, peer) != Role.ACTIVE:
                # Table 3: standby unit failed — no failover, the active marks the standby failed,
                # once the merge window showed it silent (judged in `_peer_failed`).
                cause = e.cause or Cause.PEER_UNREACHABLE
                self.schedule(t + self.timing.merge_window, TimerKind.PEER_DOWN, scope, peer, t, str(cause), e.event_id)
        if e.cause == Cause.CONFIG_SYNC:
            # 103001 reason 5/6: the standby went down during a configuration sync that never ended.
            self.s.alerts.raise_(
                out,
                t,
                "config_sync_failed",
                "critical",
                f"{peer} went down during configuration sync (reason code {e.reason_code})",
                (e.event_id,),
            )

    def _peer_failed(self, out: list[Output], due: float, key: tuple[Any, ...]) -> None:
        """The active unit reported its peer gone: failed, unless the peer spoke since or took over."""
        scope, peer, t, cause, event_id = key
        if self.s.role(scope, other(peer)) != Role.ACTIVE or self.s.role(scope, peer) in (Role.ACTIVE, Role.FAILED):
            return
        if self._alive(peer, t) or self.claimed_since(scope, peer, t - self.timing.merge_window) is not None:
            return
        self.set_role(out, scope, peer, Role.FAILED, t, None, cause, None, (event_id,))

    def _draft(self, scope: int, new_active: str, t: float) -> Draft | None:
        d = self.s.drafts.get((scope, new_active))
        return d if d is not None and t <= d.first_seen + self.timing.merge_window else None

    def _add_to_draft(
        self,
        out: list[Output],
        scope: int,
        new_active: str,
        previous: str | None,
        t: float,
        e: Event,
        *,
        takeover: bool,
    ) -> None:
        cause = e.cause or Cause.UNKNOWN
        rank = _cause_rank(cause, takeover)
        key = (scope, new_active)
        d = self._draft(scope, new_active, t)
        if d is None:
            if key in self.s.drafts:  # an older takeover of the same unit, not yet settled
                self._settle(out, key, t)
            d = Draft(scope, new_active, previous, t, t, takeover, str(cause), e.cause_text, rank, [e.event_id])
            lead = self._stood_down(scope, other(new_active), t - self.timing.merge_window) if takeover else None
            if lead is not None and lead.event_id is not None and lead.cause is not None:
                # The old active said first why it stood down ("Set by the config command"): its
                # words are this takeover's, as they would be had they come second.
                d.first_seen = min(d.first_seen, lead.t)
                d.evidence = sorted({e.event_id, lead.event_id})
                d.previous_active = d.previous_active or other(new_active)
                lead_rank = _cause_rank(lead.cause, False)
                if (lead_rank, lead.cause_text or "") > (d.cause_rank, d.cause_text or ""):
                    d.cause, d.cause_text, d.cause_rank = lead.cause, lead.cause_text, lead_rank
            self.s.drafts[key] = d
            self.schedule(t + self.timing.merge_window, TimerKind.FAILOVER, *key)
            self._emit_failover(out, d, t, first=True)
            return
        before = self._failover_of(d, t)
        d.evidence = sorted(set(d.evidence) | {e.event_id})
        if d.previous_active is None:
            d.previous_active = previous
        if takeover and (not d.at_is_takeover or t < d.at):
            d.at, d.at_is_takeover = t, True
        if (rank, e.cause_text or "") > (d.cause_rank, d.cause_text or ""):
            d.cause, d.cause_text, d.cause_rank = str(cause), e.cause_text, rank
        self._emit_failover(out, d, t, first=False, before=before)

    def _failover_of(self, d: Draft, now: float, *, silence: bool = True) -> Failover:
        """The failover a draft stands for, as the evidence in so far tells it (without `silence`,
        the pair's falling silent does not start the detection: the old active turned out alive)."""
        scope = d.scope
        cause = d.cause
        symptoms = [x for x in self.s.symptoms.get(scope, []) if d.at - self.timing.symptom_horizon <= x.t <= d.at]
        if cause == Cause.UNKNOWN and symptoms:
            cause = health.cause_from_symptoms(self, symptoms)
        starts = [x.t for x in symptoms]
        if cause == Cause.INTERFACE_FAILURE and d.previous_active is not None:
            met = health.detection_start(self, scope, d.previous_active, symptoms)
            if met is not None:
                starts = [met]
        # the survivor's symptoms' seconds, but those in which the old active spoke too
        spoke = {math.floor(x.t) for x in symptoms if x.unit == d.previous_active}
        survivor = [x.t for x in symptoms if x.unit == d.new_active and math.floor(x.t) not in spoke]
        silent = self._fell_silent(d.at, survivor)
        silent = silent if cause == Cause.PEER_UNREACHABLE and silence else None
        if silent is not None:
            starts.append(silent)
        link = self.s.alerts.open.get(AlertBook.key("failover_link_down", None, None))
        if (
            cause == Cause.PEER_UNREACHABLE
            and link is not None
            and d.at - self.timing.symptom_horizon <= link.started_at <= d.at
        ):
            # The failover link went down and is still down: the hellos on it stopped then, and the
            # unit hold time counted from there.
            starts.append(link.started_at)
        detection = None
        if starts and cause in FAILURE_CAUSES:
            detection = max(0.0, d.at - min(starts))
        evidence = tuple(sorted(set(d.evidence) | {x.event_id for x in symptoms}))
        return Failover(
            self.s.pair,
            scope or None,
            at(d.at),
            d.new_active,
            d.previous_active,
            str(cause),
            d.cause_text,
            detection,
            evidence,
            at(now),
            at(d.first_seen),
        )

    def _emit_failover(
        self, out: list[Output], d: Draft, now: float, *, first: bool, before: Failover | None = None
    ) -> None:
        """Output a failover as soon as its takeover is known; later messages refine it in place."""
        fo = self._failover_of(d, now)
        scope, new, old = d.scope, d.new_active, d.previous_active
        self.set_role(out, scope, new, Role.ACTIVE, d.at, None, fo.cause, fo.cause_text, fo.evidence)
        if old is not None and fo.cause not in FAILURE_CAUSES and self.s.role(scope, old) == Role.ACTIVE:
            # A handover (manual, preempt, the other unit asked): the old active stands down with it.
            self.set_role(out, scope, old, Role.STANDBY, d.at, None, fo.cause, fo.cause_text, fo.evidence)
        if old is None and fo.cause == Cause.STARTUP:
            return  # a unit came up active with no peer: not a failover
        out.append(fo)
        if first or before is None:
            self.carry(out, health.after_failover(self, fo, now))
        else:
            self.carry(out, health.failover_refined(self, fo, before, now))

    def _settle(self, out: list[Output], key: DraftKey, now: float) -> None:
        """The merge window is over: settle what became of the old active."""
        d = self.s.drafts.pop(key)
        self.cancel(TimerKind.FAILOVER, *key)
        scope = d.scope
        fo = self._failover_of(d, now)
        self.s.restate.pop(scope, None)  # a later failover of the scope: the earlier one stands
        found_alive = self._judge_old_active(out, d, fo)
        alive = self._failover_of(d, now, silence=False) if fo.cause == Cause.PEER_UNREACHABLE else fo
        if alive.detection_s != fo.detection_s and found_alive:
            # It kept showing life: a pause in the pair's lines before the takeover (a relay's
            # losses) was not its falling silent, and the detection is what the symptoms say.
            out.append(alive)
            self.carry(out, health.failover_refined(self, alive, fo, now))
            fo = alive
        elif alive.detection_s != fo.detection_s and d.previous_active in self.s.unheard.get(scope, {}):
            # Written off as silent: told again so if it turns out alive (`_revived`).
            self.s.restate[scope] = Restate(d.previous_active, fo, alive)
        # Symptoms up to the window's end were this takeover's story (behind skewed clocks a unit's
        # interface test of this takeover may be stamped after it): none counts for a later one.
        self.s.symptoms[scope] = [x for x in self.s.symptoms.get(scope, []) if x.t > max(d.at, now)]
        self.carry(out, health.failover_settled(self, fo, now))

    def assembling(self, scope: int, new_active: str) -> bool:
        """A takeover by `new_active` is still within its merge window."""
        return (scope, new_active) in self.s.drafts

    def _judge_old_active(self, out: list[Output], d: Draft, fo: Failover) -> bool:
        """Settle the old active's role; True when it was found alive after a lost-peer takeover."""
        scope, old = d.scope, d.previous_active
        if old is None or self.claimed_since(scope, old, d.first_seen - self.timing.merge_window) is not None:
            return False  # it said what it became itself
        old_role = self.s.role(scope, old)
        if fo.cause in FAILURE_CAUSES and old_role in (Role.ACTIVE, Role.STANDBY, Role.UNKNOWN):
            if fo.cause == Cause.PEER_UNREACHABLE and self._alive(old, d.at):
                # It kept showing life without standing down: not failed, and if it was active it
                # never stopped being active.
                if old_role == Role.ACTIVE:
                    self._start_split(scope, d.at, fo.evidence)
                return True
            # Tables 3 and 4: the active unit (group) that lost it to a failure is marked failed.
            self.set_role(out, scope, old, Role.FAILED, d.at, None, fo.cause, fo.cause_text, fo.evidence)
            self.s.written_off.setdefault(scope, {})[old] = d.at
            if fo.cause == Cause.PEER_UNREACHABLE:
                self.s.unheard.setdefault(scope, {})[old] = d.at
        elif old_role == Role.ACTIVE:
            self.set_role(out, scope, old, Role.STANDBY, d.at, None, fo.cause, fo.cause_text, fo.evidence)
        return False

    def _alive(self, unit: str, takeover: float) -> bool:
        """The unit logged after its peer stopped hearing it (a powered-off unit logs nothing), or
        it logged a symptom of the loss itself within the hold time and the merge window before the
        takeover: a unit that noticed its mate missing (`Lost Failover communications with mate`,
        its interface tests) was up after contact was lost, however its clock is off."""
        heard = self.s.heard.get(unit)
        if heard is not None and heard >= takeover - max(self.cfg.unit_holdtime - 1.0, 0.0):
            return True
        since = takeover - self.cfg.unit_holdtime - self.timing.merge_window
        return any(x.unit == unit and since <= x.t <= takeover for kept in self.s.symptoms.values() for x in kept)

    def _fell_silent(self, takeover: float, survivor: list[float]) -> float | None:
        """When the lost unit fell silent: the last second its pair was heard before the takeover.

        Counted only when the pair was busy before it (so a quiet pair's ordinary pauses are not
        taken for a failure) and the gap is a real one (longer than two unit poll times and half the
        unit hold time, which the survivor waited out before taking over). Senders
        known to speak for the standby unit are left out, and so are the seconds of the survivor's
        own symptoms (`survivor`: it noticed the loss; behind a shared sender they are its lines).
        """
        standby = [src for src, role in self.s.sources.items() if role == Role.STANDBY]
        last = self.traffic.last_heard(takeover, standby, self.timing.symptom_horizon, survivor)
        if last is None or takeover - last < max(2 * self.cfg.unit_polltime, 2.0, self.cfg.unit_holdtime / 2):
            return None  # a pause as a live unit's traffic has: the peer waits out the hold time first
        window = self.timing.busy_window
        if self.traffic.seconds_heard(last - window, last + 1, standby) < self.timing.busy_seconds:
            return None
        return last

    # -- split-brain --------------------------------------------------------------------------
    def _witness(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        mine, peers = (e.my_state or "").lower(), (e.peer_state or "").lower()
        # VPN/WebVPN HA status names no failover group; in Active/Active it speaks for group 1,
        # which holds the admin context.
        scopes = [e.group or 1] if self.s.mode == "active-active" else [0]
        for scope in scopes:
            if mine == Role.ACTIVE and peers == Role.ACTIVE:
                self.set_role(out, scope, unit, Role.ACTIVE, t, e, Cause.UNKNOWN)
                self.set_role(out, scope, other(unit), Role.ACTIVE, t, e, Cause.UNKNOWN)
                self._start_split(scope, t, (e.event_id,))
            elif mine == Role.ACTIVE and peers.startswith(Role.STANDBY):
                self.set_role(out, scope, unit, Role.ACTIVE, t, e, Cause.UNKNOWN)
                self.set_role(out, scope, other(unit), Role.STANDBY, t, e, Cause.UNKNOWN)

    def _polled(self, out: list[Output], e: Event, unit: str, t: float) -> None:
        """A `show failover` of one unit: its own state, and its peer's when the two are in contact.

        A peer the unit reports as Standby Ready or Active is in contact and believed, and so is a
        peer reported Failed over a failover link that is up; otherwise the peer may only be out of
        reach, so the poll speaks for the polled unit alone (both units polled as Active with no
        contact is how a split-brain shows). `e.status` is the failover link as the unit saw it.
        """
        mine, peers = _polled_role(e.my_state), _polled_role(e.peer_state)
        if peers == Role.FAILED and (e.status or "").lower() != "up":
            peers = None
        # cfwHardwareStatusTable's "Standby" may be a unit still syncing: it does not end a known sync.
        ambiguous = {u for u, st in ((unit, e.my_state), (other(unit), e.peer_state)) if st == "Standby"}
        for scope in self.scopes(e):
            if mine is None:
                continue
            if mine != self.s.role(scope, unit) and not (
                unit in ambiguous and self.s.role(scope, unit) == Role.SYNCING
            ):
                self.set_role(out, scope, unit, mine, t, e, Cause.UNKNOWN)
            if peers in (Role.ACTIVE, Role.STANDBY, Role.FAILED) and not (peers == mine == Role.ACTIVE):
                peer_syncing = other(unit) in ambiguous and self.s.role(scope, other(unit)) == Role.SYNCING
                if peers != self.s.role(scope, other(unit)) and not peer_syncing:
                    self.set_role(out, scope, other(unit), peers, t, e, Cause.UNKNOWN)
            elif mine == Role.ACTIVE and self.s.role(scope, other(unit)) == Role.ACTIVE:
                self._start_split(scope, t, (e.event_id,))

    def _start_split(self, scope: int, t: float, evidence: tuple[str, ...]) -> None:
        if self.s.alerts.is_open("split_brain", scope or None):
            return
        check = self.s.split_checks.get(scope)
        if check is None:
            self.s.split_checks[scope] = SplitCheck(t + self.timing.split_grace, t, sorted(evidence))
            self.schedule(t + self.timing.split_grace, TimerKind.SPLIT, scope)
        else:
            check.evidence = sorted(set(check.evidence) | set(evidence))

    def _check_split(self, out: list[Output], scope: int, now: float) -> None:
        check = self.s.split_checks.pop(scope, None)
        if check is None:
            return
        if all(self.s.role(scope, u) == Role.ACTIVE for u in UNITS):
            self._raise_split(out, scope, now, check.since, tuple(check.evidence))

    def _raise_split(self, out: list[Output], scope: int, now: float, since: float, evidence: tuple[str, ...]) -> None:
        self.s.alerts.raise_(
            out,
            now,
            "split_brain",
            "critical",
            "both units are active"
            + (f" for failover group {scope}" if scope else "")
            + (f"; failover link {self.s.failover_link}" if self.s.failover_link != "unknown" else ""),
            evidence,
            group=scope or None,
            started_at=since,
        )

    def _clear_split(self, out: list[Output], scope: int, t: float, evidence: tuple[str, ...]) -> None:
        if scope in self.s.split_checks:
            self.s.split_checks.pop(scope)
            self.cancel(TimerKind.SPLIT, scope)
        self.s.alerts.resolve(out, t, "split_brain", evidence, group=scope or None)


def _cause_rank(cause: str, takeover: bool) -> int:
    # A specific cause beats "unknown"; between two specific ones, the new active's own word wins.
    return (2 if cause != Cause.UNKNOWN else 0) + (1 if takeover else 0)


def _polled_role(state: str | None) -> Role | None:
    """A `show failover` state as a role (None: says nothing about the role)."""
    s = (state or "").lower()
    if s.startswith(Role.ACTIVE) or s == "just active":
        return Role.ACTIVE
    if s in ("standby ready", Role.STANDBY):  # "Standby": cfwHardwareStatusTable, ready or syncing
        return Role.STANDBY
    if s == "failed":
        return Role.FAILED
    if s in ("cold standby", "sync config", "sync file system", "bulk sync"):
        return Role.SYNCING
    if s == "disabled":
        return Role.DISABLED
    return None


# How each kind of health decision is applied (`PairMachine.carry`).
CARRY: dict[type, Callable[[PairMachine, list[Output], Any], None]] = {
    SetRole: PairMachine._set_role_intent,
    Raise: PairMachine._raise,
    Resolve: PairMachine._resolve,
    EndFailover: PairMachine._end_failover,
    Refine: PairMachine._refine,
    Schedule: PairMachine._schedule,
    Cancel: PairMachine._cancel,
    Forget: PairMachine._forget,
}

# The machine's own timers; the others are the health rules' (health.FIRE).
FIRE: dict[TimerKind, Callable[[PairMachine, list[Output], float, tuple[Any, ...]], None]] = {
    TimerKind.FAILOVER: PairMachine._draft_due,
    TimerKind.SPLIT: PairMachine._split_due,
    TimerKind.PEER_DOWN: PairMachine._peer_failed,
}


# What a message says of a unit's role, by its kind: the machine's rules (every other kind goes to
# the health rules, `health.apply`). A rule takes (machine, outputs, event, unit, event time).
Rule = Callable[[PairMachine, list[Output], Event, str, float], None]
ROLE_RULES: dict[str, Rule] = {
    **dict.fromkeys(TAKEOVER_KINDS, PairMachine._takeover),
    **dict.fromkeys(LEAVE_KINDS, PairMachine._leave),
    "switch_ok": PairMachine._ok,
    **dict.fromkeys(PEER_DOWN_KINDS, PairMachine._peer_down),
    "peer_reports_failed": PairMachine._reported_failed,
    "vpn_ha_status": PairMachine._witness,
    "webvpn_ha_status": PairMachine._witness,
    "polled_state": PairMachine._polled,
}
