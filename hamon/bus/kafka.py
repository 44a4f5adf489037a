"""The distributed bus: Apache Kafka, through kafka-python.

A sink (`hamon serve --bus kafka://…`) publishes what it parsed to `<prefix>.events`, each message
keyed by its pair and sent to the pair's partition (murmur2 of the key, as Kafka's own clients
choose it), so one pair's events stay in order in one partition and one worker of the group owns
the pair. Three kinds of message share the topic, each a small JSON document:

- `events`: a pair's failover events, in arrival order (at most MAX_EVENTS per message);
- `activity`: a pair's per-sender activity (the seconds each sender was heard), with the sink's
  totals, written by the worker as `hamon serve` writes its own;
- `quarantined`: lines the sink could not accept, keyed by their sender.

Workers (`hamon worker`) store what they read, commit the offsets only after the store holds it,
then correlate. `hamon consume` reads raw syslog lines from a topic that rsyslog or syslog-ng fill.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from hamon.bus.counters import Counters, Throttle
from hamon.errors import ConfigError
from hamon.model import Activity, Cause, Event, Quarantined, Unit

log = logging.getLogger("hamon.kafka")
T = TypeVar("T")
# kafka-python narrates every connection and reconnection; hamon says what matters itself (a broker
# unreachable, messages dropped, a commit refused), once per change, in its own words.
logging.getLogger("kafka").setLevel(logging.CRITICAL)

DEFAULT_PREFIX = "hamon"
MAX_EVENTS = 500  # events per message: a storm's batch stays far below the broker's 1 MB message limit
FORMAT = 1  # the message format's version, in every message
CONNECT_TIMEOUT = 10.0  # seconds to reach a broker when starting


@dataclass(frozen=True)
class KafkaAddress:
    """`kafka://HOST:PORT[,HOST:PORT…][/TOPIC]`."""

    servers: tuple[str, ...]
    topic: str | None = None

    def __str__(self) -> str:
        return "kafka://" + ",".join(self.servers) + (f"/{self.topic}" if self.topic else "")


def parse_address(url: str, *, topic: bool | None = None) -> KafkaAddress:
    """Read a Kafka address; `topic` True requires a topic, False refuses one, None takes either."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme != "kafka":
        raise ConfigError(f"not a Kafka address: {url!r} (give kafka://HOST:PORT[,HOST:PORT...])")
    hosts, _, name = rest.partition("/")
    servers = tuple(h.strip() for h in hosts.split(",") if h.strip())
    if not servers:
        raise ConfigError(f"no broker in {url!r} (give kafka://HOST:PORT)")
    for s in servers:
        host, sep, port = s.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"not HOST:PORT: {s!r} in {url!r}")
    if topic is True and not name:
        raise ConfigError(f"no topic in {url!r} (give kafka://HOST:PORT/TOPIC)")
    if topic is False and name:
        raise ConfigError(f"{url!r} names a topic; the bus takes its topics from --topic-prefix")
    if name and not all(c.isalnum() or c in "._-" for c in name):
        raise ConfigError(f"not a Kafka topic name: {name!r} (letters, digits, '.', '_', '-')")
    return KafkaAddress(servers, name or None)


def bus_address(value: str | None) -> KafkaAddress | None:
    """`--bus`: None or `memory` for the in-process queue, else a Kafka address."""
    if value in (None, "", "memory"):
        return None
    assert value is not None
    return parse_address(value, topic=False)


def events_topic(prefix: str) -> str:
    return f"{prefix}.events"


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's clients choose for a key (murmur2, positive, modulo the partitions)."""
    from kafka.partitioner.default import murmur2

    return int(murmur2(key.encode("utf-8", "surrogateescape")) & 0x7FFFFFFF) % partitions


# -- messages -------------------------------------------------------------------------------------
_FIELDS = tuple(f.name for f in dataclasses.fields(Event))
_TIMES = {"at", "received_at"}


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).isoformat()


def _time(v: Any) -> dt.datetime | None:
    return None if v is None else dt.datetime.fromisoformat(v)


