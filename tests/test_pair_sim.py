"""hamon against a simulated ASA pair (`pair_sim.py`, from the failover chapter), over thousands of
random seeds: every pair's failovers (time, new and old active, cause), split-brains (start, end),
final roles and failed units as the simulation's truth says. All pairs go through one replay, as a
sink's archive would; a share of them also through the live correlator, which must agree with the
replay byte for byte. A disagreement names its seed, the operations and the pair's lines."""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import REFERENCE
from pair_sim import HOLD, T0, ActiveActiveSim, PairSim, as_traps, iso, poll_times, show_failover

from hamon.cli import main
from hamon.correlate.live import LiveCorrelator
from hamon.model import RawBatch
from hamon.parse.batch import BatchParser
from hamon.resolve.pairs import PairResolver
from hamon.store import Store
from hamon.store.outputs import alert_list, failover_list, pair_list

SEEDS = int(os.environ.get("HAMON_SIM_SEEDS", "2000"))
TRAP_SEEDS = int(os.environ.get("HAMON_SIM_TRAP_SEEDS", "300"))
LIVE_SEEDS = int(os.environ.get("HAMON_SIM_LIVE_SEEDS", "100"))


def capture(sims: Sequence[PairSim | ActiveActiveSim]) -> str:
    """Every pair's lines, merged in time order as one sink receives them."""
    lines = [(at, i, n, text) for i, s in enumerate(sims) for n, (at, text) in enumerate(s.render())]
    return "\n".join(text for *_, text in sorted(lines)) + "\n"


def said(store: Store) -> dict[str, dict[str, Any]]:
    """What hamon holds of each pair, in the truth's terms."""
    out: dict[str, dict[str, Any]] = {}
    for p in pair_list(store):
        out[p["pair"]] = {
            "failovers": [],
            "splits": [],
            "roles": p["units"],
            "failed": set(),
            "failed_at_end": set(),
            "slow": 0,
            "links": [],
            "versions": [],
            "disabled": [],
        }
    for f in failover_list(store):
        out[f["pair"]]["failovers"].append(
            (f["at"], f["new_active"], f["previous_active"], f["cause"], f["detection_s"])
        )
    for a in alert_list(store):
        mine = out[a["pair"]]
        if a["kind"] == "split_brain":
            mine["splits"].append((a["started_at"], a["ended_at"]))
        elif a["kind"] == "version_mismatch":
            mine["versions"].append((a["started_at"], a["ended_at"]))
        elif a["kind"] == "failover_link_down":
            mine["links"].append((a["started_at"], a["ended_at"]))
        elif a["kind"] == "failover_disabled":
            mine["disabled"].append((a["started_at"], a["ended_at"]))
        elif a["kind"] == "slow_failover":
            mine["slow"] += 1
        elif a["kind"] == "unit_failed" and a["group"] is None:
            mine["failed"].add(a["unit"])
            if a["ended_at"] is None:
                mine["failed_at_end"].add(a["unit"])
    return out


def tell(record_property: Any, line: str) -> None:
    """Print what a randomized run covered, and record it for the run's summary (conftest)."""
    print(line)
    record_property("simulated", line)


def stored_outputs(db: str) -> tuple[object, ...]:
    """What a store holds of every pair: failovers, alerts, pair states."""
    s = Store(db)
    try:
        return failover_list(s), alert_list(s), pair_list(s)
    finally:
        s.close()


