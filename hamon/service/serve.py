"""`hamon serve`: collectors, the bus, the parser, the store and the live correlator in one process.

Collectors (threads) publish RawBatch values on the bus; one consumer parses them, stores events
and quarantined lines, hands the events to the live correlator and ticks it on event time. Every
few seconds the service writes its counters to the store (`hamon status` reads them) and the
per-sender activity. SIGTERM/SIGINT: stop listening, drain the bus, tick, exit 0. SIGHUP: reload
the inventory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le

from hamon.bus import Collector, MemoryBus
from hamon.bus.counters import Counters
from hamon.bus.kafka import Consumed, KafkaSink, Poll, Rebalance, bus_address
from hamon.errors import ConfigError, StoreError
from hamon.model import Activity, Event, PolledEvents, Quarantined
from hamon.parse.batch import BatchParser
from hamon.parse.timestamps import zone
from hamon.resolve.inventory import Inventory, load_inventory
from hamon.resolve.pairs import PairResolver
from hamon.service.spool import Item, Spool
from hamon.store import Store

UTC = dt.UTC


def address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:5514`) into a bind address."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"not HOST:PORT: {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def snmp_user(spec: dict[str, str]) -> Any:
    """An SNMPv3 user from `{name, engine_id, auth?, priv?, auth_key?, priv_key?}`; keys missing there
    come from HAMON_SNMP_AUTH_KEY_<NAME> and HAMON_SNMP_PRIV_KEY_<NAME> (never logged or stored)."""
    from hamon.collectors import snmp_trap as snmp

    unknown = set(spec) - {"name", "engine_id", "auth", "priv", "auth_key", "priv_key"}
    if unknown or "name" not in spec or "engine_id" not in spec:
        raise ConfigError(f"SNMPv3 user needs name and engine_id (and auth, priv); not {sorted(unknown)}")
    env = "".join(ch if ch.isalnum() else "_" for ch in spec["name"]).upper()
    auth_key = spec.get("auth_key") or os.environ.get(f"HAMON_SNMP_AUTH_KEY_{env}")
    priv_key = spec.get("priv_key") or os.environ.get(f"HAMON_SNMP_PRIV_KEY_{env}")
    if spec.get("auth") and not auth_key:
        raise ConfigError(f"SNMPv3 user {spec['name']}: no authentication key (set HAMON_SNMP_AUTH_KEY_{env})")
    if spec.get("priv") and not priv_key:
        raise ConfigError(f"SNMPv3 user {spec['name']}: no privacy key (set HAMON_SNMP_PRIV_KEY_{env})")
    if spec.get("priv") and not spec.get("auth"):
        raise ConfigError(f"SNMPv3 user {spec['name']}: privacy needs authentication")
    return snmp.V3User(spec["name"], spec["engine_id"], spec.get("auth"), auth_key, spec.get("priv"), priv_key)


log = logging.getLogger("hamon.serve")
GROUP = 256  # batches taken off the bus at once


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
    spool_dir: str | None = None  # where received messages wait while the store is unreachable
    external_url: str | None = None  # hamon's Grafana, for links in notifications (generatorURL)
    repeat_every: Annotated[float, Gt(0)] = 4 * 3600.0  # a critical alert still open is told again
    spool_memory_events: Annotated[int, Ge(0)] = 200_000
    spool_disk_bytes: Annotated[int, Ge(0)] = 1 << 30
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


class Service:
    """The running service."""

    def __init__(self, config: ServeConfig, store: Store, inventory_path: str | None = None) -> None:
        self.cfg = config
        self.store = store
        self.inventory_path = inventory_path
        self.inventory: Inventory | None = load_inventory(inventory_path) if inventory_path else None
        self.counters = Counters()
        self.bus = MemoryBus(config.bus_capacity)
        self.kafka = bus_address(config.bus)
        self.sink: KafkaSink | None = None  # with --bus kafka://: events go to Kafka, not to the store
        self.source: Any = None  # a Kafka source whose offsets are committed once stored
        self._unacked: list[dict[int, int]] = []  # offsets of what waits in the spool
        self.started_at = dt.datetime.now(UTC)
        self.name = "serve"
        self.ingest_id = f"serve:{self.started_at.isoformat()}:{os.getpid()}"
        self.collectors: list[Collector] = []
        self.spool = Spool(config.spool_dir, config.spool_memory_events, config.spool_disk_bytes)
        self.outage_since: float | None = None  # monotonic time the store became unreachable
        self._retry_at = 0.0
        self._backoff = 0.0
        self._caught_up = False
        self.stopping = threading.Event()
        self.reload = threading.Event()
        self._silence_checked = float("-inf")  # monotonic time of the last pair_silent check
        self._stop_signalled = False  # set by SIGTERM/SIGINT (a plain flag: see install_signals)
        self._reload_signalled = False  # set by SIGHUP
        self._resolver = PairResolver(self.inventory)
        self.tz = zone(config.tz)
        self.parser = BatchParser(
            self._resolver.resolve,
            self.tz,
            zones=self.inventory.zones() if self.inventory else None,
            next_seq=store.next_seq,
            senders=self.inventory.senders() if self.inventory else None,
            tls_peers=self.inventory.tls_peers() if self.inventory else None,
        )
        from hamon.correlate.live import LiveCorrelator

        self.live = LiveCorrelator(store, self.inventory, window=config.reorder_window)
        self.notifier: Any = None
        if config.notify and self.kafka is not None:  # e.g. HAMON_NOTIFY shared by sinks and workers
            log.warning("a Kafka sink does not notify (its workers do): --notify ignored here")
        if config.notify and self.kafka is None:
            from hamon.notify.pipeline import Pipeline, sender
            from hamon.notify.wording import Wording
            from hamon.notify.worker import NotifyWorker

            senders = [sender(u, config.external_url) for u in config.notify]
            self.notifier = NotifyWorker(
                store,
                Pipeline(store, senders, wording=Wording(self.inventory, config.external_url)),
                self.counters,
                repeat_every=config.repeat_every,
            )
        self._metrics_server: Any = None
        self.poller: Any = None
        self.snmp_poller: Any = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open the listeners (errors here are configuration errors), catch up the correlator."""
        from hamon.collectors import syslog_tcp as tcp
        from hamon.collectors import syslog_udp as udp

        if self.kafka is not None:  # before any listener: a missing topic or broker is said at once
            self.sink = KafkaSink(
                self.kafka, self.cfg.topic_prefix, self.counters, buffer_bytes=self.cfg.kafka_buffer_bytes
            )
        trying = ""  # the listener being opened, named in an error
        try:
            for a in self.cfg.syslog_udp:
                trying = f"udp {a}"
                self.collectors.append(udp.UdpSyslog(*address(a), self.bus, self.counters))
            for a in self.cfg.syslog_tcp:
                trying = f"tcp {a}"
                self.collectors.append(tcp.TcpSyslog(*address(a), self.bus, self.counters))
            if self.cfg.syslog_tls:
                if not (self.cfg.tls_cert and self.cfg.tls_key):
                    raise ConfigError("--syslog-tls needs --tls-cert and --tls-key")
                ctx = tcp.tls_context(self.cfg.tls_cert, self.cfg.tls_key, self.cfg.tls_client_ca)
                for a in self.cfg.syslog_tls:
                    trying = f"tls {a}"
                    self.collectors.append(tcp.TcpSyslog(*address(a), self.bus, self.counters, tls=ctx))
            if self.cfg.snmp_trap:
                from hamon.collectors import snmp_trap as snmp

                users = [snmp_user(u) for u in self.cfg.snmp_users]
                for a in self.cfg.snmp_trap:
                    trying = f"snmp {a}"
                    receiver = snmp.SnmpTrapReceiver(
                        *address(a),
                        self.bus,
                        self.counters,
                        self.cfg.snmp_community,
                        users,
                        lambda device_id, source: self._resolver.resolve(device_id, source),
                    )
                    receiver.start()  # binds and configures on its own thread; errors come back here
                    self.collectors.append(receiver)
        except ConfigError:
            self._close_collectors()
            raise
        except PermissionError as exc:
            self._close_collectors()
            raise ConfigError(
                f"cannot listen on {trying}: {exc.strerror} (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            ) from exc
        except OSError as exc:
            self._close_collectors()
            raise ConfigError(f"cannot listen on {trying}: {(exc.strerror or str(exc)).lower()}") from exc
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
                self._close_collectors()
                raise ConfigError(
                    f"cannot listen on metrics {self.cfg.metrics}: {(exc.strerror or str(exc)).lower()}"
                ) from exc
        # Read first: the listeners drain their sockets onto the bus while the correlator catches up
        # with the store (what arrives meanwhile waits on the bus, not in the kernel's buffers).
        for c in self.collectors:
            if c.transport != "snmp":  # trap receivers are running already
                c.start()
        try:
            self._catch_up()
        except StoreError as exc:  # the listeners run all the same; received messages wait in the spool
            self._store_down(exc)
        if self.notifier is not None:
            self.notifier.start()
        self.write_status()

    def _catch_up(self) -> None:
        self.store.ensure_schema()
        if self.sink is None:  # a Kafka sink does not correlate: the workers do
            self.live.catch_up()
        self._caught_up = True

    def listeners(self) -> list[dict[str, Any]]:
        out = [
            {"transport": c.transport, "host": c.address[0], "port": c.address[1]}
            | ({"receive_buffer_bytes": c.receive_buffer} if hasattr(c, "receive_buffer") else {})
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

    def _signalled(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGHUP:
            self._reload_signalled = True
        else:
            self._stop_signalled = True

    def _should_stop(self) -> bool:
        return self._stop_signalled or self.stopping.is_set()

    def run(self) -> None:
        """Consume until stopped, then drain and shut down."""
        last_status = last_tick = time.monotonic()
        while not self._should_stop():
            group = self._take(self.cfg.tick_every)
            if group:
                self.handle_many(group)
            if self.outage_since is not None and time.monotonic() >= self._retry_at:
                self._recover()
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

    def shutdown(self) -> None:
        """Stop listening, take what is on the bus, store it, correlate it, record the status."""
        self._close_collectors()
        while group := self._take(0.0):
            self.handle_many(group)
        self.tick()
        if self.notifier is not None:
            self.notifier.stop(timeout=5.0)  # what is handed over goes out, within the stop timeout
        if self.sink is not None:
            self.write_status()  # the last activity goes to Kafka before the producer closes
            self.sink.close(timeout=10.0)
        self.write_status(stopped=True)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()

    def _close_collectors(self) -> None:
        for c in self.collectors:
            with contextlib.suppress(OSError):
                c.stop()
        self.collectors = []

    # -- the pipeline ------------------------------------------------------------------------
    def _take(self, wait: float) -> list[Any]:
        """The next batch (waiting up to `wait` s for it) and, without waiting, up to GROUP more behind it."""
        group: list[Any] = []
        batch = self.bus.consume(wait)
        while batch is not None:
            group.append(batch)
            if len(group) > GROUP:
                break
            batch = self.bus.consume(0.0)
        return group

    def handle_many(self, batches: list[Any]) -> None:
        """Parse every batch, then store and hand over their events in one go.

        Messages read from Kafka are acknowledged (their offsets committed) once stored; a
        rebalance is handled after what came before it is stored.
        """
        events: list[Event] = []
        quarantined: list[Quarantined] = []
        activity: list[tuple[Any, list[Activity]]] = []
        offsets: list[dict[int, int]] = []
        c = self.counters
        for batch in batches:
            if isinstance(batch, Rebalance):
                self._keep_acked(Item(events, quarantined, activity), offsets)
                events, quarantined, activity, offsets = [], [], [], []
                self.rebalance(batch)
                batch.done.set()
                continue
            if isinstance(batch, Consumed):
                offsets.append(batch.offsets)
                if batch.batch is None:  # the events topic: parsed by the sink already
                    for d in batch.decoded:
                        events += self.store.stamp(d.events)  # arrival order here: the tie-break
                        quarantined += d.quarantined
                        if d.ingest is not None:
                            activity.append((d.ingest, d.activity))
                        if d.poll is not None:
                            self._keep_poll(d.poll)
                        c.add("events", len(d.events))
                        c.add("quarantined", len(d.quarantined))
                    quarantined += batch.bad
                    c.add("quarantined", len(batch.bad))
                    continue
                batch = batch.batch
            if isinstance(batch, PolledEvents):
                c.add("polled_events", len(batch.events))
                events += self.store.stamp(batch.events)  # arrival order: the tie-break within a second
                if batch.polled is not None:
                    pair, unit, document = batch.polled
                    self._keep_poll(Poll(pair, unit, dt.datetime.now(dt.UTC), batch.source, document))
                continue
            res = self.parser.parse(batch)
            events += res.events
            quarantined += res.quarantined
            c.add("batches")
            c.add("lines", res.lines)
            c.add("events", len(res.events))
            c.add("quarantined", len(res.quarantined))
            c.add("ordinary", res.ordinary)
            c.add("other", res.other)
        self._keep_acked(Item(events, quarantined, activity), offsets)

    def _watch_silence(self, now: dt.datetime) -> None:
        """pair_silent, every CHECK_EVERY seconds (a Kafka sink leaves it to its workers)."""
        from hamon.service.silent import CHECK_EVERY, SilenceWatch

        if self.sink is not None or time.monotonic() - self._silence_checked < CHECK_EVERY:
            return
        self._silence_checked = time.monotonic()
        watch = SilenceWatch(self.store, self.inventory, owns=self._owns)
        try:
            changes = watch.check(now)
        except StoreError as exc:
            self._store_down(exc)
            return
        self._announce(changes)

    def _owns(self, pair: str) -> bool:
        """Whether this process correlates the pair (a worker: the pairs of its partitions)."""
        return True

    def _announce(self, outs: list[Any]) -> None:
        """Log each alert opened or resolved and hand them to the notifier."""
        from hamon.model import AlertOpen, AlertResolve

        for o in outs:  # one line per alert opened or resolved, for journalctl and kubectl logs
            if isinstance(o, AlertOpen):
                where = "".join(f" {x}" for x in (o.unit, f"group {o.group}" if o.group else None) if x)
                log.info("alert opened: %s %s %s%s: %s (id %s)", o.severity, o.pair, o.kind, where, o.detail,
                         o.alert_id[:8])  # fmt: skip
            elif isinstance(o, AlertResolve):
                log.info("alert resolved: id %s at %s", o.alert_id[:8], o.ended_at.isoformat())
        if outs and self.notifier is not None:  # sent on the notifier's own thread: ingest goes on
            self.notifier.submit(sorted({o.alert_id for o in outs if isinstance(o, AlertOpen | AlertResolve)}))

    def _keep_poll(self, poll: Poll) -> None:
        """A unit's last poll: published by a Kafka sink, stored otherwise (the next poll will do
        if the store is away now)."""
        if self.sink is not None:
            self.sink.publish_poll(poll)
            return
        with contextlib.suppress(StoreError):
            self.store.record_poll(poll.pair, poll.unit, poll.polled_at, poll.source, poll.document)

    def rebalance(self, change: Rebalance) -> None:
        """The Kafka group moved partitions (a worker acts on it; a raw consumer reads them all)."""

    def _keep_acked(self, item: Item, offsets: list[dict[int, int]]) -> None:
        if self._keep(item):
            self._ack(offsets)
        else:
            self._unacked += offsets  # acknowledged once the spool is stored

    def _ack(self, offsets: list[dict[int, int]]) -> None:
        if self.source is not None:
            for o in offsets:
                self.source.ack(o)

    def _keep(self, item: Item) -> bool:
        """Store an item and hand its events to the correlator (True); while the store is away,
        spool it (False). A Kafka sink publishes it instead."""
        if self.sink is not None:
            self.sink.publish(item.events, item.quarantined)
            return True
        if not item.size() and not item.activity:
            return True
        if self.outage_since is None:
            try:
                fresh = self._store(item)
            except StoreError as exc:
                self._store_down(exc)
            else:
                self._submit(fresh)
                return True
        if not self.spool.put(item):
            for dropped in self.spool.drain_dropped():
                for e in dropped.events:
                    self.counters.drop("spool", e.source)
                self.counters.add("spool_dropped", dropped.size())
        return False

    def _store(self, item: Item) -> list[Event]:
        """Store an item; the events to correlate come back."""
        if item.events:
            self.counters.add("events_new", self.store.add_events(item.events))
        self._store_rest(item)
        return item.events

    def _store_rest(self, item: Item) -> None:
        if item.quarantined:
            self.store.add_quarantined(item.quarantined)
        now = dt.datetime.now(UTC)
        for ingest, acts in item.activity:  # a sink's activity, read from Kafka
            self.store.record_ingest(
                ingest.ingest_id, "serve", ingest.name, ingest.started_at, now, ingest.counts, acts, accumulate=True
            )

    def gauges(self) -> dict[str, float]:
        """What the service holds now: the spool, and how long the store has been away (0: it is up)."""
        down = 0.0 if self.outage_since is None else time.monotonic() - self.outage_since
        return {
            "spool_held": float(self.spool.held),
            "spool_bytes_on_disk": float(self.spool.bytes_on_disk),
            "store_unavailable_seconds": round(down, 1),
        }

    def _store_down(self, exc: StoreError) -> None:
        if self.outage_since is None:
            self.outage_since = time.monotonic()
            self._backoff = 0.5
            self._retry_at = self.outage_since + self._backoff
            self.counters.add("store_outages")
            log.error("store unavailable, holding received messages in the spool: %s", exc)

    def _recover(self) -> None:
        """Try the store again: catch up, store what the spool holds in order, go on live."""
        held = self.spool.held
        try:
            if not self._caught_up:
                self._catch_up()
            while (item := self.spool.peek()) is not None:
                fresh = self._store(item)
                self.spool.pop()
                self._submit(fresh)
            self.live.tick(everything=True)
        except StoreError:
            self._backoff = min(self._backoff * 2, 30.0)  # tried again later, less often
            self._retry_at = time.monotonic() + self._backoff
            return
        assert self.outage_since is not None
        self._ack(self._unacked)
        self._unacked = []
        log.info("store back after %.1f s: %d held events and lines stored", time.monotonic() - self.outage_since, held)
        self.outage_since = None

    def _submit(self, events: list[Event]) -> None:
        if events:
            self.live.submit(events)

    def tick(self, everything: bool = True) -> None:
        # Between events, each pair's event time moves on with the wall clock from its own newest
        # event, so timers (merge windows, grace periods) fire on a quiet pair too, whatever the
        # devices' clocks say, and no pair's clock moves another's.
        if self.outage_since is not None or self.sink is not None:
            # Timers wait for the store (what they decide is decided on the first tick after); a
            # Kafka sink has no timers: its workers correlate.
            return
        try:
            outs = self.live.tick(everything=everything)
        except StoreError as exc:
            self._store_down(exc)
            return
        self._announce(outs)

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
        parser = BatchParser(
            self._resolver.resolve,
            self.tz,
            zones=inv.zones(),
            next_seq=self.store.next_seq,
            senders=inv.senders(),
            tls_peers=inv.tls_peers(),
        )
        parser.activity = self.parser.activity  # counted under the old inventory, written with the next status
        self.parser = parser
        self.live.inventory = inv
        if self.notifier is not None:  # runbooks and unit addresses in the words of notifications
            from hamon.notify.wording import Wording

            self.notifier.pipeline.wording = Wording(inv, self.cfg.external_url)
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
        if self.outage_since is not None:
            return  # counted activity waits in the parser; the first status after the outage says it all
        self.counters.add("pairs_pruned", self.live.prune(time.time()))
        self._watch_silence(now)
        acts = self.parser.drain_activity()
        counts = {
            "lines": self.counters.totals["lines"],
            "events": self.counters.totals["events"],
            "quarantined": self.counters.totals["quarantined"],
        }
        if self.sink is not None:  # the workers store it, in order with the pairs' events
            from hamon.bus.kafka import Ingest

            self.sink.publish_activity(Ingest(self.ingest_id, self.name, self.started_at, counts), acts)
        elif self.source is None or self.source.raw:  # a worker counts no lines of its own
            try:
                self.store.record_ingest(
                    self.ingest_id, "serve", self.name, self.started_at, now, counts, acts, accumulate=True
                )
            except StoreError as exc:
                self.parser.keep_activity(acts)  # written with the next status, when the store is back
                self._store_down(exc)
        snap = self.counters.snapshot()
        snap["bus_depth"] = self.bus.depth()
        if self.sink is not None:
            snap["kafka"] = {"bus": str(self.kafka), "topic": self.sink.topic, **self.sink.state()}
        if self.source is not None:
            snap["kafka"] = {"bus": str(self.source.broker), **self.source.status()}
        snap["stopped"] = stopped
        snap["status_every"] = self.cfg.status_every
        snap["spool"] = {
            "held": self.spool.held,
            "bytes_on_disk": self.spool.bytes_on_disk,
            "store_unavailable_s": None
            if self.outage_since is None
            else round(time.monotonic() - self.outage_since, 1),
        }
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
