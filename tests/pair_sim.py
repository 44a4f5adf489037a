"""An ASA Active/Standby pair, simulated from the failover chapter, with the ground truth.

The simulator drives two units (primary, secondary) through random operations whose outcome the
chapter fixes, writes what each unit would log — the real message texts (`tests/fixtures/messages`,
CATALOG.md) — and records what hamon must reconstruct from those lines alone:

- startup (Active Unit Determination at Startup): the first unit to boot finds no active unit and
  becomes active, the second detects an active mate, becomes standby and receives the
  configuration; or, with the failover link down at startup, both become active (Table 3: "Failover
  link failed at startup — Become active", a split-brain) until one detects the other;
- the active unit loses power (Table 3: the standby becomes active and marks the active failed,
  after the unit hold time — Table 2, 15 s by default — without hellos);
- the standby unit loses power (Table 3: no failover, the active marks the standby failed);
- a failed unit powers on again (Table 3: "Formerly active unit recovers — Become standby");
- `failover active` on the standby and `no failover active` on the active (manual, at once);
- an interface failure on the active unit at the interface policy (1, the default): the standby
  takes over, the old active says it is standby ("interface check, mate is healthier");
- an interface failure on the standby: marked failed, no failover; it returns to standby when the
  interface passes its test again (Interface Monitoring), or by `failover reset` ("Switching to
  OK"; it fails again when its interface still fails);
- a zero-downtime upgrade: the standby reloaded on the new release rejoins reporting the mate's
  version differs (103007), `failover active` on it, the old active reloaded and rejoining;
- the failover link failing during operation (Table 3: no failover, the link marked failed) and
  being restored;
- `no failover` on the active unit (Disable Failover: "the active and standby state of each unit
  [is] maintained", the standby stays in pseudo-standby), and `failover` again later: the standby
  resumes "after re-synchronizing" (a configuration sync). The pair cannot fail over meanwhile:
  failover_disabled is open from the one line to the other;
- `failover reload-standby` on the active unit: the standby reloads (the active stops hearing it
  and marks it failed, Table 3) and rejoins as standby, receiving the configuration;
- every hello lost while both units stay up (Unit Health Monitoring: "the standby unit switches to
  active mode and classifies the other unit as failed" — but the other keeps logging as active:
  both are active) and then contact again: one of the two stands down.

Only the active unit logs unless `logging standby` is set (a scenario parameter): a standby's own
lines are dropped then, except its role changes. Every time is a whole second, so the truth is
exact to the second.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

T0 = dt.datetime(2026, 11, 25, 0, 0, 0, tzinfo=dt.UTC)
HOLD = 15  # unit hold time (Table 2 default)
MISSED = 3  # three hellos (unit poll time 1 s) missed before the interface tests
UNITS = ("primary", "secondary")
# operations whose lines say which unit was active, for a pair hamon starts hearing just before one
LOSSY = (302013, 105005, 105008)  # lines a lossy relay may drop without changing the truth
SYMPTOMS = (105005, 105008)
REVEALING = ("power_off_active", "partition", "failover_active", "no_failover_active", "interface_active")


def other(unit: str) -> str:
    return "secondary" if unit == "primary" else "primary"


def tag(unit: str) -> str:
    return "(Primary)" if unit == "primary" else "(Secondary)"


@dataclass
class Truth:
    """What hamon must say about the pair."""

    failovers: list[tuple[int, str, str, str]] = field(default_factory=list)  # at, new, previous, cause
    splits: list[list[int | None]] = field(default_factory=list)  # [start, end or None]
    split_units: list[list[str | None]] = field(default_factory=list)  # whose line starts / ends each
    roles: dict[str, str] = field(default_factory=dict)  # at the end
    failed: set[str] = field(default_factory=set)  # units a unit_failed alert was opened for
    failed_at_end: set[str] = field(default_factory=set)  # ... and is still open for
    # per failover, how its detection time follows: None (manual: detects nothing), ("from", t) the
    # symptom at t, or ("lost", t, take) a power loss at t: from the old active's last line before
    # t when the pair was busy, else from the first symptom of it that reached hamon (`detection`)
    detections: list[tuple[object, ...] | None] = field(default_factory=list)
    partitions: list[tuple[int, int, str]] = field(default_factory=list)  # start, takeover, old active
    links: list[tuple[int, int, str]] = field(default_factory=list)  # failover link down, up, whose clock
    versions: list[tuple[int, int, str]] = field(default_factory=list)  # version mismatch said, over, whose clock
    disabled: list[tuple[int, int, str]] = field(default_factory=list)  # no failover, failover again, whose clock


@dataclass
class Line:
    at: int
    unit: str | None  # who logged it (None: untagged traffic of the active unit)
    msg_id: int
    text: str
    severity: int = 1
    own_role_change: bool = False  # 104001/104002/104003: sent even by a standby
    clock: str | None = None  # the unit whose clock stamps it (traffic: the active unit's)


class PairSim:
    def __init__(self, seed: int, name: str | None = None, ops: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.name = name or f"sim{seed:05d}"
        self.logging_standby = self.rng.random() < 0.5
        # hamon starts listening to a pair that has run for months: it never heard the startup, so
        # no unit said its role before the first operation
        self.late = self.rng.random() < 0.25
        self.listen_from: int | None = None
        self.role: dict[str, str] = {u: "off" for u in UNITS}  # active, standby, failed, off
        self.lines: list[Line] = []
        self.truth = Truth()
        self.ops: list[str] = []
        self.t = self.rng.randint(0, 3600)  # pairs start at different times
        self._conn = 100_000
        self.version = 3  # the release both units run (9.18(3))
        # Quiet stretches between operations (start, end, each unit's role, failovers so far): a
        # poll there states what the pair is.
        self.quiet: list[tuple[int, int, dict[str, str], int]] = []
        self._startup()
        for _ in range(ops if ops is not None else self.rng.randint(3, 10)):
            self._gap()
            self._step()
        self._gap()
        if self.listen_from is not None:  # what happened before hamon listened is not its to say
            keep = [i for i, sp in enumerate(self.truth.splits) if sp[1] is None or sp[1] >= self.listen_from]
            self.truth.splits = [self.truth.splits[i] for i in keep]
            self.truth.split_units = [self.truth.split_units[i] for i in keep]
        # The relay: for some pairs each unit's clock is off by up to 2 s, for some a tenth of the
        # lines that decide nothing alone (traffic, lost hellos, interface tests) never arrive.
        # Drawn apart from the operations, so a seed's operations stay what they were.
        relay = random.Random(seed * 7919 + 1)
        skewed = relay.random() < 0.3
        self.skew = {u: (relay.randint(-2, 2) if skewed else 0) for u in UNITS}
        loss = 0.1 if relay.random() < 0.3 else 0.0
        self.lost = {i for i, ln in enumerate(self.lines) if ln.msg_id in LOSSY and loss and relay.random() < loss}
        if skewed or loss:
            self.ops.append(f"relay: clocks {self.skew}, loss {loss}")
        self.truth.roles = {u: ("failed" if r == "off" else r) for u, r in self.role.items()}

    # -- what the units log ---------------------------------------------------------------------
    def log(self, at: int, unit: str, msg_id: int, text: str, *, own: bool = False, severity: int = 1) -> None:
        self.lines.append(Line(at, unit, msg_id, f"{tag(unit)} {text}", severity, own, unit))

    def _traffic(self, start: int, end: int) -> None:
        """Connections through the active unit(s), a line every 1-3 s: a busy pair."""
        t = start
        while t < end:
            for u in UNITS:
                if self.role[u] == "active":
                    self._conn += 1
                    n = self._conn % 250
                    text = (
                        f"Built inbound TCP connection {self._conn} for outside:198.51.100.{n}/4{n:04d} "
                        f"(198.51.100.{n}/4{n:04d}) to inside:10.1.1.{n}/443 (10.1.1.{n}/443)"
                    )
                    self.lines.append(Line(t, None, 302013, text, 6, clock=u))
                    break  # untagged: one line a tick for the pair
            t += self.rng.randint(1, 3)

    def _gap(self) -> None:
        gap = self.rng.randint(60, 600)
        self.quiet.append((self.t, self.t + gap, dict(self.role), len(self.truth.failovers)))
        self._traffic(self.t + 1, self.t + gap)
        self.t += gap

    def _split(self, start: int, unit: str) -> None:
        self.truth.splits.append([start, None])
        self.truth.split_units.append([unit, None])

    def _end_split(self, at: int, unit: str) -> None:
        self.truth.splits[-1][1] = at
        self.truth.split_units[-1][1] = unit

    def _fail(self, unit: str) -> None:
        self.truth.failed.add(unit)
        self.truth.failed_at_end.add(unit)

    def _unfail(self, unit: str) -> None:
        self.truth.failed_at_end.discard(unit)

    def _sync(self, at: int, active: str, joining: str) -> int:
        """Running configuration replication to a joining standby."""
        self.log(at + 1, active, 709003, "Beginning configuration replication: Send to mate.")
        self.log(at + 1, joining, 709005, "Beginning configuration replication: Receiving from mate.")
        done = at + self.rng.randint(3, 20)
        self.log(done, active, 709004, "End Configuration Replication (ACT)")
        self.log(done, joining, 709006, "End Configuration Replication (STB)")
        return done

    # -- startup ------------------------------------------------------------------------------------
    def _startup(self) -> None:
        first = self.rng.choice(UNITS)
        second = other(first)
        t = self.t
        self.ops.append(f"startup {first} first")
        if self.rng.random() < 0.15:  # the failover link down at startup: both active
            self.role[first] = self.role[second] = "active"
            self.log(t, first, 104001, "Switching to ACTIVE - No Active unit found.", own=True)
            t2 = t + self.rng.randint(1, 30)
            self.log(t2, second, 104001, "Switching to ACTIVE - No Active unit found.", own=True)
            self.ops.append("failover link down at startup")
            self._split(t2, second)
            self._traffic(t + 1, t2 + 90)
            t3 = t2 + self.rng.randint(90, 300)
            down = self.rng.choice(UNITS)
            self.log(t3, down, 104002, "Switching to STANDBY - Detected an Active mate", own=True)
            self.role[down] = "standby"
            self._end_split(t3, down)
            self._sync(t3, other(down), down)
            self.t = t3 + 25
            return
        self.role[first] = "active"
        self.log(t, first, 104001, "Switching to ACTIVE - No Active unit found.", own=True)
        t2 = t + self.rng.randint(5, 120)
        self._traffic(t + 1, t2)
        self.role[second] = "standby"
        stndby = self.rng.choice(["STANDBY", "STNDBY"])
        self.log(t2, second, 104002, f"Switching to {stndby} - Detected an Active mate", own=True)
        self._sync(t2, first, second)
        self.t = t2 + 25

    # -- operations -------------------------------------------------------------------------------
    def _step(self) -> None:
        active = [u for u in UNITS if self.role[u] == "active"]
        if len(active) != 1:
            return
        if self.late and self.listen_from is None and self.role[other(active[0])] != "standby":
            self.late = False  # nothing to reveal from this state: heard from the start after all
        x = active[0]
        y = other(x)
        if self.role[y] in ("off", "failed"):
            choices = ["power_on"] if self.role[y] == "off" else ["recover", "reset"]
        else:
            choices = ["power_off_active", "power_off_standby", "failover_active", "no_failover_active", "partition"]
            choices += ["failover_link_down", "upgrade", "no_failover", "reload_standby"]
            if self.logging_standby:  # the standby's interface tests are seen only then
                choices += ["interface_active", "interface_standby"]
            else:
                choices += ["interface_active"]
        if self.late and self.listen_from is None:
            choices = [c for c in choices if c in REVEALING]
            self.listen_from = self.t - self.rng.randint(5, 50)
            self.ops.append(f"hamon listening from +{self.listen_from - self.lines[0].at}s")
        op = self.rng.choice(choices)
        self.ops.append(f"{op} at +{self.t - self.lines[0].at}s (active {x})")
        getattr(self, f"_op_{op}")(x, y)

    def _op_power_off_active(self, x: str, y: str) -> None:
        t = self.t
        self.role[x] = "off"
        self.log(t + MISSED, y, 105005, "Lost Failover communications with mate on interface outside")
        self.log(t + MISSED + 1, y, 105008, "Testing Interface outside")
        take = t + HOLD
        self.log(take, y, 104001, "Switching to ACTIVE - HELLO not heard from mate.", own=True)
        self.role[y] = "active"
        self.truth.failovers.append((take, y, x, "peer_unreachable"))
        self.truth.detections.append(("lost", t, take))
        self._fail(x)
        self.t = take

    def _op_power_off_standby(self, x: str, y: str) -> None:
        t = self.t
        self.role[y] = "off"
        self.log(t + HOLD, x, 103001, "No response from other firewall (reason code = 4).")
        self._fail(y)
        self.t = t + HOLD

    def _op_power_on(self, x: str, y: str) -> None:
        t = self.t
        self.role[y] = "standby"
        self.log(t, y, 104002, "Switching to STANDBY - Detected an Active mate", own=True)
        self._sync(t, x, y)
        self._unfail(y)
        self.t = t + 25

    def _op_recover(self, x: str, y: str) -> None:
        # the standby's failed interface receives traffic again: back to standby
        t = self.t
        self.role[y] = "standby"
        self.log(t, y, 105009, "Testing on interface inside Passed")
        self._unfail(y)

    def _op_reset(self, x: str, y: str) -> None:
        """`failover reset` on the active unit: the failed standby is restored to an unfailed state
        ("Switching to OK", then standby); if its interface still fails, it fails again (chapter)."""
        t = self.t
        self.log(t, y, 104004, "Switching to OK.", own=True)
        self.role[y] = "standby"
        self._unfail(y)
        if self.rng.random() < 0.3:
            again = t + self.rng.randint(5, 25)
            self.log(again - 3, y, 105008, "Testing Interface inside")
            self.log(again, y, 105009, "Testing on interface inside Failed")
            self.role[y] = "failed"
            self._fail(y)
            self.t = again

    def _op_upgrade(self, x: str, y: str) -> None:
        """A zero-downtime upgrade: the standby is reloaded on the new release (the active marks it
        failed while it is down) and rejoins, both units saying the mate's version differs (103007:
        compatible, not identical); `failover active` on it; the old active is reloaded on the new
        release and rejoins, and nothing differs any more: the mismatch is over a minute after that
        join's configuration sync ends without it being said again."""
        old, new = f"9.18({self.version})", f"9.18({self.version + 1})"
        self.version += 1
        t = self.t
        self.role[y] = "off"
        self.log(t + HOLD, x, 103001, "No response from other firewall (reason code = 4).")
        self._fail(y)
        back = t + HOLD + self.rng.randint(60, 180)
        self.role[y] = "standby"
        self.log(back, x, 103007, f"Mate version {new} is not identical with ours {old}")
        self.log(back, y, 103007, f"Mate version {old} is not identical with ours {new}")
        self.log(back, y, 104002, "Switching to STANDBY - Detected an Active mate", own=True)
        self._sync(back, x, y)
        self._unfail(y)
        self.t = back + self.rng.randint(60, 300)
        self._manual(asked=y, obeys=x, active=y)
        t = self.t + self.rng.randint(30, 120)
        self.role[x] = "off"
        self.log(t + HOLD, y, 103001, "No response from other firewall (reason code = 4).")
        self._fail(x)
        rejoin = t + HOLD + self.rng.randint(60, 180)
        self.role[x] = "standby"
        self.log(rejoin, x, 104002, "Switching to STANDBY - Detected an Active mate", own=True)
        done = self._sync(rejoin, y, x)
        self._unfail(x)
        self.truth.versions.append((back, done, x))
        self.t = done + 61

    def _op_failover_link_down(self, x: str, y: str) -> None:
        """Table 3, "Failover link failed during operation": no failover, each unit marks the
        failover link failed (hellos still reach the mate on the monitored interfaces), until the
        link is restored."""
        t = self.t
        self.lines.append(Line(t, None, 105032, "LAN Failover interface is down", clock=x))
        back = t + self.rng.randint(30, 300)
        self._traffic(t + 1, back)
        self.lines.append(Line(back, None, 105031, "Failover LAN interface is up", clock=x))
        self.truth.links.append((t, back, x))
        self.t = back

    def _op_no_failover(self, x: str, y: str) -> None:
        """`no failover` on the active unit, then `failover`: the roles stay; the standby re-syncs."""
        t = self.t
        self.log(t, x, 105001, "Disabling failover.")
        back = t + self.rng.randint(30, 600)
        self._traffic(t + 1, back)
        self.log(back, x, 105002, "Enabling failover.")
        done = self._sync(back, x, y)
        self.truth.disabled.append((t, back, x))
        self.t = done + 5

    def _op_reload_standby(self, x: str, y: str) -> None:
        """`failover reload-standby` on the active unit: the standby reloads and rejoins."""
        t = self.t
        self.lines.append(
            Line(t, None, 111008, "User 'enable_15' executed the 'failover reload-standby' command.", 5, clock=x)
        )
        self.role[y] = "off"
        self.log(t + HOLD, x, 103001, "No response from other firewall (reason code = 4).")
        self._fail(y)
        back = t + HOLD + self.rng.randint(60, 240)
        self._traffic(t + 1, back)
        self.role[y] = "standby"
        self.log(back, y, 104002, "Switching to STANDBY - Detected an Active mate", own=True)
        done = self._sync(back, x, y)
        self._unfail(y)
        self.t = done + 5

    def _op_failover_active(self, x: str, y: str) -> None:
        """`failover active` on the standby: it asks, the active obeys."""
        self._manual(asked=y, obeys=x, active=y)

    def _op_no_failover_active(self, x: str, y: str) -> None:
        """`no failover active` on the active: it steps down, the standby is asked to take over."""
        self._manual(asked=x, obeys=y, active=y)

    def _manual(self, *, asked: str, obeys: str, active: str) -> None:
        """A manual switchover: the unit the command was typed on says "Set by the config command",
        its mate that the other unit wants it in the other role, naming the first unit's reason."""
        words = "Primary" if asked == "primary" else "Secondary"
        reason = f"{words} unit switch reason: Set by the config command."
        mine = "ACTIVE" if asked == active else "STANDBY"
        theirs = "STANDBY" if asked == active else "ACTIVE"
        pair = [
            (asked, 104001 if mine == "ACTIVE" else 104002, f"Switching to {mine} - Set by the config command."),
            (
                obeys,
                104001 if theirs == "ACTIVE" else 104002,
                f"Switching to {theirs} - Other unit wants me {theirs.title()}. {reason}",
            ),
        ]
        self._handover(self.t, pair, other(active), active, "manual")
        self.truth.detections.append(None)

    def _handover(self, t: int, pair: list[tuple[str, int, str]], x: str, y: str, cause: str) -> None:
        if self.rng.random() < 0.5:
            pair.reverse()  # either unit's line may come first
        for u, msg_id, text in pair:
            self.log(t, u, msg_id, text, own=True)
        self.role[x], self.role[y] = "standby", "active"
        self.truth.failovers.append((t, y, x, cause))

    def _op_interface_active(self, x: str, y: str) -> None:
        t = self.t
        self.log(t, x, 105008, "Testing Interface inside")
        failed = t + self.rng.randint(2, 5)
        self.log(failed, x, 105009, "Testing on interface inside Failed")
        why = self.rng.choice(["Interface check.", "ifc [inside] check, mate is healthier"])
        lines = [
            (y, 104001, f"Switching to ACTIVE - {why}"),
            (x, 104002, "Switching to STANDBY - interface check, mate is healthier"),
        ]
        if self.rng.random() < 0.5:
            lines.reverse()
        for u, msg_id, text in lines:
            self.log(failed, u, msg_id, text, own=True)
        self.role[x], self.role[y] = "standby", "active"
        self.truth.failovers.append((failed, y, x, "interface_failure"))
        self.truth.detections.append(("from", t))  # its testing, the first symptom
        # the interface receives traffic again before the next operation
        self.log(failed + self.rng.randint(20, 50), x, 105009, "Testing on interface inside Passed")
        self.t = failed + 55

    def _op_interface_standby(self, x: str, y: str) -> None:
        t = self.t
        self.log(t, y, 105008, "Testing Interface inside")
        self.log(t + self.rng.randint(2, 5), y, 105009, "Testing on interface inside Failed")
        self.role[y] = "failed"
        self._fail(y)
        self.t = t + 10

    def _op_partition(self, x: str, y: str) -> None:
        t = self.t
        self.log(t + MISSED, x, 105005, "Lost Failover communications with mate on interface failover")
        self.log(t + MISSED, y, 105005, "Lost Failover communications with mate on interface failover")
        self._traffic(t + 1, t + HOLD)  # the old active is up and passing traffic all along
        take = t + HOLD
        self.log(take, y, 104001, "Switching to ACTIVE - HELLO not heard from mate.", own=True)
        self.role[y] = "active"
        self.truth.failovers.append((take, y, x, "peer_unreachable"))
        self.truth.detections.append(("from", t))  # the lost hellos both logged
        self.truth.partitions.append((t, take, x))
        self._split(take, y)
        heal = take + self.rng.randint(60, 600)
        for s in range(take + 20, heal, self.rng.randint(20, 60)):  # the old active keeps testing
            self.log(s, x, 105008, "Testing Interface outside")
        self._traffic(take + 1, heal)
        down = self.rng.choice((x, y))
        self.log(heal, down, 104002, "Switching to STANDBY - Detected an Active mate", own=True)
        self.role[down] = "standby"
        self._end_split(heal, down)
        self.t = heal

    # -- output -----------------------------------------------------------------------------------
    def emitted(self, max_severity: int = 7) -> list[Line]:
        """What reaches hamon: a standby's own lines only with `logging standby` (role changes
        always); in time order, lines of one second in the order they were logged. Traps carry
        only the messages up to their logging level (`max_severity`)."""
        roles = self._roles_over_time()
        out = []
        for i, line in enumerate(self.lines):
            if self.listen_from is not None and line.at < self.listen_from:
                continue
            if line.severity > max_severity or i in self.lost:
                continue
            quiet = line.unit is not None and not self.logging_standby and not line.own_role_change
            if quiet and roles[i].get(line.unit or "") != "active":
                continue
            out.append(line)
        return sorted(out, key=lambda ln: ln.at)

    def written_off(self) -> set[str]:
        """Old actives of a split-brain whose every sign of life around the takeover was lost by
        the relay: hamon rightly marks them failed at first (and active again once they are heard)."""
        seen = {id(ln) for ln in self.emitted()}
        out = set()
        for t, take, x in self.truth.partitions:
            life = [ln for ln in self.lines if id(ln) in seen and ln.unit == x and t <= ln.at <= take + 10]
            if not life:
                out.add(x)
        return out

    def version_mismatch(self, i: int) -> tuple[int, int]:
        """Upgrade i's version_mismatch as hamon must tell it from what reached it: from the first
        stamp of a 103007 it was sent, until a minute after the first stamp of the rejoin's sync end."""
        said, synced, _unit = self.truth.versions[i]
        seen = self.emitted()
        start = min(self.stamp(ln) for ln in seen if ln.at == said and ln.msg_id == 103007)
        end = min(self.stamp(ln) for ln in seen if ln.at == synced and ln.msg_id in (709004, 709006))
        return start, end + 60

    @property
    def tolerance(self) -> int:
        """Seconds a detection time may be off: behind one sender, a skewed survivor's lines and the
        old active's last one can share a stamped second, which then counts for neither."""
        return 2 * max(abs(v) for v in self.skew.values())

    def stamp(self, line: Line) -> int:
        """The time the line's own unit stamps it with (its clock may be off)."""
        return line.at + self.skew.get(line.clock or "", 0)

    def failover_at(self, i: int) -> int:
        """Failover i's time as hamon must tell it: the new active's own stamp on its takeover."""
        at, new, _old, _cause = self.truth.failovers[i]
        return at + self.skew[new]

    def split(self, i: int) -> tuple[int, int | None]:
        (start, end), (starter, ender) = self.truth.splits[i], self.truth.split_units[i]
        assert start is not None and starter is not None
        return start + self.skew[starter], None if end is None else end + self.skew[ender or ""]

    def detection(self, i: int, max_severity: int = 7) -> float | None:
        """The detection time of failover i as hamon must report it from what it was sent."""
        how = self.truth.detections[i]
        if how is None:
            return None
        take = self.truth.failovers[i][0]
        took = self.failover_at(i)
        t = int(how[1])  # type: ignore[call-overload]
        seen = self.emitted(max_severity)
        symptoms = [self.stamp(ln) for ln in seen if t <= ln.at <= take and ln.msg_id in SYMPTOMS]
        symptoms = [x for x in symptoms if x <= took]  # a symptom a skewed clock stamps after the takeover: none
        if how[0] == "lost":
            before = sorted(self.stamp(ln) for ln in seen if take - 300 <= ln.at < t)
            if before and len({a for a in before if before[-1] - 30 <= a <= before[-1]}) >= 10:
                symptoms.append(before[-1])  # the pair was busy: its silence is the first symptom
        return float(took - min(symptoms)) if symptoms else None

    def _roles_over_time(self) -> list[dict[str, str]]:
        """Each line's unit roles as the unit saw them when it logged (replayed from role changes)."""
        role: dict[str, str] = {}
        seen = []
        for line in sorted(range(len(self.lines)), key=lambda i: self.lines[i].at):
            ln = self.lines[line]
            if ln.own_role_change and ln.unit is not None:
                role[ln.unit] = "active" if ln.msg_id == 104001 else "standby"
            seen.append((line, dict(role)))
        return [r for _, r in sorted(seen)]

    def render(self, host: str | None = None) -> list[tuple[int, str]]:
        host = host or self.name
        out = []
        for ln in self.emitted():
            t = T0 + dt.timedelta(seconds=self.stamp(ln))
            pri = 160 + ln.severity
            out.append((ln.at, f"<{pri}>{t:%b %d %Y %H:%M:%S} {host} : %ASA-{ln.severity}-{ln.msg_id}: {ln.text}"))
        return out