def replayed(db_file: Path, *args: str) -> dict[str, dict[str, Any]]:
    """`hamon replay` into a new store, and what hamon then holds of each pair (`said`)."""
    db = f"sqlite:///{db_file}"
    r = CliRunner().invoke(main, ["--db", db, *args, "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    store = Store(db)
    try:
        return said(store)
    finally:
        store.close()


def expected(sim: PairSim, max_severity: int = 7) -> dict[str, Any]:
    t = sim.truth
    return {
        "failovers": [
            (iso(sim.failover_at(i)), new, old, cause, sim.detection(i, max_severity))
            for i, (_at, new, old, cause) in enumerate(t.failovers)
        ],
        "splits": [(iso(a), None if b is None else iso(b)) for a, b in map(sim.split, range(len(t.splits)))],
        "roles": t.roles,
        "failed": t.failed | sim.written_off(),
        "failed_at_end": t.failed_at_end,
        "slow": 0,  # every simulated failover is detected within the hold time (+ margin): no page
        "links": [
            (iso(a + sim.skew[u]), iso(b + sim.skew[u]))
            for a, b, u in t.links
            if sim.listen_from is None or a >= sim.listen_from
        ],
        "versions": [tuple(map(iso, sim.version_mismatch(i))) for i in range(len(t.versions))],
        "disabled": [
            (iso(a + sim.skew[u]), iso(b + sim.skew[u]))
            for a, b, u in t.disabled
            if sim.listen_from is None or a >= sim.listen_from
        ],
    }


def agrees(sim: PairSim, got: dict[str, Any] | None, max_severity: int = 7) -> bool:
    """hamon's account of a pair is its truth (detection times within the relay's tolerance)."""
    want = expected(sim, max_severity)
    if got is None or {k: v for k, v in got.items() if k not in ("failovers", "slow")} != {
        k: v for k, v in want.items() if k not in ("failovers", "slow")
    }:
        return False
    # a slow_failover page only where a clock's skew may have made the detection look longer
    near = sum(1 for w in want["failovers"] if w[4] is not None and w[4] + sim.tolerance > HOLD + 5)
    if got["slow"] > near:
        return False
    if len(got["failovers"]) != len(want["failovers"]):
        return False
    for g, w in zip(got["failovers"], want["failovers"], strict=True):
        if g[:4] != w[:4] or (g[4] is None) != (w[4] is None):
            return False
        if g[4] is not None and abs(g[4] - w[4]) > sim.tolerance:
            return False
    return True


def explain(sim: PairSim, got: dict[str, Any] | None, max_severity: int = 7) -> str:
    want = expected(sim, max_severity)
    diff = [
        f"  {k}: hamon {None if got is None else got[k]!r}, truth {v!r}"
        for k, v in want.items()
        if got is None or got[k] != v
    ]
    lines = "\n".join(f"    {text}" for _, text in sim.render())
    ops = "; ".join(sim.ops)
    return (
        f"seed {sim.seed} ({sim.name}, logging standby {sim.logging_standby}): {ops}\n" + "\n".join(diff) + f"\n{lines}"
    )


def test_hamon_reconstructs_thousands_of_simulated_pairs(tmp_path: Path, record_property: Any) -> None:
    sims = [PairSim(seed) for seed in range(SEEDS)]
    path = tmp_path / "sim.log"
    path.write_text(capture(sims))
    got = replayed(tmp_path / "sim.db", "replay", str(path))
    wrong = [s for s in sims if not agrees(s, got.get(s.name))]
    # an operation's kind is its first word; "hamon listening from …" and "relay: …" are conditions
    kinds = {{"hamon": "late_listen"}.get(w, w) for s in sims for w in (op.split()[0].rstrip(":") for op in s.ops)}
    shown = "\n\n".join(explain(s, got.get(s.name)) for s in wrong[:3])
    tell(
        record_property,
        f"syslog: {len(sims):,} simulated pairs, {sum(len(s.lines) for s in sims):,} lines, operations {sorted(kinds)}",
    )
    assert not wrong, f"{len(wrong)} of {len(sims)} simulated pairs reconstructed wrongly; the first:\n{shown}"
    # the scenarios cover what the chapter names (a seed count too small to meet each would not)
    assert {"power_off_active", "power_off_standby", "power_on", "partition", "failover_active"} <= kinds
    assert {"no_failover_active", "interface_active", "interface_standby", "recover", "reset"} <= kinds
    assert {"failover_link_down", "upgrade", "no_failover", "reload_standby"} <= kinds


def test_simulated_pairs_told_by_traps_alone(tmp_path: Path, record_property: Any) -> None:
    """The same pairs heard only through SNMP traps (clogMessageGenerated, up to level 1, as
    `logging history alerts` sends them) from the units' management addresses — the active address
    moves with the active role — each pair's two addresses joined by the inventory: hamon must tell
    the same truth (detection times from what the traps carried: no traffic lines)."""
    sims = [PairSim(seed) for seed in range(50_000, 50_000 + TRAP_SEEDS)]
    rows: list[tuple[int, int, int, bytes]] = []
    inventory = ["pairs:"]
    for i, sim in enumerate(sims):
        active_ip, standby_ip = f"10.{i // 250}.{i % 250}.1", f"10.{i // 250}.{i % 250}.2"
        inventory += [f"  - name: {sim.name}", f"    match: [{active_ip}, {standby_ip}]"]
        rows += [(at, i, n, line) for n, (at, line) in enumerate(as_traps(sim, active_ip, standby_ip, 1))]
    (tmp_path / "inventory.yml").write_text("\n".join(inventory) + "\n")
    path = tmp_path / "traps.jsonl"
    path.write_bytes(b"".join(line + b"\n" for *_, line in sorted(rows)))
    got = replayed(
        tmp_path / "traps.db", "--inventory", str(tmp_path / "inventory.yml"), "replay", "--traps", str(path)
    )
    wrong = [s for s in sims if not agrees(s, got.get(s.name), max_severity=1)]
    tell(record_property, f"traps alone: {len(sims):,} simulated pairs told by {len(rows):,} traps")
    shown = "\n\n".join(explain(s, got.get(s.name), max_severity=1) for s in wrong[:3])
    assert not wrong, f"{len(wrong)} of {len(sims)} pairs told by traps reconstructed wrongly; the first:\n{shown}"


POLL_SEEDS = int(os.environ.get("HAMON_SIM_POLL_SEEDS", "300"))


def test_a_poll_of_each_unit_after_the_simulation_agrees_with_what_was_heard(
    tmp_path: Path, record_property: Any
) -> None:
    """`show failover` of each unit still up, 30 s after a simulated pair's last line (a real
    device's output with the simulated states): the polls are evidence like syslog, and where they
    say what the lines said, hamon's account of every pair stays its truth."""
    from hamon.correlate.engine import correlate
    from hamon.poll.offline import events as cli_events
    from hamon.poll.offline import read

    sims = [PairSim(seed) for seed in range(60_000, 60_000 + POLL_SEEDS)]
    path = tmp_path / "sim.log"
    path.write_text(capture(sims))
    db = tmp_path / "sim.db"
    replayed(db, "replay", str(path))
    store = Store(f"sqlite:///{db}")
    try:
        polled = 0
        for sim in sims:
            at = T0 + dt.timedelta(seconds=max(ln.at for ln in sim.lines) + 30)
            found = []
            for unit in ("primary", "secondary"):
                if sim.role[unit] != "off":
                    found += cli_events(read(show_failover(sim, unit), None), sim.name, None, at)
                    polled += 1
            assert sum(e.kind == "polled_state" for e in found) == sum(r != "off" for r in sim.role.values())
            store.add_events(store.stamp(found))
            correlate(store, {sim.name: at}, None)
        got = said(store)
    finally:
        store.close()
    wrong = [s for s in sims if not agrees(s, got.get(s.name))]
    tell(record_property, f"polls at the end: {len(sims):,} simulated pairs, {polled:,} polls")
    shown = "\n\n".join(explain(s, got.get(s.name)) for s in wrong[:3])
    assert not wrong, f"{len(wrong)} of {len(sims)} polled pairs disagree with their truth; the first:\n{shown}"


MID_POLL_SEEDS = int(os.environ.get("HAMON_SIM_MID_POLL_SEEDS", "300"))


def test_polls_between_operations_are_evidence_that_agrees_with_the_lines(tmp_path: Path, record_property: Any) -> None:
    """Each unit still up polled between operations — `show failover` (a real device's output with
    the pair's states then) and, while both units are up, cfwHardwareStatusTable as it answers
    (Active unit / Standby unit, failover link up) — stored beside the syslog lines and everything
    correlated in time order: the polls say what the lines said, and hamon's account of each pair
    stays its truth (no failover, split-brain or failed unit a poll alone made up)."""
    from hamon.collectors.snmp_poll import read_table
    from hamon.correlate.engine import correlate
    from hamon.poll.events import snmp_hardware_events
    from hamon.poll.offline import events as cli_events
    from hamon.poll.offline import read

    sims = [PairSim(seed) for seed in range(70_000, 70_000 + MID_POLL_SEEDS)]
    path = tmp_path / "sim.log"
    path.write_text(capture(sims))
    db = tmp_path / "sim.db"
    replayed(db, "replay", str(path))
    rng = random.Random(3)
    store = Store(f"sqlite:///{db}")
    polls = tables = 0
    try:
        found = []
        for sim in sims:
            for t, roles, failovers in poll_times(sim, rng):
                at = T0 + dt.timedelta(seconds=t)
                for unit in ("primary", "secondary"):
                    if roles[unit] == "off":
                        continue  # a powered-off unit answers nothing
                    found += cli_events(read(show_failover(sim, unit, False, roles, failovers)), sim.name, None, at)
                    polls += 1
                    if {roles[u] for u in ("primary", "secondary")} == {"active", "standby"}:
                        cells: dict[tuple[int, int], object] = {(2, 4): "LAN_FO GigabitEthernet0/3", (3, 4): 2}
                        cells[(4, 4)] = "LAN_FO GigabitEthernet0/3"
                        for row, u in ((6, "primary"), (7, "secondary")):
                            me = " (this device)" if u == unit else ""
                            cells[(2, row)] = f"{u.title()} unit{me}"
                            cells[(3, row)] = 9 if roles[u] == "active" else 10
                            cells[(4, row)] = "Active unit" if roles[u] == "active" else "Standby unit"
                        hw = read_table(cells)
                        found += snmp_hardware_events(hw.this_unit, hw.roles, hw.failover_link, None, sim.name, at)
                        tables += 1
        store.add_events(store.stamp(found))
        correlate(store, {sim.name: None for sim in sims}, None)
        got = said(store)
    finally:
        store.close()
    wrong = [s for s in sims if not agrees(s, got.get(s.name))]
    tell(
        record_property,
        f"polls between operations: {len(sims):,} simulated pairs, {polls:,} show failover, {tables:,} table",
    )
    assert polls > len(sims) and tables > len(sims) // 2
    shown = "\n\n".join(explain(s, got.get(s.name)) for s in wrong[:3])
    assert not wrong, f"{len(wrong)} of {len(sims)} pairs polled between operations disagree; the first:\n{shown}"


@pytest.mark.parametrize("reordered", [False, True], ids=["in-order", "reordered"])
def test_live_correlation_of_simulated_pairs_equals_their_replay(
    tmp_path: Path, reordered: bool, record_property: Any
) -> None:
    """Active/Standby and Active/Active pairs: the live correlator, fed as `serve` feeds it — a batch of lines parsed, its events stored
    and submitted, when its senders were heard, a tick — stores what the replay stores: failovers,
    alerts and pair states byte for byte (detection times from the units falling silent included).

    Reordered, each line arrives up to 48 lines away from its place (UDP through a relay):
    lines later than the ones before them are put in place by rewinds from the pair's in-memory copy
    or re-runs from the store, and the result is still the replay's of the same arrival order."""
    sims: list[PairSim | ActiveActiveSim] = [PairSim(seed) for seed in range(10_000, 10_000 + LIVE_SEEDS)]
    sims += [ActiveActiveSim(seed) for seed in range(20_000, 20_000 + LIVE_SEEDS // 2)]
    text = capture(sims)
    if reordered:
        shuffle = random.Random(11)
        arrived = text.splitlines()
        order = sorted(range(len(arrived)), key=lambda i: i + shuffle.uniform(0, 48))
        text = "\n".join(arrived[i] for i in order) + "\n"
    (tmp_path / "replay").mkdir()
    (tmp_path / "live").mkdir()
    path = tmp_path / "sim.log"
    path.write_text(text)
    replay_db = f"sqlite:///{tmp_path / 'replay' / 'hamon.db'}"
    r = CliRunner().invoke(main, ["--db", replay_db, "replay", str(path), "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output

    live_db = f"sqlite:///{tmp_path / 'live' / 'hamon.db'}"
    store = Store(live_db)
    live = LiveCorrelator(store, window=0.0)
    parser = BatchParser(PairResolver(None).resolve, tz=dt.UTC, next_seq=store.next_seq)
    rng = random.Random(7)
    lines = text.encode().splitlines(keepends=True)
    i = 0
    while i < len(lines):
        n = rng.randint(1, 400)  # batches of a datagram's to a busy TCP read's size
        batch = RawBatch(b"".join(lines[i : i + n]), REFERENCE, "fixture", "file", "files", "sim.log")
        i += n
        res = parser.parse(batch)
        store.add_events(res.events)
        live.submit(res.events)
        live.heard(parser.take_heard())
        if res.events:
            live.tick(max(e.at.timestamp() for e in res.events))
    live.flush()

    try:
        replayed, lived = stored_outputs(replay_db), stored_outputs(live_db)
        for what, a, b in zip(("failovers", "alerts", "pairs"), replayed, lived, strict=True):
            differ = [(x, y) for x, y in zip(a, b, strict=False) if x != y][:3]
            assert (len(a), differ) == (len(b), []), f"{what}: live differs from replay: {differ}"
        assert sum(f["detection_s"] is not None for f in replayed[0]) > 0
        how = "reordered" if reordered else "in order"
        late = f"; late {live.counts.late:,}: rewinds {live.counts.rewinds:,}, re-runs {live.counts.reruns:,}"
        tell(record_property, f"live = replay, byte for byte, {len(sims):,} simulated pairs {how}{late}")
        if reordered:
            assert live.counts.late > 0 and live.counts.rewinds > 0
    finally:
        store.close()


AA_SEEDS = int(os.environ.get("HAMON_SIM_AA_SEEDS", "1000"))


def test_hamon_follows_each_failover_group_of_simulated_active_active_pairs(
    tmp_path: Path, record_property: Any
) -> None:
    """Active/Active (Table 4): each group's failovers (time, group, new and old active, cause), the
    unit each group is active on at the end, and each unit's summary (active for some group, a
    standby, or failed), for every simulated pair."""
    sims = [ActiveActiveSim(seed) for seed in range(AA_SEEDS)]
    path = tmp_path / "aa.log"
    lines = sorted((at, i, n, text) for i, s in enumerate(sims) for n, (at, text) in enumerate(s.render()))
    path.write_text("\n".join(text for *_, text in lines) + "\n")
    db = f"sqlite:///{tmp_path / 'aa.db'}"
    r = CliRunner().invoke(main, ["--db", db, "replay", str(path), "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    store = Store(db)
    try:
        fos: dict[str, list[tuple[str, int, str, str | None, str]]] = {}
        for f in failover_list(store):
            fos.setdefault(f["pair"], []).append(
                (f["at"], f["group"], f["new_active"], f["previous_active"], f["cause"])
            )
        pairs = {p["pair"]: p for p in pair_list(store)}
        splits: dict[str, list[tuple[int, str, str | None]]] = {}
        for a in alert_list(store):
            if a["kind"] == "split_brain":
                splits.setdefault(a["pair"], []).append((a["group"], a["started_at"], a["ended_at"]))
    finally:
        store.close()
    wrong = []
    for s in sims:
        want_splits = sorted(
            (g, iso(a + s.skew[starter]), iso(b + s.skew[ender])) for g, a, b, starter, ender in s.truth.splits
        )
        if sorted(splits.get(s.name, [])) != want_splits:
            wrong.append(
                f"seed {s.seed}: {'; '.join(s.ops)}\n  splits: hamon {splits.get(s.name)}, truth {want_splits}"
            )
            continue
        want_fos = sorted((iso(at + s.skew[new]), g, new, old, cause) for at, g, new, old, cause in s.truth.failovers)
        got_fos = sorted(fos.get(s.name, []))
        got_groups = pairs[s.name]["groups"] if s.name in pairs else None
        got_units = pairs[s.name]["units"] if s.name in pairs else None
        mode = pairs[s.name]["mode"] if s.name in pairs else None
        if (got_fos, got_groups, got_units, mode) != (want_fos, s.truth.groups, s.truth.units, "active-active"):
            shown = "\n".join(f"    {t}" for _, t in s.render())
            wrong.append(
                f"seed {s.seed}: {'; '.join(s.ops)}\n  failovers: hamon {got_fos}\n  truth {want_fos}\n"
                f"  groups: hamon {got_groups}, truth {s.truth.groups}\n"
                f"  units: hamon {got_units}, truth {s.truth.units}\n{shown}"
            )
    tell(
        record_property,
        f"Active/Active: {len(sims):,} simulated pairs, {sum(len(s.truth.splits) for s in sims):,} group split-brains",
    )
    assert sum(len(s.truth.splits) for s in sims) > 0
    assert not wrong, f"{len(wrong)} of {len(sims)} Active/Active pairs wrong; the first:\n" + "\n\n".join(wrong[:2])


def test_a_replay_correlates_its_events_as_parsed_and_tells_what_a_read_back_tells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay into a store that holds nothing of its pairs correlates the events it parsed (the
    first of each repeated line's, the one stored) without reading them back; the same capture replayed with the read-back (too many events to hold), and
    a second replay of it (every event a duplicate: read back), store the very same outputs."""
    from hamon.service import replay as replay_mod
    from hamon.store import db as store_db

    sims: list[PairSim | ActiveActiveSim] = [PairSim(seed) for seed in range(80_000, 80_100)]
    sims += [ActiveActiveSim(seed) for seed in range(81_000, 81_030)]
    lines = capture(sims).splitlines(keepends=True)
    path = tmp_path / "sim.log"
    path.write_text("".join(line * (2 if i % 50 == 0 else 1) for i, line in enumerate(lines)))  # a relay's repeats
    read_back: list[str] = []
    pair_events = store_db.Store.pair_events

    def spy(self: Store, pair: str, *args: Any, **kwargs: Any) -> Any:
        read_back.append(pair)
        return pair_events(self, pair, *args, **kwargs)

    monkeypatch.setattr(store_db.Store, "pair_events", spy)

    def run(name: str, *args: str) -> str:
        db = f"sqlite:///{tmp_path / name}"
        r = CliRunner().invoke(main, ["--db", db, "replay", str(path), "--no-progress", *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return db

    as_parsed = run("parsed.db")
    assert read_back == []  # not one pair read back
    monkeypatch.setattr(replay_mod, "HELD_MAX", 0)
    read = run("read.db")
    assert len(set(read_back)) == len(sims)
    assert stored_outputs(as_parsed) == stored_outputs(read)
    monkeypatch.setattr(replay_mod, "HELD_MAX", 200_000)
    read_back.clear()
    before = stored_outputs(as_parsed)
    run("parsed.db")  # again: every event a duplicate
    assert len(set(read_back)) == len(sims) and stored_outputs(as_parsed) == before
