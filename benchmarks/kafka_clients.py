"""kafka-python (hamon's client) against confluent-kafka (librdkafka) on the messages hamon sends.

    python -m pip install confluent-kafka   # only for this comparison; hamon does not need it
    python benchmarks/kafka_clients.py --broker 127.0.0.1:9092 [--messages 100000] [--runs 3]

Each run produces `--messages` messages of the size of a sink's events message (one pair's few
events, ~1.5 kB JSON), keyed by pair, acks=all, idempotent, then consumes them back in a fresh
group; the clients alternate run by run. Reports wall and CPU seconds (this process) and messages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
import uuid


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def payload() -> bytes:
    event = {"pair": "fw0001", "text": "%ASA-1-104001: (Secondary) Switching to ACTIVE - HELLO not heard from mate."}
    return json.dumps({"v": 1, "type": "events", "events": [event] * 6}).encode()


def topic(broker: str, partitions: int = 12) -> str:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    name = f"clients-{uuid.uuid4().hex[:8]}"
    a = KafkaAdminClient(bootstrap_servers=[broker])
    a.create_topics([NewTopic(name, partitions, 1)])
    a.close()
    return name


def kafka_python(broker: str, n: int) -> tuple[float, float, float, float]:
    from kafka import KafkaConsumer, KafkaProducer

    t, value = topic(broker), payload()
    p = KafkaProducer(bootstrap_servers=[broker], acks="all", enable_idempotence=True, linger_ms=5,
                      batch_size=256 << 10)  # fmt: skip
    w0, c0 = time.monotonic(), cpu()
    for i in range(n):
        p.send(t, key=b"fw%04d" % (i % 1000), value=value)
    p.flush()
    produce = (time.monotonic() - w0, cpu() - c0)
    p.close()
    c = KafkaConsumer(t, bootstrap_servers=[broker], group_id=t, auto_offset_reset="earliest",
                      enable_auto_commit=False)  # fmt: skip
    got, w0, c0 = 0, time.monotonic(), cpu()
    while got < n and time.monotonic() - w0 < 300:
        for msgs in c.poll(timeout_ms=500, max_records=5000).values():
            got += len(msgs)
    c.commit()
    consume = (time.monotonic() - w0, cpu() - c0)
    c.close()
    return (*produce, *consume)


def confluent(broker: str, n: int) -> tuple[float, float, float, float]:
    from confluent_kafka import Consumer, Producer

    t, value = topic(broker), payload()
    p = Producer({"bootstrap.servers": broker, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    w0, c0 = time.monotonic(), cpu()
    for i in range(n):
        while True:
            try:
                p.produce(t, key=b"fw%04d" % (i % 1000), value=value)
                break
            except BufferError:
                p.poll(0.01)
        if i % 1000 == 0:
            p.poll(0)
    p.flush()
    produce = (time.monotonic() - w0, cpu() - c0)
    c = Consumer({"bootstrap.servers": broker, "group.id": t, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})  # fmt: skip
    c.subscribe([t])
    got, w0, c0 = 0, time.monotonic(), cpu()
    while got < n and time.monotonic() - w0 < 300:
        got += sum(1 for m in c.consume(5000, timeout=0.5) if m.error() is None)
    c.commit(asynchronous=False)
    consume = (time.monotonic() - w0, cpu() - c0)
    c.close()
    return (*produce, *consume)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}; {a.messages:,} messages of {len(payload()):,} bytes")
    results: dict[str, list[tuple[float, float, float, float]]] = {"kafka-python": [], "confluent-kafka": []}
    for _ in range(a.runs):
        results["kafka-python"].append(kafka_python(a.broker, a.messages))
        results["confluent-kafka"].append(confluent(a.broker, a.messages))
    for name, runs in results.items():
        pw, pc, cw, cc = (statistics.median(r[i] for r in runs) for i in range(4))
        print(f"{name:16} produce {a.messages / pw:9,.0f} msg/s (wall {pw:.2f} s, CPU {pc:.2f} s); "
              f"consume {a.messages / cw:9,.0f} msg/s (wall {cw:.2f} s, CPU {cc:.2f} s)  [median of {a.runs}]")  # fmt: skip
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
