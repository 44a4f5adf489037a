"""`hamon worker` and `hamon consume`: the service reading Kafka instead of listening.

A worker is one member of a consumer group on `<prefix>.events`: it stores the events of the
partitions the group gives it, commits their offsets once stored, correlates their pairs and
notifies (hamon.service.stages.worker_stages). A pair lives in one partition (its key), so one
worker at a time owns it; when the group moves a partition the old owner stores what it was
handed, commits and lets the pair go, and the new owner resumes the pair from its newest checkpoint
in the shared store. Redelivered messages (a worker killed after storing, before committing) add
nothing: stored events keep their ids and only new ones are correlated.

`hamon consume` reads raw syslog lines (rsyslog omkafka, syslog-ng kafka-c()) from every partition
of a topic and handles them as `hamon serve` handles datagrams, committing once stored
(hamon.service.stages.consume_stages).
"""

from __future__ import annotations

import socket

from hamon.bus.kafka import KafkaAddress, events_topic
from hamon.service.intake import KafkaIntake
from hamon.service.serve import ServeConfig, Service
from hamon.store import Store


def default_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}"


def worker(
    config: ServeConfig, store: Store, inventory_path: str | None, address: KafkaAddress, *, group: str, name: str
) -> Service:
    """`hamon worker`: the events topic's partitions the group gives, stored, correlated, notified."""
    intake = KafkaIntake(address, events_topic(config.topic_prefix), group, raw=False, name=name)
    return Service(config, store, inventory_path, intake=intake, name=name)


def consumer(
    config: ServeConfig,
    store: Store,
    inventory_path: str | None,
    address: KafkaAddress,
    topic: str,
    group: str,
    name: str,
) -> Service:
    """`hamon consume`: raw syslog lines from a topic, as `hamon serve` handles datagrams."""
    intake = KafkaIntake(address, topic, group, raw=True, name=name)
    return Service(config, store, inventory_path, intake=intake, name=name)