def encode_events(events: Sequence[Event]) -> bytes:
    rows = []
    for e in events:
        row = [getattr(e, f) for f in _FIELDS]
        rows.append([_iso(v) if isinstance(v, dt.datetime) else (v.value if hasattr(v, "value") else v) for v in row])
    return json.dumps({"v": FORMAT, "type": "events", "fields": _FIELDS, "events": rows}).encode()


def _event(fields: Sequence[str], row: Sequence[Any]) -> Event:
    v = dict(zip(fields, row, strict=True))
    for f in _TIMES:
        v[f] = _time(v[f])
    v["unit"] = Unit(v["unit"]) if v["unit"] is not None else None
    v["cause"] = Cause(v["cause"]) if v["cause"] is not None else None
    return Event(**v)


def encode_quarantined(items: Sequence[Quarantined]) -> bytes:
    rows = [
        {
            "quarantine_id": q.quarantine_id,
            "received_at": _iso(q.received_at),
            "source": q.source,
            "origin": q.origin,
            "line_no": q.line_no,
            "reason": q.reason,
            "raw": base64.b64encode(q.raw).decode(),
            "raw_len": q.raw_len,
        }
        for q in items
    ]
    return json.dumps({"v": FORMAT, "type": "quarantined", "quarantined": rows}).encode()


@dataclass(frozen=True)
class Poll:
    """A unit's last poll (`show failover` as read), which `hamon pairs --json` shows."""

    pair: str
    unit: str
    polled_at: dt.datetime
    source: str
    document: dict[str, Any]


def encode_poll(p: Poll) -> bytes:
    doc = {"v": FORMAT, "type": "poll", "pair": p.pair, "unit": p.unit, "polled_at": _iso(p.polled_at),
           "source": p.source, "document": p.document}  # fmt: skip
    return json.dumps(doc).encode()


@dataclass(frozen=True)
class Ingest:
    """The sink that counted some activity, and its totals so far (lines, events, quarantined)."""

    ingest_id: str
    name: str
    started_at: dt.datetime
    counts: dict[str, int]


def encode_activity(ingest: Ingest, acts: Sequence[Activity]) -> bytes:
    rows = [
        {
            "source": a.source,
            "pair": a.pair,
            "hour": _iso(a.hour),
            "lines": a.lines,
            "last_at": _iso(a.last_at),
            "seconds": base64.b64encode(a.seconds).decode(),
        }
        for a in acts
    ]
    doc = {
        "v": FORMAT,
        "type": "activity",
        "ingest": {
            "id": ingest.ingest_id,
            "name": ingest.name,
            "started_at": _iso(ingest.started_at),
            "counts": ingest.counts,
        },
        "activity": rows,
    }
    return json.dumps(doc).encode()


class BadMessage(ValueError):
    """A message of the events topic hamon cannot read (it is quarantined with this reason)."""


@dataclass
class Decoded:
    """What one message of the events topic carried."""

    events: list[Event] = dataclasses.field(default_factory=list)
    quarantined: list[Quarantined] = dataclasses.field(default_factory=list)
    activity: list[Activity] = dataclasses.field(default_factory=list)
    ingest: Ingest | None = None
    poll: Poll | None = None


