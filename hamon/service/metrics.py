"""Prometheus metrics of the running service (prometheus-client), read from its counters on scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hamon.bus import Bus
from hamon.bus.counters import Counters


def serve_metrics(
    host: str,
    port: int,
    counters: Counters,
    bus: Bus,
    late: Callable[[], int],
    gauges: Callable[[], dict[str, float]] = dict,
    listeners: Callable[[], list[dict[str, Any]]] = list,
) -> Any:
    """Start the /metrics endpoint; returns the HTTP server (shutdown() stops it)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class ServiceCollector:
        def collect(self) -> Iterator[Any]:
            snap = counters.snapshot()
            received = CounterMetricFamily(
                "hamon_received_messages", "Messages received", labels=["transport", "source"]
            )
            for r in snap["received"]:
                received.add_metric([r["transport"], r["source"]], r["count"])
            yield received
            received_bytes = CounterMetricFamily(
                "hamon_received_bytes", "Bytes received (syslog and Kafka; traps and polls have none)",
                labels=["transport", "source"],
            )  # fmt: skip
            for r in snap["received"]:
                if "bytes" in r:
                    received_bytes.add_metric([r["transport"], r["source"]], r["bytes"])
            yield received_bytes
            dropped = CounterMetricFamily(
                "hamon_dropped_messages", "Messages dropped because the bus was full", labels=["transport", "source"]
            )
            for r in snap["dropped"]:
                dropped.add_metric([r["transport"], r["source"]], r["count"])
            yield dropped
            rejected = CounterMetricFamily(
                "hamon_rejected_messages", "Connections or messages refused", labels=["transport", "source", "reason"]
            )
            for r in snap["rejected"]:
                rejected.add_metric([r["transport"], r["source"], r["reason"]], r["count"])
            yield rejected
            for name, value in snap["totals"].items():
                yield CounterMetricFamily(f"hamon_{name}", f"Total {name.replace('_', ' ')}", value=value)
            yield GaugeMetricFamily("hamon_bus_depth", "Batches waiting on the bus", value=bus.depth())
            yield CounterMetricFamily("hamon_late_events", "Events later than the reorder window", value=late())
            for name, value in gauges().items():  # the journal and the store's availability, now
                yield GaugeMetricFamily(f"hamon_{name}", name.replace("_", " "), value=value)
            buffers = GaugeMetricFamily(
                "hamon_receive_buffer_bytes",
                "Usable kernel receive buffer granted to a UDP listener",
                labels=["listener"],
            )
            peaks = GaugeMetricFamily(
                "hamon_receive_ring_peak_bytes",
                "Most bytes the UDP receive ring held while Python was busy (capacity in hamon status)",
                labels=["listener"],
            )
            for x in listeners():
                name = f"{x['transport']} {x['host']}:{x['port']}"
                if "receive_buffer_bytes" in x:
                    buffers.add_metric([name], x["receive_buffer_bytes"])
                if x.get("receive_ring"):
                    peaks.add_metric([name], x["receive_ring"]["peak"])
            yield buffers
            yield peaks

    registry = CollectorRegistry()
    registry.register(ServiceCollector())
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
