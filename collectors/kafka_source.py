"""A Kafka topic as a source: `hamon worker` reads the events topic, `hamon consume` raw syslog.

One thread owns the consumer (kafka-python consumers are not thread-safe): it polls, puts what it
read on the in-process bus as `Consumed` values, and commits the offsets the service acknowledges
(`ack`) once the store holds what those messages carried — at-least-once delivery, made harmless
by the events' stable ids. When the group takes partitions away, the thread waits (bounded) for the
service to store what came before, commits, and only then lets the partitions go.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from typing import Any

from hamon.bus import Bus
from hamon.bus.counters import Counters, Throttle
from hamon.bus.kafka import Consumed, Decoded, KafkaAddress, Rebalance, decode, kafka_errors, topic_partitions
from hamon.model import Quarantined, RawBatch

log = logging.getLogger("hamon.kafka")

POLL_MS = 200
MAX_RECORDS = 2000
AHEAD = 4  # batches read but not yet taken by the service
REVOKE_WAIT = 30.0  # seconds a revocation waits for the service to store what it was handed
MAX_RAW = 65_535  # bytes of an unreadable message kept in quarantine


class KafkaSource:
    """Reads `address.topic`; `raw` lines (every partition, `hamon consume`) or the events topic
    (partitions given by the group, `hamon worker`)."""

    transport = "kafka"

    def __init__(
        self, address: KafkaAddress, topic: str, group: str, bus: Bus, counters: Counters, *, raw: bool, client_id: str
    ) -> None:
        self.broker, self.topic, self.group = address, topic, group
        self.bus, self.counters, self.raw = bus, counters, raw
        self.client_id = client_id
        self.partitions = topic_partitions(address, topic)  # a clear error now if it is missing
        self.assigned: set[int] = set()
        self._acked: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.consumer: Any = None
        self.commits = 0
        self.commit_failures = 0
        self._said = Throttle(10.0)  # one line per 10 s per kind of failure while it lasts

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        with kafka_errors(self.broker):
            self.consumer = KafkaConsumer(
                bootstrap_servers=list(self.broker.servers),
                group_id=self.group,
                client_id=self.client_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",  # a producer's aborted transactions are not input
                max_poll_records=MAX_RECORDS,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=2_000,
                max_poll_interval_ms=300_000,
                reconnect_backoff_max_ms=2_000,
            )
        if self.raw:
            # Raw lines are keyed by anything (or nothing), so one pair's lines may be in any
            # partition: one process reads them all, and commits as the group.
            parts = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            self.consumer.assign(parts)
            self.assigned = set(range(self.partitions))
        else:
            self.consumer.subscribe([self.topic], listener=_Listener(self))
        self._thread = threading.Thread(target=self._run, name=f"hamon-kafka-{self.topic}", daemon=True)
        self._thread.start()

    def halt(self) -> None:
        """Stop reading (what was read is on the bus; the service stores it before `stop`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def stop(self) -> None:
        """Stop reading, commit what the service acknowledged, leave the group."""
        self.halt()
        if self.consumer is not None:
            self._commit()
            try:
                self.consumer.close()
            except Exception as exc:  # leaving the group is best effort: the session times out
                log.warning("kafka consumer close: %s", type(exc).__name__)

    def ack(self, offsets: dict[int, int]) -> None:
        """The service stored what came before these offsets: they may be committed."""
        with self._lock:
            for p, o in offsets.items():
                if o > self._acked.get(p, -1):
                    self._acked[p] = o

    def status(self) -> dict[str, Any]:
        with self._lock:  # the consumer's thread changes the assignment
            partitions = sorted(self.assigned)
        return {
            "topic": self.topic,
            "group": self.group,
            "partitions": partitions,
            "commits": self.commits,
            "commit_failures": self.commit_failures,
        }

    # -- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                records = self.consumer.poll(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
            except Exception as exc:  # the broker away: kafka-python reconnects; say so, go on
                self.counters.add("kafka_poll_errors")
                if self._said.due("poll"):
                    log.warning("kafka poll failed, retrying: %s: %s", type(exc).__name__, str(exc)[:200])
                self._stop.wait(1.0)
                continue
            for tp, msgs in sorted(records.items(), key=lambda kv: kv[0].partition):
                if msgs:
                    self._hand_over(tp.partition, msgs)
            self._commit()

    def _hand_over(self, partition: int, msgs: list[Any]) -> None:
        offsets = {partition: msgs[-1].offset + 1}
        size = sum(len(m.value) if m.value is not None else 0 for m in msgs)
        self.counters.receive("kafka", f"{self.topic}/{partition}", len(msgs), size)
        if self.raw:
            item = Consumed(offsets, batch=self._raw_batch(partition, msgs))
        else:
            decoded: list[Decoded] = []
            bad: list[Quarantined] = []
            for m in msgs:
                try:
                    decoded.append(decode(m.value or b""))
                except ValueError as exc:
                    bad.append(self._unreadable(m, str(exc)))
            item = Consumed(offsets, decoded=tuple(decoded), bad=tuple(bad))
        self._publish(item)

    def _publish(self, item: Any) -> None:
        # Kafka holds the backlog: read at most AHEAD batches ahead of the service, so a worker
        # starting on a long backlog holds a few batches in memory, not the topic.
        while self.bus.depth() >= AHEAD and not self._stop.is_set() and not isinstance(item, Rebalance):
            time.sleep(0.005)
        while not self.bus.publish(item, block=False):  # the service is behind: wait, reading nothing
            if self._stop.is_set() and not isinstance(item, Rebalance):
                return  # stopping: not acknowledged, so read again by whoever takes the partition
            time.sleep(0.01)

    def _raw_batch(self, partition: int, msgs: list[Any]) -> RawBatch:
        lines = []
        for m in msgs:
            v = (m.value or b"").rstrip(b"\r\n")
            lines.append(v.replace(b"\n", b" ") + b"\n")  # one message, one line
        at = _written_at(msgs[0])
        return RawBatch(
            b"".join(lines), at, f"kafka:{self.topic}", "kafka", f"kafka {self.topic}", f"{self.topic}/{partition}"
        )

    def _unreadable(self, m: Any, reason: str) -> Quarantined:
        raw = m.value or b""
        digest = hashlib.blake2b(f"{self.topic}/{m.partition}/{m.offset}".encode(), digest_size=16).hexdigest()
        at = _written_at(m)
        self.counters.reject("kafka", f"{self.topic}/{m.partition}", reason)
        return Quarantined(digest, at, f"kafka:{self.topic}", f"{self.topic}/{m.partition}", m.offset, reason,
                           raw[:MAX_RAW], len(raw))  # fmt: skip

    def _commit(self, only: set[int] | None = None) -> None:
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        with self._lock:
            take = {p: o for p, o in self._acked.items() if only is None or p in only}
            for p in take:
                del self._acked[p]
        if not take:
            return
        offsets = {TopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1) for p, o in take.items()}
        try:
            self.consumer.commit(offsets)
            self.commits += 1
        except Exception as exc:  # e.g. the partitions moved on: what was stored is read again, harmlessly
            self.commit_failures += 1
            self.counters.add("kafka_commit_failures")
            if self._said.due("commit"):
                log.warning("kafka commit failed (stored messages will be read again): %s: %s",
                            type(exc).__name__, str(exc)[:200])  # fmt: skip

    # -- rebalances (called inside poll, on this thread) -------------------------------------------
    def revoked(self, partitions: set[int]) -> None:
        if not partitions:
            return
        if self._stop.is_set():  # leaving the group: the service has stored what was read already
            self._commit(partitions)
            return
        r = Rebalance("revoke", frozenset(partitions), self.partitions)
        self._publish(r)
        if not r.done.wait(REVOKE_WAIT):
            log.warning("partitions %s let go before the service stored everything (read again)", sorted(partitions))
        self._commit(partitions)
        with self._lock:
            self.assigned -= partitions

    def assigned_now(self, partitions: set[int]) -> None:
        with self._lock:
            self.assigned |= partitions
        if partitions:
            self._publish(Rebalance("assign", frozenset(partitions), self.partitions))


def _written_at(record: Any) -> dt.datetime:
    """When a record was written to Kafka (its timestamp), or now when it carries none."""
    if record.timestamp:
        return dt.datetime.fromtimestamp(record.timestamp / 1000, dt.UTC)
    return dt.datetime.now(dt.UTC)


def _listener_base() -> Any:
    from kafka import ConsumerRebalanceListener

    return ConsumerRebalanceListener


class _Listener(_listener_base()):  # type: ignore[misc]
    def __init__(self, source: KafkaSource) -> None:
        self.source = source

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.source.revoked({tp.partition for tp in revoked})

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.source.assigned_now({tp.partition for tp in assigned})