def decode(value: bytes) -> Decoded:
    """A message of the events topic; BadMessage (with what was wrong) for anything else."""
    try:
        doc = json.loads(value)
        kind = doc["type"]
        if doc.get("v") != FORMAT:
            raise BadMessage(f"message format {doc.get('v')!r}, this hamon reads {FORMAT}")
        if kind == "events":
            return Decoded(events=[_event(doc["fields"], r) for r in doc["events"]])
        if kind == "quarantined":
            return Decoded(
                quarantined=[
                    Quarantined(
                        q["quarantine_id"],
                        _time(q["received_at"]) or dt.datetime.now(dt.UTC),
                        q["source"],
                        q["origin"],
                        int(q["line_no"]),
                        q["reason"],
                        base64.b64decode(q["raw"]),
                        int(q["raw_len"]),
                    )
                    for q in doc["quarantined"]
                ]
            )
        if kind == "activity":
            i = doc["ingest"]
            ingest = Ingest(i["id"], i["name"], _time(i["started_at"]) or dt.datetime.now(dt.UTC), dict(i["counts"]))
            acts = [
                Activity(
                    a["source"],
                    a["pair"],
                    _time(a["hour"]) or dt.datetime.now(dt.UTC),
                    int(a["lines"]),
                    _time(a["last_at"]),
                    base64.b64decode(a["seconds"]),
                )
                for a in doc["activity"]
            ]
            return Decoded(activity=acts, ingest=ingest)
        if kind == "poll":
            at = _time(doc["polled_at"]) or dt.datetime.now(dt.UTC)
            return Decoded(poll=Poll(doc["pair"], doc["unit"], at, doc["source"], dict(doc["document"])))
        raise BadMessage(f"unknown message type {kind!r}")
    except BadMessage:
        raise
    except Exception as exc:  # a malformed document: named, never raised as something else
        raise BadMessage(f"not a hamon message: {type(exc).__name__}: {str(exc)[:120]}") from exc


# -- brokers and topics ---------------------------------------------------------------------------
def unreachable(address: KafkaAddress, exc: BaseException) -> ConfigError:
    """One line saying the broker could not be reached, and what to do."""
    return ConfigError(
        f"no Kafka broker answers at {','.join(address.servers)} ({type(exc).__name__}): "
        "check the address and that the broker runs and listens there (its advertised.listeners too)"
    )


@contextmanager
def kafka_errors(address: KafkaAddress, topic: str | None = None, replication: int | None = None) -> Iterator[None]:
    """Kafka's errors as hamon says them, in one place: a missing topic, a replication factor the
    cluster cannot give, and anything else from the client or the network as "no broker answers"."""
    from kafka.errors import (
        InvalidReplicationFactorError,
        KafkaError,
        TopicAlreadyExistsError,
        UnknownTopicOrPartitionError,
    )

    try:
        yield
    except TopicAlreadyExistsError:
        raise  # not an error to say: the caller decides (`init_topics` leaves the topic as it is)
    except UnknownTopicOrPartitionError as exc:
        if topic is None:
            raise unreachable(address, exc) from exc
        raise missing_topic(address, topic) from exc
    except InvalidReplicationFactorError as exc:
        raise ConfigError(
            f"cannot create {topic!r} with replication factor {replication}: "
            "the cluster has fewer brokers (give --replication N)"
        ) from exc
    except (KafkaError, OSError, ValueError) as exc:
        raise unreachable(address, exc) from exc


def admin(address: KafkaAddress, timeout: float = CONNECT_TIMEOUT) -> Any:
    from kafka import KafkaAdminClient

    with kafka_errors(address):
        return KafkaAdminClient(
            bootstrap_servers=list(address.servers),
            client_id="hamon-admin",
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
            reconnect_backoff_max_ms=1000,  # retried within the timeout, not after it
        )


def topic_partitions(address: KafkaAddress, topic: str, timeout: float = CONNECT_TIMEOUT) -> int:
    """How many partitions `topic` has; a clear error when it is missing or no broker answers."""
    a = admin(address, timeout)
    try:
        with kafka_errors(address, topic):
            described = a.describe_topics([topic])
    finally:
        a.close()
    for d in described:
        if (d.get("name") or d.get("topic")) == topic:
            if d.get("error_code", 0) == 3 or not d.get("partitions"):
                raise missing_topic(address, topic)
            return len(d["partitions"])
    raise missing_topic(address, topic)


def missing_topic(address: KafkaAddress, topic: str) -> ConfigError:
    prefix = topic.removesuffix(".events")
    hint = f"create it: hamon kafka init --bus {KafkaAddress(address.servers)} --topic-prefix {prefix}"
    if not topic.endswith(".events"):
        hint = "create it, or point rsyslog's omkafka or syslog-ng's kafka-c() at it"
    return ConfigError(f"topic {topic!r} does not exist on {','.join(address.servers)}: {hint}")