def as_traps(sim: PairSim, active_ip: str, standby_ip: str, max_severity: int = 2) -> list[tuple[int, bytes]]:
    """The pair's messages as clogMessageGenerated traps (hamon's trap capture lines), sent from the
    management address of the sender's role when it logged: the active unit's address moves with the
    active role (in a split-brain both units use it)."""
    from hamon.parse import traps

    roles = sim._roles_over_time()
    index = {id(line): i for i, line in enumerate(sim.lines)}
    hist = "1.3.6.1.4.1.9.9.41.1.2.3.1"
    out = []
    for n, ln in enumerate(sim.emitted(max_severity)):
        role = roles[index[id(ln)]].get(ln.unit or "", "active")
        if ln.own_role_change:  # it says it as it changes: from the address of the role it had
            role = "standby" if ln.msg_id == 104001 else role
        binds = (
            (traps.SNMP_TRAP_OID, traps.CLOG_MESSAGE_GENERATED),
            (f"{hist}.2.{n}", "HA"),
            (f"{hist}.3.{n}", ln.severity + 1),
            (f"{hist}.4.{n}", str(ln.msg_id)),
            (f"{hist}.5.{n}", ln.text),
        )
        at = T0 + dt.timedelta(seconds=sim.stamp(ln))  # the trap leaves as the unit logs it: its own clock
        out.append((ln.at, traps.Trap(at, active_ip if role == "active" else standby_ip, binds).to_line()))
    return out


