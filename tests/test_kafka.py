"""hamon on a real Apache Kafka broker and a real PostgreSQL: sinks publish, workers store and
correlate, and what they store is what `hamon replay` of the same input stores.

Real processes (`python -m hamon serve|worker|consume`), real sockets on 127.0.0.1, a real broker
(scripts/kafka/broker.sh), syslog-ng's kafka-c() as the producer of raw lines.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka_env import ENV, ROOT, Broker, Proc, hamon_json, unique
from test_notify import Receiver

from hamon.bus import kafka as hk
from hamon.errors import ConfigError

EXAMPLE = ROOT / "examples" / "asa-pair.log"


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """HOST:PORT of a running broker: CI's, or one started for this session."""
    import os

    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    b = Broker(tmp_path_factory.mktemp("kafka"))
    b.start()
    yield b.address
    b.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def fleet(path: Path, pairs: int, per_pair: int = 30) -> Path:
    """The correlator benchmark's fleet capture: many pairs, failover activity among ordinary lines."""
    spec = importlib.util.spec_from_file_location("fleet_capture", ROOT / "benchmarks" / "correlate.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.generate(path, pairs, per_pair, seed=11)
    return path


def init(kafka: str, prefix: str, partitions: int = 6) -> None:
    hk.init_topics(hk.parse_address(f"kafka://{kafka}"), prefix, partitions, 1, 24)


def replayed(tmp: Path, capture: Path) -> dict[str, object]:
    """failovers, alerts and pairs of `hamon replay` of `capture` into a fresh store."""
    db = f"sqlite:///{tmp / 'replay.db'}"
    r = subprocess.run(
        [sys.executable, "-m", "hamon", "--db", db, "replay", str(capture)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    return outputs(db)


def outputs(db: str) -> dict[str, object]:
    return {
        "failovers": hamon_json(db, "failovers"),
        "alerts": hamon_json(db, "alerts"),
        "pairs": [{k: v for k, v in p.items() if k not in ("polls",)} for p in hamon_json(db, "pairs")],
        "events": len(hamon_json(db, "events", "--limit", "1000000")),
    }


def settle(db: str, expected: dict[str, object], timeout: float = 90.0) -> dict[str, object]:
    """The store's outputs once they equal `expected` (or the last seen, after `timeout` s)."""
    deadline = time.monotonic() + timeout
    got: dict[str, object] = {}
    while time.monotonic() < deadline:
        got = outputs(db)
        if got == expected:
            return got
        time.sleep(1.0)
    return got


def send(capture: Path, tcp_port: int, udp_port: int, lines: list[bytes] | None = None) -> int:
    """Even-numbered pairs over one TCP connection, odd ones over UDP, in the capture's order."""
    lines = lines if lines is not None else capture.read_bytes().splitlines(keepends=True)
    tcp = socket.create_connection(("127.0.0.1", tcp_port))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    try:
        for line in lines:
            host = line.split(b" : ", 1)[0].rsplit(b" ", 1)[-1]
            if int(host[-1:] or b"0") % 2 == 0:
                tcp.sendall(line)
            else:
                udp.sendto(line.rstrip(b"\n"), ("127.0.0.1", udp_port))
            n += 1
            if n % 200 == 0:
                time.sleep(0.01)  # a datagram rate the loopback keeps without loss
    finally:
        tcp.close()
        udp.close()
    return n


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def staged(kafka: str, tmp_path: Path, pairs: int) -> tuple[Path, dict[str, object], str, Sink]:
    """A fleet capture, what `hamon replay` stores of it, a fresh topic and a sink publishing to it."""
    capture = fleet(tmp_path / "fleet.log", pairs=pairs)
    expected = replayed(tmp_path, capture)
    prefix = unique()
    init(kafka, prefix)
    return capture, expected, prefix, Sink(tmp_path, kafka, prefix)


class Sink:
    def __init__(self, tmp: Path, kafka: str, prefix: str, name: str = "sink") -> None:
        self.port = free_port()
        self.proc = Proc(
            tmp,
            name,
            "--db",
            f"sqlite:///{tmp / (name + '.db')}",
            "serve",
            "--bus",
            f"kafka://{kafka}",
            "--topic-prefix",
            prefix,
            "--syslog-tcp",
            f"127.0.0.1:{self.port}",
            "--syslog-udp",
            f"127.0.0.1:{self.port}",
        )
        self.proc.wait_line("publishing:")


def worker(tmp: Path, kafka: str, prefix: str, db: str, name: str, *extra: str) -> Proc:
    p = Proc(
        tmp,
        name,
        "--db",
        db,
        "worker",
        "--bus",
        f"kafka://{kafka}",
        "--topic-prefix",
        prefix,
        "--group",
        f"g-{prefix}",
        "--name",
        name,
        *extra,
    )
    try:
        p.wait_line("partitions", timeout=60)
    except AssertionError:
        p.kill9()
        raise
    return p


def worker_status(db: str) -> dict[str, dict[str, object]]:
    return {s["name"]: s for s in hamon_json(db, "status")["services"]}


# -- no broker needed -------------------------------------------------------------------------------
def test_kafka_addresses_are_read_or_refused_in_one_line() -> None:
    a = hk.parse_address("kafka://10.0.0.1:9092,10.0.0.2:9092")
    assert a.servers == ("10.0.0.1:9092", "10.0.0.2:9092") and a.topic is None
    assert hk.parse_address("kafka://k:9092/asa-syslog", topic=True).topic == "asa-syslog"
    assert hk.bus_address("memory") is None and hk.bus_address(None) is None
    for bad, says in [
        ("kafka://", "no broker"),
        ("http://k:9092", "not a Kafka address"),
        ("kafka://k", "not HOST:PORT"),
        ("kafka://k:0", "not HOST:PORT"),
        ("kafka://k:9092/a b", "not a Kafka topic name"),
    ]:
        with pytest.raises(ConfigError, match=says):
            hk.parse_address(bad)
    with pytest.raises(ConfigError, match="no topic"):
        hk.parse_address("kafka://k:9092", topic=True)
    with pytest.raises(ConfigError, match="--topic-prefix"):
        hk.bus_address("kafka://k:9092/x")


def test_messages_carry_every_field_of_an_event_activity_and_polls_and_garbage_is_named() -> None:
    from helpers import parse_bytes

    res, parser = parse_bytes(EXAMPLE.read_bytes())
    assert res.events
    (back,) = [hk.decode(hk.encode_events(res.events))]
    assert back.events == res.events
    acts = parser.drain_activity()
    ingest = hk.Ingest("serve:x", "serve", res.events[0].at, {"lines": 446})
    d = hk.decode(hk.encode_activity(ingest, acts))
    assert d.activity == acts and d.ingest == ingest
    poll = hk.Poll("fw-edge", "primary", res.events[0].at, "192.0.2.10", {"failover": {"hosts": []}})
    assert hk.decode(hk.encode_poll(poll)).poll == poll
    for garbage, says in [
        (b"\xff\xfe", "not a hamon message"),
        (b'{"v": 1, "type": "mystery"}', "unknown message type"),
        (b'{"v": 99, "type": "events"}', "message format 99"),
        (b'{"v": 1, "type": "events", "fields": ["at"], "events": [[1]]}', "not a hamon message"),
    ]:
        with pytest.raises(ValueError, match=says):
            hk.decode(garbage)


def test_kafka_python_checksums_records_in_c() -> None:
    # Without the crc32c extension kafka-python computes each record batch's CRC-32C in Python:
    # about a third of the produce rate, a sixth of the consume rate (benchmarks/kafka_clients.py).
    from kafka.record import util

    assert util.crc32c_c is not None and util._crc32c is util.crc32c_c


def test_an_unreachable_broker_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hamon",
            "--db",
            f"sqlite:///{tmp_path / 'w.db'}",
            "worker",
            "--bus",
            f"kafka://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("Error:")]
    assert f"no Kafka broker answers at 127.0.0.1:{port}" in line and "check the address" in line
    assert "Traceback" not in r.stderr


# -- a real broker ----------------------------------------------------------------------------------
def test_a_missing_topic_says_how_to_create_it_and_init_creates_it_once(kafka: str, tmp_path: Path) -> None:
    prefix = unique()
    r = subprocess.run(
        [sys.executable, "-m", "hamon", "--db", f"sqlite:///{tmp_path / 's.db'}", "serve", "--bus", f"kafka://{kafka}",
         "--topic-prefix", prefix, "--syslog-udp", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1
    assert f"topic '{prefix}.events' does not exist" in r.stderr
    assert f"hamon kafka init --bus kafka://{kafka} --topic-prefix {prefix}" in r.stderr
    args = [sys.executable, "-m", "hamon", "kafka", "init", "--bus", f"kafka://{kafka}", "--topic-prefix", prefix]
    first = json.loads(subprocess.run([*args, "--partitions", "3", "--json"], capture_output=True, text=True).stdout)
    again = json.loads(subprocess.run([*args, "--partitions", "9", "--json"], capture_output=True, text=True).stdout)
    assert first == [{"topic": f"{prefix}.events", "partitions": 3, "created": True}]
    assert again == [{"topic": f"{prefix}.events", "partitions": 3, "created": False}]


def test_the_partition_of_a_pair_is_where_the_client_puts_its_key(kafka: str) -> None:
    from kafka import KafkaProducer

    prefix = unique()
    init(kafka, prefix, partitions=12)
    p = KafkaProducer(bootstrap_servers=[kafka])
    for pair in ("fw-edge", "fw-dc", "fw0001", "Ζ-unicode", "a" * 200):
        landed = p.send(f"{prefix}.events", key=pair.encode(), value=b"x").get(timeout=30).partition
        assert hk.partition_for(pair, 12) == landed, pair
    p.close()


def test_udp_and_tcp_through_a_sink_and_two_workers_store_what_replay_stores(
    kafka: str, tmp_path: Path, postgres_url: str
) -> None:
    capture, expected, prefix, sink = staged(kafka, tmp_path, pairs=24)
    w1 = worker(tmp_path, kafka, prefix, postgres_url, "w1")
    w2 = worker(tmp_path, kafka, prefix, postgres_url, "w2")
    try:
        send(capture, sink.port, sink.port)
        got = settle(postgres_url, expected)
        assert got == expected
        st = worker_status(postgres_url)
        parts = [set(st[w]["counters"]["kafka"]["partitions"]) for w in ("w1", "w2")]
        assert parts[0] and parts[1] and not parts[0] & parts[1] and parts[0] | parts[1] == set(range(6))
        assert st["w1"]["counters"]["totals"]["events"] > 0 and st["w2"]["counters"]["totals"]["events"] > 0
        text = subprocess.run(
            [sys.executable, "-m", "hamon", "--db", postgres_url, "status"], capture_output=True, text=True, timeout=60
        ).stdout
        for w, p in zip(("w1", "w2"), parts, strict=True):
            shown = ",".join(str(x) for x in sorted(p))
            assert f"reading: kafka://{kafka} topic {prefix}.events, group g-{prefix}, partitions {shown}" in text, w
        sink_text = subprocess.run(
            [sys.executable, "-m", "hamon", "--db", f"sqlite:///{tmp_path / 'sink.db'}", "status"],
            capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        assert f"publishing: kafka://{kafka} topic {prefix}.events," in sink_text
        # Each role says what it is made of: the sink publishes and commits on delivery, the
        # workers store only what is new and correlate the pairs of their own partitions.
        assert "stages: listen → journal → parse → publish → commit delivered" in sink_text
        assert st["w1"]["counters"]["stages"] == [
            "kafka", "decode", "store new ones", "commit offsets", "correlate owned", "announce"
        ]  # fmt: skip
    finally:
        for p in (w1, w2, sink.proc):
            assert p.stop() == 0, p.text()[-2000:]


def test_a_worker_killed_mid_stream_loses_nothing_and_duplicates_nothing(
    kafka: str, tmp_path: Path, postgres_url: str, receiver: Receiver
) -> None:
    from sqlalchemy import create_engine, text

    capture, expected, prefix, sink = staged(kafka, tmp_path, pairs=24)
    notify = ("--notify", f"json://127.0.0.1:{receiver.port}/hook")
    w1 = worker(tmp_path, kafka, prefix, postgres_url, "w1", *notify)
    w2 = worker(tmp_path, kafka, prefix, postgres_url, "w2", *notify)
    lines = capture.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    try:
        send(capture, sink.port, sink.port, lines[:half])
        time.sleep(1.0)
        w1.kill9()  # stored some, committed some, correlated some: the group gives its pairs to w2
        send(capture, sink.port, sink.port, lines[half:])
        got = settle(postgres_url, expected, timeout=120)
        assert got == expected
        engine = create_engine(postgres_url)
        with engine.connect() as conn:
            logged = conn.execute(
                text("select count(*) from notifications where alert_id <> ''")
            ).scalar()  # not the row a target's backlog starts from
            ids = conn.execute(text("select count(*), count(distinct event_id) from events")).one()
        engine.dispose()
        assert ids[0] == ids[1] == expected["events"]
        time.sleep(2.0)  # notifications go out on the workers' own threads
        assert logged and len(receiver.posts) == logged, "one post per logged notification, none twice"
    finally:
        for p in (w2, sink.proc):
            assert p.stop() == 0, p.text()[-2000:]


def test_a_worker_joining_takes_pairs_over_and_the_outputs_stay_the_same(
    kafka: str, tmp_path: Path, postgres_url: str
) -> None:
    capture, expected, prefix, sink = staged(kafka, tmp_path, pairs=24)
    lines = capture.read_bytes().splitlines(keepends=True)
    w1 = worker(tmp_path, kafka, prefix, postgres_url, "w1")
    w2: Proc | None = None
    try:
        send(capture, sink.port, sink.port, lines[: len(lines) // 2])
        time.sleep(2.0)
        w2 = worker(tmp_path, kafka, prefix, postgres_url, "w2")
        w1.wait_line("handed on", timeout=60)
        send(capture, sink.port, sink.port, lines[len(lines) // 2 :])
        assert settle(postgres_url, expected) == expected
        st = worker_status(postgres_url)
        assert st["w2"]["counters"]["kafka"]["partitions"], "the joining worker was given partitions"
        assert "pairs resumed from the store" in w2.text()
    finally:
        for p in (w1, w2, sink.proc):
            if p is not None:
                assert p.stop() == 0, p.text()[-2000:]


def test_the_broker_away_for_20_s_under_load_then_back_nothing_lost(tmp_path: Path, postgres_url: str) -> None:
    broker = Broker(tmp_path / "broker")
    broker.start()
    kafka = broker.address
    capture, expected, prefix, sink = staged(kafka, tmp_path, pairs=12)
    w1 = worker(tmp_path, kafka, prefix, postgres_url, "w1")
    lines = capture.read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    try:
        send(capture, sink.port, sink.port, lines[:third])
        broker.stop()
        t0 = time.monotonic()
        send(capture, sink.port, sink.port, lines[third : 2 * third])  # received while the broker is away
        time.sleep(max(0.0, 20 - (time.monotonic() - t0)))
        sink_status = hamon_json(f"sqlite:///{tmp_path / 'sink.db'}", "status")["services"][0]
        assert sink_status["running"] and sink_status["counters"]["kafka"]["pending"] > 0, "held, not dropped"
        broker.start()
        send(capture, sink.port, sink.port, lines[2 * third :])
        assert settle(postgres_url, expected, timeout=120) == expected
        sink_status = hamon_json(f"sqlite:///{tmp_path / 'sink.db'}", "status")["services"][0]
        assert sink_status["counters"]["dropped"] == []
    finally:
        for p in (w1, sink.proc):
            p.stop()
        broker.stop()


def test_consume_reads_what_syslog_ng_kafka_c_wrote_as_replay_reads_the_file(
    kafka: str, tmp_path: Path, postgres_url: str
) -> None:
    from helpers import require

    syslog_ng = require("syslog-ng", "the producer of raw lines: syslog-ng's kafka-c()")
    modules = list(Path("/usr/lib/syslog-ng").glob("*/libkafka.so"))
    if not modules:
        require("syslog-ng-mod-rdkafka(missing)", "syslog-ng's kafka-c() module (Debian syslog-ng-mod-rdkafka)")
    expected = replayed(tmp_path, EXAMPLE)
    topic = unique("raw")
    admin = hk.admin(hk.parse_address(f"kafka://{kafka}"))
    from kafka.admin import NewTopic

    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    conf = tmp_path / "syslog-ng.conf"
    conf.write_text(
        f"""@version: 3.38
@include "scl.conf"
options {{ keep-hostname(yes); }};
source s_file {{ file("{EXAMPLE}" flags(no-parse) follow-freq(1)); }};
destination d_kafka {{
  kafka-c(bootstrap-servers("{kafka}") topic("{topic}") message("$MSG") key("$HOST")
          sync-send(yes) config("linger.ms" => "5"));
}};
log {{ source(s_file); destination(d_kafka); }};
"""
    )
    ng = subprocess.Popen(
        [syslog_ng, "-F", "-f", str(conf), "-R", str(tmp_path / "ng.persist"), "-p", str(tmp_path / "ng.pid"),
         "-c", str(tmp_path / "ng.ctl"), "--no-caps"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "ng.log").open("wb"),
    )  # fmt: skip
    lines = len(EXAMPLE.read_bytes().splitlines())
    try:  # the topic filled by syslog-ng first, as a backlog hamon consume starts on
        deadline = time.monotonic() + 90
        while in_topic(kafka, topic) < lines and time.monotonic() < deadline:
            time.sleep(0.5)
        assert in_topic(kafka, topic) == lines, (tmp_path / "ng.log").read_text()[-2000:]
    finally:
        ng.terminate()
        ng.wait(30)
    consumer = Proc(tmp_path, "consume", "--db", postgres_url, "consume", f"kafka://{kafka}/{topic}")
    try:
        assert settle(postgres_url, expected, timeout=60) == expected
        consumer.wait_line("consuming:")
        stages = worker_status(postgres_url)["consume@" + socket.gethostname()]["counters"]["stages"]
        assert stages == ["kafka", "parse", "store", "commit offsets", "correlate", "announce"]
    finally:
        assert consumer.stop() == 0, consumer.text()[-2000:]


def in_topic(kafka: str, topic: str) -> int:
    """Records in the topic (read, not end offsets: syslog-ng's transactions add marker offsets)."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=[kafka], isolation_level="read_committed", enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        c.assign(parts)
        c.seek_to_beginning()
        n, deadline = 0, time.monotonic() + 10
        while time.monotonic() < deadline:
            got = c.poll(timeout_ms=500)
            if not got:
                break
            n += sum(len(v) for v in got.values())
        return n
    finally:
        c.close()


def test_a_poll_published_by_a_sink_is_the_units_last_poll_in_the_shared_store(
    kafka: str, tmp_path: Path, postgres_url: str
) -> None:
    import datetime as dt

    from hamon.bus.counters import Counters

    prefix = unique()
    init(kafka, prefix, partitions=2)
    sink = hk.KafkaSink(hk.parse_address(f"kafka://{kafka}"), prefix, Counters())
    at = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    sink.publish_poll(hk.Poll("fw-edge", "primary", at, "192.0.2.10", {"failover_link": "up"}))
    sink.close()
    assert sink.state()["delivered"] == 1
    w1 = worker(tmp_path, kafka, prefix, postgres_url, "w1")
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(postgres_url)
        deadline = time.monotonic() + 30
        row = None
        while row is None and time.monotonic() < deadline:
            with engine.connect() as conn:
                row = conn.execute(text("select pair, unit, source, document from polls")).first()
            time.sleep(0.3)
        engine.dispose()
        assert row is not None and tuple(row[:3]) == ("fw-edge", "primary", "192.0.2.10")
        assert json.loads(row[3]) == {"failover_link": "up"}
    finally:
        assert w1.stop() == 0


def test_an_unreadable_message_on_the_events_topic_is_quarantined_and_committed(
    kafka: str, tmp_path: Path, postgres_url: str
) -> None:
    from kafka import KafkaProducer

    prefix = unique()
    init(kafka, prefix, partitions=1)
    p = KafkaProducer(bootstrap_servers=[kafka])
    p.send(f"{prefix}.events", key=b"fw-x", value=b"not json at all")
    p.send(f"{prefix}.events", key=b"fw-x", value=json.dumps({"v": 1, "type": "mystery"}).encode())
    p.flush()
    p.close()
    w1 = worker(tmp_path, kafka, prefix, postgres_url, "w1")
    try:
        q = settle_quarantine(postgres_url, 2)
        reasons = sorted(r["reason"] for r in q)
        assert reasons[0].startswith("not a hamon message") and reasons[1] == "unknown message type 'mystery'"
        assert {r["raw"] for r in q} == {"not json at all", '{"v": 1, "type": "mystery"}'}
    finally:
        assert w1.stop() == 0
    # Committed: a worker of the same group starting again reads nothing twice.
    w2 = worker(tmp_path, kafka, prefix, postgres_url, "w2")
    try:
        time.sleep(3)
        assert worker_status(postgres_url)["w2"]["counters"]["received"] == []
    finally:
        assert w2.stop() == 0


def settle_quarantine(db: str, n: int, timeout: float = 60.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        q = hamon_json(db, "quarantine")
        if len(q) >= n:
            return list(q)
        time.sleep(0.5)
    raise AssertionError("not quarantined in time")


def test_a_sink_whose_broker_stays_away_keeps_receiving_into_its_journal_and_delivers_it_all_later(
    tmp_path: Path,
) -> None:
    broker = Broker(tmp_path / "broker")
    broker.start()
    prefix = unique()
    init(broker.address, prefix, partitions=2)
    config = tmp_path / "sink.yml"
    config.write_text(f"kafka_buffer_bytes: {1 << 20}\n")  # 1 MiB held for the broker, the rest in the journal
    port = free_port()
    db = f"sqlite:///{tmp_path / 'sink.db'}"
    sink = Proc(tmp_path, "sink", "--db", db, "serve", "--config", str(config), "--bus", f"kafka://{broker.address}",
                "--topic-prefix", prefix, "--syslog-udp", f"127.0.0.1:{port}")  # fmt: skip
    try:
        sink.wait_line("publishing:")
        broker.kill()
        now = __import__("datetime").datetime.now(__import__("datetime").UTC)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(6000):  # ~4 MiB of events messages, one pair per datagram
                line = f"<161>{now:%b %d %Y %H:%M:%S} fw{i:04d}.{i % 2} : %ASA-1-105032: LAN Failover interface is down"
                s.sendto(line.encode(), ("127.0.0.1", port))
                if i % 100 == 99:
                    time.sleep(0.01)

        def counters() -> dict[str, Any]:
            return dict(hamon_json(db, "status")["services"][0]["counters"])

        def settled(c: dict[str, Any]) -> bool:
            return sum(r["count"] for r in c["received"]) == 6000 and c["journal"]["held_bytes"] > 0

        status = _poll(counters, settled, 30)
        kafka = status["kafka"]
        assert not [r for r in status["dropped"] if r["transport"] == "kafka"], "nothing dropped for a full buffer"
        assert 0 < kafka["pending_bytes"] <= 1 << 20 and status["journal"]["refused"] == 0
        assert status["totals"]["events"] < 6000, "what the producer cannot hold waits in the journal, unparsed"
        broker.start()

        def delivered(c: dict[str, Any]) -> bool:
            return c["totals"].get("events") == 6000 and c["kafka"]["pending"] == 0 and c["journal"]["held_bytes"] == 0

        status = _poll(counters, delivered, 120)
        assert status["kafka"]["failed"] == 0 and status["kafka"]["delivered"] >= 6000
    finally:
        sink.stop()
        broker.stop()


def _poll(read: Any, done: Any, timeout: float) -> Any:
    """`read()` every half second until `done(value)`, within `timeout` seconds; the last value."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        assert time.monotonic() < deadline, f"not reached in {timeout} s: {value}"
        time.sleep(0.5)
        value = read()
    return value


def test_a_replication_factor_the_cluster_cannot_give_is_said_so(kafka: str) -> None:
    args = [sys.executable, "-m", "hamon", "kafka", "init", "--bus", f"kafka://{kafka}", "--topic-prefix", unique()]
    r = subprocess.run([*args, "--replication", "3"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "with replication factor 3: the cluster has fewer brokers (give --replication N)" in r.stderr
