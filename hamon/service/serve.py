"""`hamon serve`, `hamon worker` and `hamon consume`: an intake, the bus, and the stages of a role
(hamon.service.stages) run by one `Service`.

The intake's collectors (threads) put what they take on the bus — `hamon serve`'s listeners after
appending it to the journal; one consumer takes groups off the bus and carries each through the
role's stages (parse, store or publish, commit, correlate, announce) and ticks the live correlator
on event time. Every few seconds the service writes its counters to the store (`hamon status`
reads them) and the per-sender activity. SIGTERM/SIGINT: stop taking in, drain the bus for up to
stop_timeout, tick, exit 0. SIGHUP: reload the inventory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import faulthandler
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le

from hamon.bus import Collector, MemoryBus, journal
from hamon.bus.counters import Counters, Rates
from hamon.bus.journal import Backlog, Journal, JournalBus
from hamon.bus.kafka import Ingest, Rebalance, bus_address
from hamon.errors import ConfigError, StoreError
from hamon.model import RawBatch
from hamon.parse.batch import BatchParser
from hamon.parse.timestamps import zone
from hamon.resolve.inventory import Inventory, load_inventory
from hamon.resolve.pairs import PairResolver
from hamon.service import stages
from hamon.service.intake import KafkaIntake, Listeners, address
from hamon.service.stages import Group
from hamon.store import Store

UTC = dt.UTC


log = logging.getLogger("hamon.serve")
GROUP = 256  # batches taken off the bus at once
GROUP_BYTES = 4 << 20  # or about this many bytes of them, whichever comes first
PRUNE_EVERY = 10.0  # seconds between two walks over the pairs held for the idle ones
STOP_GROUP_BYTES = 256 << 10  # while stopping: small groups, so the last one ends near stop_timeout


def snmp_poll_env() -> dict[str, str]:
    """SNMP poll credentials from the environment (the config file's `snmp_poll` wins)."""
    names = {"community": "COMMUNITY", "user": "USER", "auth": "AUTH", "auth_key": "AUTH_KEY"}
    names |= {"priv": "PRIV", "priv_key": "PRIV_KEY"}
    return {k: v for k, env in names.items() if (v := os.environ.get(f"HAMON_SNMP_POLL_{env}"))}


@dataclass
class ServeConfig:
    """What `hamon serve` listens on and how it behaves."""

    syslog_udp: list[str] = field(default_factory=list)
    syslog_tcp: list[str] = field(default_factory=list)
    syslog_tls: list[str] = field(default_factory=list)
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    metrics: str | None = None
    notify: list[str] = field(default_factory=list)
    snmp_trap: list[str] = field(default_factory=list)
    snmp_community: list[str] = field(default_factory=list)
    snmp_users: list[dict[str, str]] = field(default_factory=list)
    reorder_window: Annotated[float, Ge(0), Le(60)] = 0.0
    poll_interval: Annotated[float, Gt(0)] = 60.0
    ssh_secrets: str | None = None
    poll_timeout: Annotated[float, Gt(0)] = (
        5.0  # seconds an SNMP poll waits for each answer (SSH sessions: 4 times this)
    )
    snmp_poll: dict[str, str] = field(default_factory=dict)  # {community} or {user, auth, auth_key, priv, priv_key}
    status_every: Annotated[float, Gt(0)] = 2.0
    tick_every: Annotated[float, Gt(0)] = 0.1
    bus_capacity: Annotated[int, Ge(1)] = 4096
    tz: str = "UTC"  # the zone of device stamps that carry none (a pair's inventory `tz:` goes first)
    # The intake journal (hamon.bus.journal): every accepted batch on disk before anything else.
    journal_dir: str | None = None  # default: beside an embedded store, else the state directory
    # Every accepted SNMP trap kept raw (hamon.collectors.snmp_trap.TrapCapture), a file a day, for
    # `hamon replay --traps`; default: beside the journal (`<db file>.traps`, `…/hamon/traps`).
    trap_capture: str | None = None
    trap_capture_days: Annotated[int, Ge(0)] = 30  # days of trap files kept; 0: no capture
    journal_max_bytes: Annotated[int, Ge(1 << 16)] = 1 << 30  # not yet stored; beyond it input is refused
    journal_sync_every: Annotated[float, Gt(0), Le(60)] = 0.1  # seconds between fsyncs (power loss bound)
    journal_fsync: bool = True  # False: written to the page cache only (kill -9 still loses nothing)
    bus_bytes: Annotated[int, Ge(1 << 16)] = 16 << 20  # journaled batches also held in memory for the consumer
    # A TCP/TLS connection's kernel receive buffer (SO_RCVBUF): what the kernel acknowledged and
    # serve had not read yet when it is killed is lost with it, so this bounds what kill -9 costs
    # each connection. 0: the kernel's autotuning (up to net.ipv4.tcp_rmem's maximum, megabytes).
    tcp_receive_buffer: Annotated[int, Ge(0)] = 256 << 10
    stop_timeout: Annotated[float, Gt(0), Le(600)] = 10.0  # SIGTERM: store what it can in this long, keep the rest
    # Senders of pairs the inventory does not list (each host name is a pair of its own) tracked at
    # most; beyond, their failover lines are quarantined and their lines counted under one sender.
    max_unlisted_senders: Annotated[int, Ge(0)] = 10_000
    external_url: str | None = None  # hamon's Grafana, for links in notifications (generatorURL)
    repeat_every: Annotated[float, Gt(0)] = 4 * 3600.0  # a critical alert still open is told again
    bus: str | None = None  # `memory` (None) or kafka://HOST:PORT[,HOST:PORT...]: publish, do not store
    topic_prefix: str = "hamon"  # the Kafka topics' prefix: <prefix>.events
    kafka_buffer_bytes: Annotated[int, Ge(1 << 20)] = 64 << 20  # held while the broker is away


def serve_config(settings: dict[str, Any], where: str = "serve settings") -> ServeConfig:
    """ServeConfig from settings, every value's type checked now (pydantic), not at the first datagram.

    A wrong value is a ConfigError naming where it came from, the key and what was wrong.
    """
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(ServeConfig).validate_python(settings, strict=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"]) or "(settings)"
        value = first.get("input")
        raise ConfigError(f"{where}: key {key!r}: {first['msg'].lower()} (got {value!r})") from exc


@dataclass
class Held:
    """A group parsed but not kept (the store went away under it): held in memory, in order, and
    carried first when the store is back. Nothing more is taken from the bus meanwhile, so this is
    at most a group or two; the rest waits in the journal (or in Kafka)."""

    group: Group


class Service:
    """The running service: an intake and the stages of its role (see hamon.service.stages), a run
    loop that takes groups off the bus and carries them through, ticks the correlator and writes
    the status; the store's outages, stops and inventory reloads. It knows nothing of roles.

    `intake` None: the listeners of `hamon serve` (a sink with `bus: kafka://…`); a KafkaIntake:
    `hamon worker` (the events topic) or `hamon consume` (raw lines)."""

    def __init__(
        self,
        config: ServeConfig,
        store: Store,
        inventory_path: str | None = None,
        intake: KafkaIntake | None = None,
        name: str = "serve",
    ) -> None:
        self.cfg = config
        self.store = store
        self.inventory_path = inventory_path
        self.inventory: Inventory | None = load_inventory(inventory_path) if inventory_path else None
        self.counters = Counters()
        self.rates = Rates()  # per-sender lines and bytes a second, over the last status interval
        self._resolver = PairResolver(self.inventory)
        self.intake: Listeners | KafkaIntake = intake or Listeners(
            config, lambda device_id, source: self._resolver.resolve(device_id, source)
        )
        self.journal: Journal | None = None
        self.backlog: Backlog | None = None
        self.bus: MemoryBus | JournalBus
        if self.intake.journaled:
            where = Path(config.journal_dir) if config.journal_dir else journal.default_dir(store.url)
            self.journal = Journal(
                where,
                max_bytes=config.journal_max_bytes,
                sync_every=config.journal_sync_every,
                fsync=config.journal_fsync,
            )
            self.bus = JournalBus(self.journal, config.bus_bytes)
            if isinstance(self.intake, Listeners):
                stem = where.name.removesuffix(".journal")
                self.intake.trap_dir = where.with_name(f"{stem}.traps" if stem != where.name else "traps")
            self.backlog = Backlog(self.journal)
            if self.journal.recovered:
                log.info(
                    "journal %s: %s bytes received before the last stop are not stored yet: storing them first",
                    where,
                    f"{self.journal.recovered:,}",
                )
        else:
            self.bus = MemoryBus(config.bus_capacity)
        self._held: list[Held] = []  # parsed, not kept yet (see Held)
        self.started_at = dt.datetime.now(UTC)
        self.name = name
        self.ingest_id = (
            f"serve:{self.started_at.isoformat()}:{os.getpid()}"
            if intake is None
            else f"{name}:{self.started_at.isoformat()}"
        )
        self.collectors: list[Collector] = []
        self.outage_since: float | None = None  # monotonic time the store became unreachable
        self._retry_at = 0.0
        self._backoff = 0.0
        self._caught_up = False
        self.stopping = threading.Event()
        self.reload = threading.Event()
        self._silence_checked = float("-inf")  # monotonic time of the last pair_silent check
        self._stop_signalled = False  # set by SIGTERM/SIGINT (a plain flag: see install_signals)
        self._reload_signalled = False  # set by SIGHUP
        self.tz = zone(config.tz)
        from hamon.correlate.live import LiveCorrelator

        self.live = LiveCorrelator(store, self.inventory, window=config.reorder_window)
        self.kafka = bus_address(config.bus) if intake is None else None  # a sink publishes to it
        if config.notify and self.kafka is not None:  # e.g. HAMON_NOTIFY shared by sinks and workers
            log.warning("a Kafka sink does not notify (its workers do): --notify ignored here")
        self.notifier: Any = None
        if config.notify and self.kafka is None:
            from hamon.notify.pipeline import Pipeline, sender
            from hamon.notify.wording import Wording
            from hamon.notify.worker import NotifyWorkers

            wording = Wording(self.inventory, config.external_url)
            pipelines = [Pipeline(store, [sender(u, config.external_url)], wording=wording) for u in config.notify]
            self.notifier = NotifyWorkers(store, pipelines, self.counters, repeat_every=config.repeat_every)
        self.stages = self._stages()
        self._metrics_server: Any = None
        self.poller: Any = None
        self.snmp_poller: Any = None

    def _stages(self) -> stages.Stages:
        """The role's stages: the one place the intake and the bus decide what the service is."""
        parser = self._parser(self.inventory)
        if isinstance(self.intake, KafkaIntake):
            build = stages.consume_stages if self.intake.raw else stages.worker_stages
            return build(self.intake, parser, self.counters, self.store, self.live, self.notifier)
        assert isinstance(self.bus, JournalBus)
        if self.kafka is not None:
            publish = stages.Publish(self.kafka, self.cfg.topic_prefix, self.counters, self.cfg.kafka_buffer_bytes)
            return stages.sink_stages(self.bus, parser, self.counters, self.store, publish)
        return stages.serve_stages(self.bus, parser, self.counters, self.store, self.live, self.notifier)

    @property
    def parser(self) -> BatchParser:
        return self.stages.parse.parser

    def publishing(self) -> str | None:
        """Where a Kafka sink publishes (None: it stores)."""
        return self.stages.keep.describe()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open the intake (errors here are configuration errors), catch up the correlator."""
        try:
            self._start()
        except BaseException:
            self._close_collectors()
            if self.journal is not None:  # not started: the journal's folder is free for the next try
                self.journal.close()
            raise

    def _start(self) -> None:
        self.stages.keep.open()  # a sink reaches its broker before any listener opens
        self.collectors = list(self.intake.open(self.bus, self.counters))  # pollers join this copy
        if self.intake.polls:
            self.collectors += self._pollers(self.inventory)
        if not self.collectors:
            raise ConfigError("nothing to listen on: give --syslog-udp, --syslog-tcp, --syslog-tls or --snmp-trap")
        if self.cfg.metrics:
            from hamon.service.metrics import serve_metrics

            try:
                self._metrics_server = serve_metrics(
                    *address(self.cfg.metrics),
                    self.counters,
                    self.bus,
                    lambda: self.live.counts.late,
                    self.gauges,
                    self.listeners,
                )
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on metrics {self.cfg.metrics}: {(exc.strerror or str(exc)).lower()}"
                ) from exc
        # Listeners read first: they drain their sockets into the journal while the correlator
        # catches up with the store (what arrives meanwhile waits there, not in the kernel's
        # buffers). A Kafka intake reads once the correlator is caught up.
        if self.intake.read_first:
            self._go()
        try:
            self._catch_up()
        except StoreError as exc:  # the intake runs all the same; what it takes waits in its journal
            self._store_down(exc)
        if not self.intake.read_first:
            self._go()
        if self.notifier is not None:
            self.notifier.start()
        self.write_status()

    def _go(self) -> None:
        self.intake.go()
        for p in (self.poller, self.snmp_poller):
            if p is not None:
                p.start()

    def _catch_up(self) -> None:
        self.store.ensure_schema()
        if self.stages.correlate is not None:  # a sink does not correlate: its workers do
            self.stages.correlate.catch_up()
        self._caught_up = True

    def listeners(self) -> list[dict[str, Any]]:
        out = [
            {"transport": c.transport, "host": c.address[0], "port": c.address[1]}
            | ({"receive_buffer_bytes": size} if (size := getattr(c, "receive_buffer", None)) else {})
            | ({"receive_ring": c.ring_stats()} if getattr(c, "ring", None) is not None else {})  # type: ignore[attr-defined]
            for c in self.collectors
            if hasattr(c, "address")
        ]
        if self._metrics_server is not None:
            host, port = self._metrics_server.server_address[:2]
            out.append({"transport": "metrics", "host": host, "port": port})
        return out

    def install_signals(self) -> None:
        """SIGTERM/SIGINT stop the service, SIGHUP reloads the inventory (main thread only)."""
        # A handler only sets a flag: it may run in the middle of anything on the main thread, and a
        # lock taken there (Event.set) deadlocks when a second signal arrives while the first
        # handler holds it. The loop sees the flags within a tick.
        signal.signal(signal.SIGTERM, self._signalled)
        signal.signal(signal.SIGINT, self._signalled)
        signal.signal(signal.SIGHUP, self._signalled)
        # SIGUSR1: every thread's stack to stderr, for a service that does not stop when asked.
        faulthandler.register(signal.SIGUSR1, all_threads=True)

    def _signalled(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGHUP:
            self._reload_signalled = True
        else:
            self._stop_signalled = True

    def _should_stop(self) -> bool:
        return self._stop_signalled or self.stopping.is_set()

    def run(self) -> None:
        """Take and carry until stopped, then drain and shut down."""
        last_status = last_tick = time.monotonic()
        while not self._should_stop():
            if self._taking():
                group = self._take(self.cfg.tick_every)
                if group:
                    self.handle_many(group)
            else:  # the store (or the broker) is away: what arrives waits in the journal
                self.stopping.wait(min(self.cfg.tick_every, max(0.0, self._retry_at - time.monotonic())))
            if self.outage_since is not None and time.monotonic() >= self._retry_at:
                self._recover()
            self.stages.commit.settle()  # a sink's delivered messages; the journal's position saved
            if self._reload_signalled:
                self._reload_signalled = False
                self.reload.set()
            if self.reload.is_set():
                self.reload_inventory()
            # Pairs with new events go on at once; every pair's timers every tick_every.
            everything = time.monotonic() - last_tick >= self.cfg.tick_every
            self.tick(everything)
            if everything:
                last_tick = time.monotonic()
            if time.monotonic() - last_status >= self.cfg.status_every:
                self.write_status()
                last_status = time.monotonic()
        self.shutdown()

    def _taking(self) -> bool:
        """Whether to take more from the bus: not while the store is away or what was taken is held,
        nor while the keep stage has no room (a sink's producer holds its buffer's worth)."""
        if self.outage_since is not None or self._held:
            return False
        return self.stages.keep.has_room()

    def shutdown(self) -> None:
        """Stop taking in; keep what the bus holds for up to stop_timeout seconds; what is left stays
        in the journal (or in Kafka, uncommitted) for the next start, and the log says how much."""
        deadline = time.monotonic() + self.cfg.stop_timeout
        log.info("stopping: storing what was taken in for up to %s s", f"{self.cfg.stop_timeout:g}")
        self.intake.halt()  # listeners closed; a Kafka source stops reading
        for p in (self.poller, self.snmp_poller):
            if p is not None:
                p.stop()
        self.collectors = []
        if self.journal is not None:
            self.journal.sync()
        if self.outage_since is not None:
            self._recover()  # one more try: a store back by now takes what is held
        while time.monotonic() < deadline and self._taking() and (group := self._take(0.0, STOP_GROUP_BYTES)):
            self.handle_many(group)
        self.tick()
        if self.notifier is not None:
            self.notifier.stop(timeout=5.0)  # what is handed over goes out, within the stop timeout
        if not self.stages.keep.stores:
            self.write_status()  # a sink's last activity goes to Kafka before its producer closes
        self.stages.keep.close(timeout=max(1.0, deadline - time.monotonic()))
        self.stages.commit.settle()
        self.intake.close()  # a Kafka source commits what was stored and leaves its group
        self.write_status(stopped=True)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        if self.journal is not None:
            left = self.journal.held
            if left:
                log.info(
                    "stopped with %s bytes received but not yet stored, kept in the journal %s: stored at the next start",
                    f"{left:,}",
                    self.journal.directory,
                )
            else:
                log.info("stopped: everything received is stored (journal %s empty)", self.journal.directory)
            self.journal.close()

    def _close_collectors(self) -> None:
        for c in self.collectors:
            with contextlib.suppress(OSError):
                c.stop()
        self.collectors = []

    # -- taking and carrying -----------------------------------------------------------------
    def _take(self, wait: float, most: int = GROUP_BYTES) -> list[Any]:
        """The next batch (waiting up to `wait` s for it) and, without waiting, up to GROUP more
        behind it, or about `most` bytes of them."""
        group: list[Any] = []
        size = 0
        batch = self.bus.consume(wait)
        while batch is not None:
            group.append(batch)
            size += len(batch.data) if isinstance(batch, RawBatch) else 0
            if len(group) > GROUP or size >= most:
                break
            batch = self.bus.consume(0.0)
        return group

    def handle_many(self, batches: list[Any]) -> None:
        """Parse what was taken into groups and carry each through the stages; a Kafka rebalance
        is acted on after what came before it is kept."""
        mark = self.bus.position if isinstance(self.bus, JournalBus) else None  # all taken up to here
        for part in self.stages.parse.split(batches, mark):
            if isinstance(part, Rebalance):
                self._rebalance(part)
            else:
                self._carry(part)

    def _carry(self, group: Group) -> None:
        """A group through the stages (`Stages.carry`: the commit order); held, in order, while the
        store is away or something before it is held."""
        if self._held or (self.outage_since is not None and self.stages.keep.stores and not group.item.empty()):
            self._held.append(Held(group))
            return
        try:
            self.stages.carry(group, self._wall())
        except StoreError as exc:
            self._store_down(exc)
            self._held.append(Held(group))

    def _rebalance(self, change: Rebalance) -> None:
        try:
            if self.stages.partitions is not None:
                self.stages.partitions.rebalance(change)
        except StoreError as exc:  # each pair resumes from the store with its next event instead
            self._store_down(exc)
        finally:
            change.done.set()

    def _watch_silence(self, now: dt.datetime) -> None:
        """pair_silent, every CHECK_EVERY seconds (where this process correlates)."""
        from hamon.service.silent import CHECK_EVERY, SilenceWatch

        correlate = self.stages.correlate
        if correlate is None or time.monotonic() - self._silence_checked < CHECK_EVERY:
            return
        if self._wall() is not None:  # reading a backlog: what it holds is not stored yet
            return
        self._silence_checked = time.monotonic()
        watch = SilenceWatch(self.store, self.inventory, owns=correlate.owns)
        try:
            changes = watch.check(now)
        except StoreError as exc:
            self._store_down(exc)
            return
        self._announce(changes)

    def _announce(self, outs: list[Any]) -> None:
        if self.stages.announce is not None:
            self.stages.announce.announce(outs)

    def gauges(self) -> dict[str, float]:
        """What the service holds now: the journal's backlog, and how long the store has been away (0: it is up)."""
        down = 0.0 if self.outage_since is None else time.monotonic() - self.outage_since
        out = {
            "held_events": float(sum(h.group.item.size() for h in self._held)),
            "store_unavailable_seconds": round(down, 1),
        }
        if self.journal is not None:
            out["journal_held_bytes"] = float(self.journal.held)
            out["journal_refused_batches"] = float(self.journal.refused)
            out["journal_corrupt_bytes"] = float(self.journal.corrupt_bytes)
        if self.backlog is not None:  # as of the last status write
            last = self.backlog.last
            out["journal_stored_bytes_per_second"] = float(last["stored_bytes_per_s"])
            if last["empty_in_s"] is not None:  # absent while the backlog is not shrinking
                out["journal_empty_in_seconds"] = float(last["empty_in_s"])
        return out

    def _store_down(self, exc: StoreError) -> None:
        if self.outage_since is None:
            self.outage_since = time.monotonic()
            self._backoff = 0.5
            self._retry_at = self.outage_since + self._backoff
            self.counters.add("store_outages")
            where = f"the journal {self.journal.directory}" if self.journal is not None else "Kafka"
            log.error("store unavailable, received messages wait in %s: %s", where, exc)

    def _recover(self) -> None:
        """Try the store again: catch up, carry what is held in order, then take from the bus again
        (the journal's backlog is read on in bounded groups beside live intake)."""
        outs: list[Any] = []
        try:
            if not self._caught_up:
                self._catch_up()
            while self._held:
                self.stages.carry(self._held[0].group, self._wall())
                self._held.pop(0)
            if self.stages.correlate is not None:
                outs = self.stages.correlate.tick(everything=True, wall=self._wall())
        except StoreError:
            self._backoff = min(self._backoff * 2, 30.0)  # tried again later, less often
            self._retry_at = time.monotonic() + self._backoff
            return
        assert self.outage_since is not None
        backlog = f", {self.journal.held:,} bytes in the journal to store" if self.journal is not None else ""
        log.info("store back after %.1f s%s", time.monotonic() - self.outage_since, backlog)
        self.outage_since = None
        self._announce(outs)

    def _wall(self) -> float | None:
        """The wall-clock time correlation runs at: while the journal holds a backlog, the receive
        time of the newest batch taken from it (so pairs' clocks and timers follow what was heard,
        as a replay does, instead of running ahead of the events still to read); live, None (now)."""
        read_through = self.stages.parse.read_through
        if self.journal is None or read_through is None:
            return None
        caught_up = isinstance(self.bus, JournalBus) and self.bus.position >= self.journal.end
        if self.outage_since is None and not self._held and caught_up:
            return None
        return read_through.timestamp()

    def tick(self, everything: bool = True) -> None:
        # Between events, each pair's event time moves on with the wall clock from its own newest
        # event, so timers (merge windows, grace periods) fire on a quiet pair too, whatever the
        # devices' clocks say, and no pair's clock moves another's.
        if self.outage_since is not None or self.stages.correlate is None:
            # Timers wait for the store (what they decide is decided on the first tick after); a
            # Kafka sink has no timers: its workers correlate.
            return
        try:
            outs = self.stages.correlate.tick(everything=everything, wall=self._wall())
        except StoreError as exc:
            self._store_down(exc)
            return
        self._announce(outs)

    def _parser(self, inv: Inventory | None) -> BatchParser:
        """The live parser for an inventory: its zones, allow-lists and pairs, the unlisted capped."""
        return BatchParser(
            self._resolver.resolve,
            self.tz,
            zones=inv.zones() if inv else None,
            next_seq=self.store.next_seq,
            senders=inv.senders() if inv else None,
            tls_peers=inv.tls_peers() if inv else None,
            listed=inv.names() if inv else frozenset(),
            max_unlisted=self.cfg.max_unlisted_senders,
        )

    def _pollers(self, inventory: Inventory | None) -> list[Any]:
        """The SSH and SNMP pollers of the units the inventory lists (not started)."""
        self.poller = self.snmp_poller = None
        if inventory is None:
            return []
        from hamon.collectors import snmp_poll
        from hamon.collectors import ssh_poll as ssh

        targets = ssh.targets_from(inventory)
        if targets:
            credentials = ssh.load_credentials(self.cfg.ssh_secrets)
            self.poller = ssh.SshPoller(targets, credentials, self.cfg.poll_interval, self.bus, self.counters)
            self.poller.timeout = 4 * self.cfg.poll_timeout
        snmp_targets = snmp_poll.snmp_targets_from(inventory)
        if snmp_targets:
            settings = {**snmp_poll_env(), **self.cfg.snmp_poll}
            self.snmp_poller = snmp_poll.SnmpPoller(
                snmp_targets,
                snmp_poll.auth_data(settings),
                self.cfg.poll_interval,
                self.bus,
                self.counters,
                timeout=self.cfg.poll_timeout,
            )
        return [p for p in (self.poller, self.snmp_poller) if p is not None]

    def reload_inventory(self) -> None:
        """SIGHUP: read the inventory again; a broken file keeps the old one (and is counted)."""
        self.reload.clear()
        if not self.inventory_path:
            return
        try:
            inv = load_inventory(self.inventory_path)
        except ConfigError as exc:
            self.counters.add("inventory_reload_failed")
            log.error("inventory not reloaded, the previous one stays: %s", exc)
            return
        self.inventory = inv
        self._resolver = PairResolver(inv)
        parser = self._parser(inv)
        listed = inv.names()
        parser.unlisted = {(s, p) for s, p in self.parser.unlisted if p not in listed}
        parser.activity = self.parser.activity  # counted under the old inventory, written with the next status
        self.stages.parse.parser = parser
        self.live.inventory = inv
        if self.notifier is not None:  # runbooks and unit addresses in the words of notifications
            from hamon.notify.wording import Wording

            self.notifier.set_wording(Wording(inv, self.cfg.external_url))
        # Polls follow the inventory: the old pollers stop, the new inventory's start.
        previous = (self.poller, self.snmp_poller)
        old = [p for p in previous if p is not None]
        try:
            new = self._pollers(inv)
        except ConfigError:  # e.g. polls added without credentials: keep polling as before
            self.poller, self.snmp_poller = previous
            self.counters.add("inventory_reload_failed")
            return
        for p in old:
            p.stop()
            self.collectors.remove(p)
        for p in new:
            p.start()
            self.collectors.append(p)
        self.counters.add("inventory_reloaded")
        log.info("inventory reloaded from %s: %d pairs", self.inventory_path, len(inv.pairs))

    def write_status(self, *, stopped: bool = False) -> None:
        """Counters and per-sender activity into the store (`stopped`: the last word of a clean stop)."""
        from hamon.store.status import ServiceStatus, write_status

        now = dt.datetime.now(UTC)
        # What was counted since the last write, added to the stored rows: activity of any hour of
        # device time (a unit whose clock runs hours behind) adds up instead of overwriting.
        rates = self.rates.read(self.counters.snapshot())  # read every interval, written or not
        if self.backlog is not None:
            self.backlog.read()
        if self.outage_since is not None:
            return  # counted activity waits in the parser; the first status after the outage says it all
        self.counters.add("pairs_pruned", self.live.prune(time.time(), every=PRUNE_EVERY))
        self._watch_silence(now)
        acts = self.parser.drain_activity()
        counts = {
            "lines": self.counters.totals["lines"],
            "events": self.counters.totals["events"],
            "quarantined": self.counters.totals["quarantined"],
        }
        try:  # stored, or a sink's published for its workers to store in order with the pairs' events
            self.stages.keep.report(Ingest(self.ingest_id, self.name, self.started_at, counts), acts, now)
        except StoreError as exc:
            self.parser.keep_activity(acts)  # written with the next status, when the store is back
            self._store_down(exc)
        snap = self.counters.snapshot()
        snap["rates"] = rates
        snap["bus_depth"] = self.bus.depth()
        snap["stages"] = self.stages.names()
        for kafka in (self.stages.keep.status(), self.intake.status()):
            if kafka is not None:
                snap["kafka"] = kafka
        snap["stopped"] = stopped
        snap["status_every"] = self.cfg.status_every
        snap["intake"] = {
            "held_events": sum(h.group.item.size() for h in self._held),
            "store_unavailable_s": None
            if self.outage_since is None
            else round(time.monotonic() - self.outage_since, 1),
        }
        if self.journal is not None:
            snap["journal"] = self.journal.state() | {"read_back": getattr(self.bus, "read_back", 0)}
            if self.backlog is not None:
                snap["journal"] |= self.backlog.last
        polls = [
            *(self.poller.status() if self.poller else []),
            *(self.snmp_poller.status() if self.snmp_poller else []),
        ]
        if polls:
            snap["polls"] = polls
        snap["live"] = {
            "duplicates": self.live.counts.duplicates,
            "late": self.live.counts.late,
            "rewinds": self.live.counts.rewinds,
            "reruns": self.live.counts.reruns,
            "failovers": self.live.counts.failovers,
            "alerts_opened": self.live.counts.alerts_opened,
        }
        with contextlib.suppress(StoreError):  # the outage is noted above; the next write tells it
            write_status(
                self.store, ServiceStatus(self.name, os.getpid(), self.started_at, now, self.listeners(), snap)
            )
