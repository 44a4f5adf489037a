"""`hamon worker`, `hamon consume` and `hamon kafka init`: hamon on Apache Kafka."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from hamon.cli.context import Context
from hamon.cli.render import console, emit_json, table
from hamon.cli.serve import bus_options, load_config
from hamon.errors import ConfigError

WORKER_KEYS = ("notify", "external_url", "repeat_every", "reorder_window", "tz", "status_every")


def _settings(config_file: str | None, options: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if config_file:
        doc = load_config(config_file)
        settings.update({k: v for k, v in doc.items() if k in (*WORKER_KEYS, "bus", "topic_prefix")})
    for k, v in options.items():
        if v not in (None, ()):
            settings[k] = list(v) if isinstance(v, tuple) else v
    return settings


def _run(obj: Context, service: Any, what: str) -> None:
    service.start()
    service.install_signals()
    out = console(stderr=True)
    intake = service.intake
    out.print(f"{what}: {intake.address} topic {intake.topic}, group {intake.group}, as {service.name}")
    service.run()
    out.print("stopped")


def _notify_options(f: Any) -> Any:
    for opt in reversed(
        [
            click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML file (serve's keys)."),
            click.option(
                "--group", help="Kafka consumer group (default: hamon for worker, hamon-consume for consume)."
            ),
            click.option("--name", help="This process's name in `hamon status` (default <command>@<hostname>)."),
            click.option("--notify", multiple=True, metavar="URL", envvar="HAMON_NOTIFY", help="Notification URL."),
            click.option("--external-url", metavar="URL", help="hamon's Grafana, for links in notifications."),
            click.option("--tz", help="Time zone of device stamps that carry none (default UTC)."),
        ]
    ):
        f = opt(f)
    return f


@click.command("worker")
@bus_options
@_notify_options
@click.pass_obj
def worker_cmd(obj: Context, /, config_file: str | None, group: str | None, name: str | None, **options: Any) -> None:
    """Store, correlate and notify the pairs of the Kafka partitions this worker is given.

    Run one or more beside `hamon serve --bus kafka://…` sinks, all with the same --db (PostgreSQL)
    and --group: the group spreads the partitions of <prefix>.events over them. Offsets are
    committed once the store holds the events; a worker that takes a partition resumes its pairs
    from their checkpoints in the store.
    """
    from hamon.bus.kafka import bus_address
    from hamon.service.serve import serve_config
    from hamon.service.worker import default_name, worker

    logging.basicConfig(level=logging.INFO, format="hamon worker: %(message)s", stream=sys.stderr)
    settings = _settings(config_file, options)
    address = bus_address(settings.pop("bus", None))
    if address is None:
        raise ConfigError("hamon worker reads Kafka: give --bus kafka://HOST:PORT (or HAMON_BUS)")
    service = worker(
        serve_config(settings, config_file or "worker options"),
        obj.store(migrate=False, create=True),
        obj.inventory_path,
        address,
        group=group or "hamon",
        name=name or default_name("worker"),
    )
    _run(obj, service, "worker")


@click.command("consume")
@click.argument("source", metavar="kafka://HOST:PORT/TOPIC")
@_notify_options
@click.pass_obj
def consume_cmd(
    obj: Context, /, source: str, config_file: str | None, group: str, name: str | None, **options: Any
) -> None:
    """Read raw syslog lines from a Kafka topic (rsyslog omkafka, syslog-ng kafka-c()) and handle them
    as `hamon serve` handles datagrams: parse, store, correlate, notify; offsets are committed once
    stored. One process reads every partition of the topic (a pair's lines may be in any of them).
    """
    from hamon.bus.kafka import parse_address
    from hamon.service.serve import serve_config
    from hamon.service.worker import consumer, default_name

    logging.basicConfig(level=logging.INFO, format="hamon consume: %(message)s", stream=sys.stderr)
    address = parse_address(source, topic=True)
    assert address.topic is not None
    settings = _settings(config_file, options)
    settings.pop("bus", None)
    settings.pop("topic_prefix", None)
    service = consumer(
        serve_config(settings, config_file or "consume options"),
        obj.store(migrate=False, create=True),
        obj.inventory_path,
        address,
        address.topic,
        group or "hamon-consume",
        name or default_name("consume"),
    )
    _run(obj, service, "consuming")


@click.group("kafka")
def kafka_group() -> None:
    """Kafka topics for the distributed bus."""


@kafka_group.command("init")
@bus_options
@click.option("--partitions", type=click.IntRange(1, 10_000), default=12, show_default=True,
              help="Partitions of <prefix>.events: the most workers that share the work.")  # fmt: skip
@click.option("--replication", type=click.IntRange(1, 15), default=1, show_default=True,
              help="Replicas of each partition (3 on a production cluster).")  # fmt: skip
@click.option("--retention-hours", type=click.FloatRange(1, 24 * 365), default=168, show_default=True,
              help="How long events stay in the topic (a worker down longer loses its backlog).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def kafka_init_cmd(
    bus: str | None, topic_prefix: str | None, partitions: int, replication: int, retention_hours: float, as_json: bool
) -> None:
    """Create the topic the sinks publish to and the workers read (an existing one is left as it is)."""
    from hamon.bus.kafka import DEFAULT_PREFIX, bus_address, init_topics

    address = bus_address(bus)
    if address is None:
        raise ConfigError("give the broker: --bus kafka://HOST:PORT (or HAMON_BUS)")
    rows = init_topics(address, topic_prefix or DEFAULT_PREFIX, partitions, replication, retention_hours)
    if as_json:
        emit_json(rows)
        return
    out = console()
    out.print(
        table(
            None,
            ("topic", "partitions", ""),
            [(r["topic"], r["partitions"], "created" if r["created"] else "exists (left as it is)") for r in rows],
        )
    )


COMMANDS = [worker_cmd, consume_cmd, kafka_group]