def iso(seconds: int) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def gtag(unit: str, group: int) -> str:
    return f"({'Primary' if unit == 'primary' else 'Secondary'}_group_{group})"


PREFERRED = {1: "primary", 2: "secondary"}  # each group's unit preference, with preempt (Table 4)


@dataclass
class GroupTruth:
    """What hamon must say about an Active/Active pair: failovers per group, where each group is."""

    failovers: list[tuple[int, int, str, str, str]] = field(default_factory=list)  # at, group, new, old, cause
    groups: dict[str, str] = field(default_factory=dict)  # group -> the unit it is active on, at the end
    units: dict[str, str] = field(default_factory=dict)  # active for some group, standby, or failed (off)
    splits: list[tuple[int, int, int, str, str]] = field(default_factory=list)  # group, start, end, whose


class ActiveActiveSim:
    """An Active/Active pair (chapter: About Active/Active Failover; Table 4): two failover groups,
    group 1 preferring the primary and group 2 the secondary, both with preemption.

    - startup: the first unit to boot takes both groups ("When a unit boots while the peer unit is
      not available, both failover groups become active on the unit"); the second detects an active
      mate for both, then preempts its preferred group;
    - `failover active group N` on the unit where group N is standby (manual, at once);
    - a unit loses power: every group active on it becomes active on the peer after the unit hold
      time ("any active failover groups on that unit are marked as failed and become active on the
      peer unit");
    - the unit powers on: standby for both groups, then preempts the group it is preferred for;
    - for some pairs each unit's clock is off by up to 2 s (a failover's time is then the new
      active's own stamp).
    """

    def __init__(self, seed: int, name: str | None = None) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.name = name or f"aa{seed:05d}"
        self.logging_standby = True
        self.on = {u: False for u in UNITS}
        self.active: dict[int, str] = {}
        self.lines: list[Line] = []
        self.truth = GroupTruth()
        self.ops: list[str] = []
        self.t = self.rng.randint(0, 3600)
        self._startup()
        for _ in range(self.rng.randint(3, 8)):
            self.t += self.rng.randint(60, 400)
            self._step()
        relay = random.Random(seed * 7919 + 2)  # drawn apart from the operations
        skewed = relay.random() < 0.3
        self.skew = {u: (relay.randint(-2, 2) if skewed else 0) for u in UNITS}
        if skewed:
            self.ops.append(f"relay: clocks {self.skew}")
        self.truth.groups = {str(g): u for g, u in sorted(self.active.items())}
        self.truth.units = {
            u: "active" if u in self.active.values() else ("standby" if self.on[u] else "failed") for u in UNITS
        }

    def log(self, at: int, unit: str, group: int, msg_id: int, text: str) -> None:
        self.lines.append(Line(at, unit, msg_id, f"{gtag(unit, group)} {text}", 1, True))

    def _startup(self) -> None:
        first = self.rng.choice(UNITS)
        t = self.t
        self.on[first] = True
        for g in (1, 2):
            self.log(t, first, g, 104001, "Switching to ACTIVE - No Active unit found.")
            self.active[g] = first
        self.ops.append(f"startup {first} first")
        self.t = t + self.rng.randint(20, 200)
        self._power_on(other(first))

    def _power_on(self, unit: str) -> None:
        t = self.t
        self.on[unit] = True
        for g in (1, 2):
            self.log(t, unit, g, 104002, "Switching to STANDBY - Detected an Active mate")
        for g in (1, 2):
            if PREFERRED[g] == unit and self.active[g] != unit:
                at = t + self.rng.randint(5, 40)  # after the preempt delay, once it is in sync
                lines = [
                    (unit, 104001, "Switching to ACTIVE - Preempt"),
                    (other(unit), 104002, "Switching to STANDBY - Other unit wants me Standby."),
                ]
                if self.rng.random() < 0.5:
                    lines.reverse()
                for u, msg_id, text in lines:
                    self.log(at, u, g, msg_id, text)
                self.truth.failovers.append((at, g, unit, other(unit), "preempt"))
                self.active[g] = unit
                self.t = max(self.t, at)

    def _step(self) -> None:
        if not all(self.on.values()):
            down = next(u for u in UNITS if not self.on[u])
            self.ops.append(f"power_on {down} at +{self.t - self.lines[0].at}s")
            self._power_on(down)
            return
        op = self.rng.choice(["manual", "manual", "power_off", "partition"])
        if op == "partition":
            self._partition()
            return
        if op == "manual":
            g = self.rng.choice((1, 2))
            x = self.active[g]
            y = other(x)
            self.ops.append(f"failover active group {g} on {y} at +{self.t - self.lines[0].at}s")
            lines = [
                (y, 104001, "Switching to ACTIVE - Set by the config command."),
                (x, 104002, "Switching to STANDBY - Other unit wants me Standby."),
            ]
            if self.rng.random() < 0.5:
                lines.reverse()
            for u, msg_id, text in lines:
                self.log(self.t, u, g, msg_id, text)
            self.truth.failovers.append((self.t, g, y, x, "manual"))
            self.active[g] = y
            return
        holders = sorted({u for u in self.active.values()})
        x = self.rng.choice(holders)  # a unit with a group active on it
        y = other(x)
        self.ops.append(f"power_off {x} at +{self.t - self.lines[0].at}s")
        self.on[x] = False
        take = self.t + HOLD
        for g in (1, 2):
            if self.active[g] == x:
                self.log(take, y, g, 104001, "Switching to ACTIVE - HELLO not heard from mate.")
                self.truth.failovers.append((take, g, y, x, "peer_unreachable"))
                self.active[g] = y
        self.t = take

    def _partition(self) -> None:
        """Every hello lost while both units stay up: each unit takes over the groups its mate had
        (both active for every group: a split-brain per group), the old holders keep logging that
        they lost their mate; when contact is back, one unit of each group stands down."""
        t = self.t
        self.ops.append(f"partition at +{t - self.lines[0].at}s")
        for u in UNITS:
            for g in (1, 2):
                self.log(t + MISSED, u, g, 105005, "Lost Failover communications with mate on interface folink")
        take = t + HOLD
        for g in (1, 2):
            x = self.active[g]
            y = other(x)
            self.log(take, y, g, 104001, "Switching to ACTIVE - HELLO not heard from mate.")
            self.truth.failovers.append((take, g, y, x, "peer_unreachable"))
        heal = take + self.rng.randint(60, 300)
        for s in range(take + 20, heal, self.rng.randint(20, 60)):
            for g in (1, 2):
                self.log(s, self.active[g], g, 105005, "Lost Failover communications with mate on interface folink")
        for g in (1, 2):
            x = self.active[g]
            down = self.rng.choice(UNITS)
            self.log(heal, down, g, 104002, "Switching to STANDBY - Detected an Active mate")
            self.truth.splits.append((g, take, heal, other(x), down))
            self.active[g] = other(down)
        self.t = heal

    def render(self) -> list[tuple[int, str]]:
        out = []
        for ln in sorted(self.lines, key=lambda x: x.at):
            t = T0 + dt.timedelta(seconds=ln.at + self.skew.get(ln.unit or "", 0))  # the unit's own clock
            out.append((ln.at, f"<161>{t:%b %d %Y %H:%M:%S} {self.name} : %ASA-1-{ln.msg_id}: {ln.text}"))
        return out