def init_topics(
    address: KafkaAddress, prefix: str, partitions: int, replication: int, retention_hours: float
) -> list[dict[str, Any]]:
    """Create `<prefix>.events` (keyed by pair); a topic that exists is left as it is and said so."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    topic = events_topic(prefix)
    a = admin(address)
    try:
        new = NewTopic(
            topic,
            partitions,
            replication,
            topic_configs={"retention.ms": str(int(retention_hours * 3600_000)), "cleanup.policy": "delete"},
        )
        try:
            with kafka_errors(address, topic, replication):
                a.create_topics([new], timeout_ms=int(CONNECT_TIMEOUT * 1000))
            created = True
        except TopicAlreadyExistsError:
            created = False
    finally:
        a.close()
    have = topic_partitions(address, topic)
    return [{"topic": topic, "partitions": have, "created": created}]


def _keyed(items: Iterable[T], key: Callable[[T], str]) -> list[tuple[str, list[T]]]:
    """Items grouped by their message key, in the order they came, at most MAX_EVENTS a message."""
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return [(k, g[i : i + MAX_EVENTS]) for k, g in groups.items() for i in range(0, len(g), MAX_EVENTS)]


# -- the sink's producer --------------------------------------------------------------------------
class KafkaSink:
    """Publishes a sink's events, quarantined lines and activity; never blocks, never raises.

    Messages wait in the producer's buffer (`buffer_bytes`) while the broker is away and go out
    when it is back, within `delivery_timeout` seconds; what does not fit, or is not delivered in
    time, is counted as dropped per sender (`dropped{transport="kafka"}`), never silently lost.
    """

    def __init__(
        self,
        address: KafkaAddress,
        prefix: str,
        counters: Counters,
        *,
        buffer_bytes: int = 64 << 20,
        delivery_timeout: float = 300.0,
    ) -> None:
        from kafka import KafkaProducer

        self.address = address
        self.topic = events_topic(prefix)
        self.counters = counters
        self.partitions = topic_partitions(address, self.topic)
        with kafka_errors(address, self.topic):
            self.producer = KafkaProducer(
                bootstrap_servers=list(address.servers),
                client_id="hamon-serve",
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                batch_size=256 << 10,
                max_block_ms=2_000,  # only for the topic's metadata, read here once
                delivery_timeout_ms=int(delivery_timeout * 1000),
                request_timeout_ms=30_000,
                reconnect_backoff_max_ms=2_000,
            )
            self.producer.partitions_for(self.topic)
        self.buffer_bytes = buffer_bytes
        self._lock = threading.Lock()
        self.pending_bytes = 0  # of messages handed to the producer, not yet acknowledged or failed
        self.pending = 0  # messages handed to the producer and not yet acknowledged or failed
        self.delivered = 0
        self.failed = 0
        self._said = Throttle(10.0)  # one line per 10 s while it lasts, not one per message
        # Journal positions waiting for the broker: [position, messages not yet acked], in order;
        # `_current` counts the messages sent since the last mark.
        self._marks: collections.deque[list[int]] = collections.deque()
        self._current = [0, 0]

    def mark(self, position: int) -> None:
        """What was published so far ends at this journal position (see delivered_mark)."""
        with self._lock:
            self._current[0] = position
            self._marks.append(self._current)
            self._current = [0, 0]

    def delivered_mark(self) -> int | None:
        """The furthest marked journal position whose messages, and every earlier one's, the broker
        acknowledged (or that failed and were counted as dropped); None when none is new."""
        done = None
        with self._lock:
            while self._marks and self._marks[0][1] == 0:
                done = self._marks.popleft()[0]
        return done

    def has_room(self) -> bool:
        """Whether to hand the producer more: under half its buffer waiting for the broker (the rest
        waits in the journal, so nothing is dropped for a full buffer while the broker is away)."""
        with self._lock:
            return self.pending_bytes * 2 < self.buffer_bytes

    def publish(self, events: Sequence[Event], quarantined: Sequence[Quarantined]) -> None:
        for pair, part in _keyed(events, lambda e: e.pair):
            self._send(pair, encode_events(part), [(e.source, 1) for e in part])
        for source, lines in _keyed(quarantined, lambda q: q.source):
            self._send(source, encode_quarantined(lines), [(source, len(lines))], what="quarantined")

    def publish_activity(self, ingest: Ingest, acts: Iterable[Activity]) -> None:
        for pair, items in sorted(_keyed(acts, lambda a: a.pair), key=lambda kv: kv[0]):
            self._send(pair, encode_activity(ingest, items), [], what="activity")

    def publish_poll(self, poll: Poll) -> None:
        self._send(poll.pair, encode_poll(poll), [], what="poll")

    def _send(self, key: str, value: bytes, senders: list[tuple[str, int]], what: str = "events") -> None:
        size = len(value)
        group = self._current

        def lost(exc: BaseException) -> None:
            with self._lock:
                self.pending -= 1
                self.pending_bytes -= size
                self.failed += 1
                group[1] -= 1
            self._dropped(senders, what, exc)

        def delivered(_meta: Any) -> None:
            with self._lock:
                self.pending -= 1
                self.pending_bytes -= size
                self.delivered += 1
                group[1] -= 1

        with self._lock:
            full = self.pending_bytes + size > self.buffer_bytes
        if full:  # the broker has been away long enough to fill the buffer: drop, counted
            self._dropped(senders, what, BufferError(f"{self.buffer_bytes} bytes waiting for the broker"))
            return
        try:
            future = self.producer.send(
                self.topic, key=key.encode("utf-8", "surrogateescape"), value=value,
                partition=partition_for(key, self.partitions),
            )  # fmt: skip
        except Exception as exc:  # a full buffer (max_block_ms=0), a closed producer
            self._dropped(senders, what, exc)
            return
        with self._lock:
            self.pending += 1
            self.pending_bytes += size
            group[1] += 1
        future.add_callback(delivered)
        future.add_errback(lost)

    def _dropped(self, senders: list[tuple[str, int]], what: str, exc: BaseException) -> None:
        for source, n in senders:
            self.counters.drop("kafka", source, n)
        self.counters.add(f"kafka_dropped_{what}", max(1, sum(n for _, n in senders)))
        if self._said.due():
            log.warning("not published to %s (%s), counted as dropped: %s", self.topic, what, exc)

    def state(self) -> dict[str, int]:
        with self._lock:
            return {
                "pending": self.pending,
                "pending_bytes": self.pending_bytes,
                "delivered": self.delivered,
                "failed": self.failed,
            }

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is buffered (within `timeout`), then close."""
        try:
            self.producer.flush(timeout=timeout)
        except Exception as exc:  # not delivered in time: counted by the errbacks as they fail
            log.warning("kafka: not everything was delivered before stopping: %s", type(exc).__name__)
        self.producer.close(timeout=timeout)


# -- what a Kafka source puts on the in-process bus -----------------------------------------------
@dataclass(frozen=True)
class Consumed:
    """Messages read from a topic, and the offsets to commit once what they carried is stored.

    `batch` is a RawBatch of syslog lines (`hamon consume`) or None; `decoded` the messages of the
    events topic (`hamon worker`), `bad` what could not be read there (quarantined, not lost).
    """

    offsets: dict[int, int]  # partition -> the next offset to read (what is committed)
    batch: Any = None
    decoded: tuple[Decoded, ...] = ()
    bad: tuple[Quarantined, ...] = ()


@dataclass(frozen=True)
class Rebalance:
    """The group gave (`assign`) or took (`revoke`) partitions; `done` is set once the service has
    stored what came before and let go of (or resumed) the pairs of those partitions."""

    kind: str
    partitions: frozenset[int]
    total: int  # the topic's partitions
    done: threading.Event = dataclasses.field(default_factory=threading.Event, compare=False)
