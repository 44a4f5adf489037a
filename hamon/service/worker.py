"""`hamon worker` and `hamon consume`: the service reading Kafka instead of listening.

A worker is one member of a consumer group on `<prefix>.events`: it stores the events of the
partitions the group gives it, commits their offsets once stored, correlates their pairs and
notifies. A pair lives in one partition (its key), so one worker at a time owns it; when the group
moves a partition the old owner stores what it was handed, commits and lets the pair go, and the
new owner resumes the pair from its newest checkpoint in the shared store. Redelivered messages
(a worker killed after storing, before committing) add nothing: stored events keep their ids and
only new ones are correlated.

`hamon consume` reads raw syslog lines (rsyslog omkafka, syslog-ng kafka-c()) from every partition
of a topic and handles them as `hamon serve` handles datagrams, committing once stored.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from hamon.bus.kafka import KafkaAddress, Rebalance, events_topic, partition_for
from hamon.errors import StoreError
from hamon.model import Event
from hamon.service.serve import Item, ServeConfig, Service
from hamon.store import Store

log = logging.getLogger("hamon.worker")


def default_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}"


class KafkaService(Service):
    """The service with a Kafka topic as its one source (Kafka is its journal: offsets are
    committed once stored, so it keeps no journal of its own)."""

    raw = True
    journaled = False

    def __init__(
        self,
        config: ServeConfig,
        store: Store,
        inventory_path: str | None,
        address: KafkaAddress,
        topic: str,
        group: str,
        name: str,
    ) -> None:
        super().__init__(config, store, inventory_path)
        self.address, self.topic, self.group = address, topic, group
        self.name = name
        self.ingest_id = f"{name}:{self.started_at.isoformat()}"

    def start(self) -> None:
        from hamon.collectors.kafka_source import KafkaSource

        self.source = KafkaSource(
            self.address, self.topic, self.group, self.bus, self.counters, raw=self.raw, client_id=self.name
        )
        try:
            self._catch_up()
        except StoreError as exc:  # messages wait in Kafka until the store is back
            self._store_down(exc)
        self.source.start()
        self.collectors = [self.source]
        if self.notifier is not None:
            self.notifier.start()
        self.write_status()

    def shutdown(self) -> None:
        """Stop reading, store what was read (its offsets committed), then leave the group."""
        if self.source is not None:
            self.source.halt()
        while group := self._take(0.0):
            self.handle_many(group)
        super().shutdown()


class Consumer(KafkaService):
    """`hamon consume`: raw syslog lines from a topic, as `hamon serve` handles datagrams."""


class Worker(KafkaService):
    """`hamon worker`: the events topic's partitions the group gives, stored, correlated, notified."""

    raw = False

    def __init__(
        self, config: ServeConfig, store: Store, inventory_path: str | None, address: KafkaAddress, **kw: Any
    ) -> None:
        super().__init__(config, store, inventory_path, address, events_topic(config.topic_prefix), **kw)
        self.owned: set[int] = set()
        self.total = 1

    def _catch_up(self) -> None:
        self.store.ensure_schema()  # pairs are resumed as their partitions are given
        self._caught_up = True

    def _partition(self, pair: str) -> int:
        return partition_for(pair, self.total)

    def rebalance(self, change: Rebalance) -> None:
        self.total = change.total
        if change.kind == "revoke":
            self.owned -= change.partitions
            held = set(self.live.machines) | set(self.live.buffers) | set(self.live.dirty)
            gone = [p for p in held if self._partition(p) in change.partitions]
            self.live.forget(gone)
            log.info("partitions %s handed on: %d pairs let go", sorted(change.partitions), len(gone))
            return
        self.owned |= change.partitions
        try:
            self.store.renew_seq()  # the previous owner stored its pairs' events: go on after them
            pairs = [p for p in self.store.pairs() if self._partition(p) in change.partitions]
            self.live.forget(pairs)
            self.live.resume_pairs(pairs)
            if self.live.resumable is None:  # every stored pair of its partitions is resumed now
                self.live.resumable = set()
        except StoreError as exc:  # each pair resumes from the store with its next event instead
            self._store_down(exc)
            return
        log.info("partitions %s taken: %d pairs resumed from the store", sorted(change.partitions), len(pairs))

    def _store(self, item: Item) -> list[Event]:
        fresh = self.store.add_new_events(item.events) if item.events else []
        self.counters.add("events_new", len(fresh))
        self.counters.add("events_redelivered", len(item.events) - len(fresh))
        self._store_rest(item)
        return fresh

    def _owns(self, pair: str) -> bool:
        return self._partition(pair) in self.owned

    def _submit(self, events: list[Event]) -> None:
        # Only pairs this worker owns now: a partition handed on while its events were held
        # (the store away) is the new owner's, which resumes it from the store.
        mine = [e for e in events if self._partition(e.pair) in self.owned]
        if mine:
            self.live.submit(mine)