SHOW_STATE = {"active": "Active", "standby": "Standby Ready", "failed": "Failed", "off": "Failed"}


def show_failover(
    sim: PairSim,
    unit: str,
    split_open: bool = False,
    roles: dict[str, str] | None = None,
    failovers: int | None = None,
) -> str:
    """`show failover` on `unit`, from a real device's output (tests/fixtures/cli): its own state,
    its mate's as it sees it, a unit failed by its interface with that interface Failed, a powered
    off mate's interfaces Unknown, the failover link down while a split-brain lasts, the last
    failover's time. By default as the simulation ends; `roles` and `failovers` (how many had
    happened) give the pair at an earlier time."""
    from pathlib import Path

    roles = roles if roles is not None else sim.role
    failovers = failovers if failovers is not None else len(sim.truth.failovers)
    text = (Path(__file__).parent / "fixtures" / "cli" / "show_failover_as_primary_active.txt").read_text()
    me, mate = unit.title(), other(unit).title()
    text = text.replace("Failover unit Primary", f"Failover unit {me}")
    text = text.replace("This host: Primary - Active", f"This host: {me} - {SHOW_STATE[roles[unit]]}")
    peer = SHOW_STATE[roles[other(unit)]]
    text = text.replace("Other host: Secondary - Standby Ready", f"Other host: {mate} - {peer}")
    blocks = text.split("Other host:")
    for i, who in enumerate((unit, other(unit))):
        if roles[who] == "failed":
            blocks[i] = blocks[i].replace(f"inside (10.20.0.{i + 1}): Normal", f"inside (10.20.0.{i + 1}): Failed")
        elif roles[who] == "off":
            blocks[i] = blocks[i].replace("): Normal (Monitored)", "): Unknown (Monitored)")
    text = "Other host:".join(blocks)
    if split_open:
        text = text.replace("GigabitEthernet0/3 (up)", "GigabitEthernet0/3 (down)")
    if failovers:
        last = T0 + dt.timedelta(seconds=sim.failover_at(failovers - 1))
        text = text.replace(
            "Last Failover at: 03:12:07 UTC Nov 24 2026", f"Last Failover at: {last:%H:%M:%S} UTC {last:%b %d %Y}"
        )
    else:
        text = text.replace("Last Failover at: 03:12:07 UTC Nov 24 2026\n", "")
    return text


def poll_times(sim: PairSim, rng: random.Random) -> list[tuple[int, dict[str, str], int]]:
    """Times to poll the pair between its operations (about half its quiet stretches, 30 s into one
    at the earliest), with its units' roles and the failovers so far then."""
    out = []
    for start, end, roles, failovers in sim.quiet:
        if sim.listen_from is not None and start < sim.listen_from:
            continue  # hamon was not listening yet
        if end - 5 > start + 30 and rng.random() < 0.5:
            out.append((rng.randint(start + 30, end - 5), roles, failovers))
    return out
