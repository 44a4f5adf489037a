"""`hamon serve` with real clients on 127.0.0.1: util-linux logger over UDP and TCP (octet counting),
TLS with and without client certificates, loss accounting, backpressure, signals, `hamon status`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import require, wait_for
from serve_proc import free_port

from hamon.cli import main
from hamon.collectors.syslog_tcp import StreamFramer
from hamon.service.serve import ServeConfig, Service
from hamon.store import Store

LINK_DOWN = "%ASA-1-105032: LAN Failover interface is down"
TAKEOVER = "%ASA-1-104001: (Secondary) Switching to ACTIVE - HELLO not heard from mate."


class Running:
    """A Service on ephemeral ports, run in a thread."""

    def __init__(self, db: str, inventory: str | None = None, **cfg: Any) -> None:
        self.store = Store(db, migrate=False)  # the service checks the schema as it starts
        self.service = Service(ServeConfig(status_every=0.5, **cfg), self.store, inventory)
        self.service.start()
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()

    def port(self, transport: str) -> int:
        return next(x["port"] for x in self.service.listeners() if x["transport"] == transport)

    def stop(self) -> None:
        self.service.stopping.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def running(sqlite_url: str) -> Iterator[Running]:
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"], syslog_tcp=["127.0.0.1:0"], reorder_window=0.2)
    yield r
    r.stop()


def logger(*args: str) -> None:
    exe = require("logger", "util-linux logger is the real syslog client these tests send with")
    subprocess.run([exe, "--rfc3164", "-t", "fw-edge", *args], check=True, timeout=10)


def test_logger_over_udp_and_tcp_with_octet_counting(running: Running) -> None:
    logger("--udp", "-n", "127.0.0.1", "-P", str(running.port("udp")), LINK_DOWN)
    logger("--tcp", "--octet-count", "-n", "127.0.0.1", "-P", str(running.port("tcp")), TAKEOVER)
    events = wait_for(lambda: len(running.store.events()) == 2 and running.store.events())
    assert {e.msg_id for e in events} == {105032, 104001} and {e.pair for e in events} == {"fw-edge"}
    snap = running.service.counters.snapshot()
    assert {(r["transport"], r["count"]) for r in snap["received"]} == {("udp", 1), ("tcp", 1)}
    from hamon.store import outputs

    wait_for(lambda: [a for a in outputs.alert_list(running.store) if a["kind"] == "failover_link_down"])


def test_tcp_newline_framing_and_many_messages_in_one_stream(running: Running) -> None:
    lines = [
        f"<166>Nov 25 2026 10:00:{i % 60:02d} fw-x : %ASA-1-105008: (Primary) Testing Interface if{i}"
        for i in range(300)
    ]
    with socket.create_connection(("127.0.0.1", running.port("tcp")), timeout=5) as s:
        payload = ("\n".join(lines) + "\n").encode()
        for i in range(0, len(payload), 1000):  # split across writes mid-message
            s.sendall(payload[i : i + 1000])
    wait_for(lambda: len(running.store.events(pair="fw-x")) == 300)


def test_stream_framer() -> None:
    f = StreamFramer()
    msg = b"<13>Nov 25 10:00:00 h t: %ASA-1-105032: LAN Failover interface is down"
    framed = str(len(msg)).encode() + b" " + msg
    assert f.feed(framed[:10]) == []
    assert f.feed(framed[10:] + framed) == [msg, msg]
    assert f.feed(b"<13>one\n<13>two\r\n<13>thr") == [b"<13>one", b"<13>two"]
    assert f.feed(b"ee\n\n") == [b"<13>three"]
    assert f.feed(b"<13>last, no newline") == [] and f.rest() == [b"<13>last, no newline"]


def test_metrics_and_status_say_what_was_received_and_the_udp_buffer_granted(sqlite_url: str) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"], metrics="127.0.0.1:0")
    try:
        udp, metrics = r.port("udp"), r.port("metrics")
        granted = next(c for c in r.service.collectors if c.transport == "udp").sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(3):
                s.sendto(f"<161>fw-edge : {LINK_DOWN}".encode(), ("127.0.0.1", udp))
        wait_for(lambda: r.service.counters.snapshot()["received"], timeout=10)

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as resp:
                return str(resp.read().decode())

        text = wait_for(lambda: 'source="127.0.0.1",transport="udp"} 3.0' in (t := scrape()) and t, timeout=10)
        want = granted // 2 if sys.platform.startswith("linux") else granted
        samples = {
            (x.name, tuple(sorted(x.labels.items()))): x.value
            for family in text_string_to_metric_families(text)
            for x in family.samples
        }
        assert samples[("hamon_receive_buffer_bytes", (("listener", f"udp 127.0.0.1:{udp}"),))] == want
        assert samples[("hamon_received_messages_total", (("source", "127.0.0.1"), ("transport", "udp")))] == 3
        wait_for(lambda: CliRunner().invoke(main, ["--db", sqlite_url, "status", "--json"]).stdout.strip(), timeout=10)
        status = json.loads(CliRunner().invoke(main, ["--db", sqlite_url, "status", "--json"]).stdout)
        listener = next(x for x in status["services"][0]["listeners"] if x["transport"] == "udp")
        ring = listener.pop("receive_ring", None)
        assert listener == {"transport": "udp", "host": "127.0.0.1", "port": udp, "receive_buffer_bytes": want}
        shown = CliRunner().invoke(main, ["--db", sqlite_url, "status"]).stdout
        if ring is None:  # the Python receive loop (no C receive ring built)
            assert f"udp 127.0.0.1:{udp} (receive buffer {want / (1 << 20):.0f} MiB)" in shown
        else:
            assert ring["capacity"] == 64 << 20 and ring["ring_dropped"] == 0
            assert f"udp 127.0.0.1:{udp} (receive buffer {want / (1 << 20):.0f} MiB, receive ring 64 MiB, peak" in shown
    finally:
        r.stop()


def test_status_and_metrics_give_each_senders_bytes_and_rates(sqlite_url: str) -> None:
    """Bytes as they came off the wire per sender (a datagram's, a TCP stream's framing included,
    junk with no whole message too), and lines and bytes a second over the last status interval."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"], syslog_tcp=["127.0.0.1:0"], metrics="127.0.0.1:0")
    try:
        datagrams = [f"<161>fw-edge : {LINK_DOWN} {i}".encode() for i in range(40)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for d in datagrams:
                s.sendto(d, ("127.0.0.1", r.port("udp")))
        stream = b"".join(b"%d %s" % (len(d), d) for d in datagrams[:25])  # octet counting
        junk = b"x" * 70_000  # no newline: no message, bytes all the same
        with socket.create_connection(("127.0.0.1", r.port("tcp"))) as t:
            t.sendall(stream)
            t.sendall(junk)
        want = {("udp", sum(map(len, datagrams))), ("tcp", len(stream) + len(junk))}
        received = wait_for(
            lambda: {(x["transport"], x.get("bytes")) for x in r.service.counters.snapshot()["received"]} == want,
            timeout=10,
        )
        assert received, r.service.counters.snapshot()["received"]
        r.service.write_status()  # rates since the previous status write, a fraction of a second ago at most
        status = json.loads(CliRunner().invoke(main, ["--db", sqlite_url, "status", "--json"]).stdout)
        counters = status["services"][0]["counters"]
        assert counters["stages"] == ["listen", "journal", "parse", "store", "commit journal", "correlate", "announce"]
        counts = {(x["transport"], x["count"], x["bytes"]) for x in counters["received"]}
        assert counts == {("udp", 40, sum(map(len, datagrams))), ("tcp", 26, len(stream) + len(junk))}
        assert {x["transport"] for x in counters["rates"]} == {"udp", "tcp"}
        assert all(x["lines_per_s"] >= 0 and x["bytes_per_s"] >= 0 for x in counters["rates"])
        with urllib.request.urlopen(f"http://127.0.0.1:{r.port('metrics')}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        samples = {
            (x.name, x.labels.get("transport")): x.value
            for family in text_string_to_metric_families(text)
            for x in family.samples
            if x.name == "hamon_received_bytes_total"
        }
        assert samples == {
            ("hamon_received_bytes_total", "udp"): sum(map(len, datagrams)),
            ("hamon_received_bytes_total", "tcp"): len(stream) + len(junk),
        }
        shown = CliRunner().invoke(main, ["--db", sqlite_url, "status"], terminal_width=160).stdout
        assert "lines/s" in shown and "bytes/s" in shown and f"{(len(stream) + len(junk)) / 1024:.1f} KiB" in shown
    finally:
        r.stop()


def test_udp_is_journaled_and_counted_as_dropped_only_when_the_journal_is_full(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(sqlite_url)
    # 64 KiB of journal, 1,000-byte datagrams: about 60 fit while nothing is stored.
    service = Service(ServeConfig(syslog_udp=["127.0.0.1:0"], journal_max_bytes=1 << 16, bus_bytes=1 << 16), store)
    service.start()  # collectors run, the consumer does not: the journal fills up
    assert service.journal is not None
    port = service.listeners()[0]["port"]
    pad = " " * 900 + "."  # padding the catalog reads past: the interface stays short
    with caplog.at_level("ERROR", logger="hamon.serve"), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(200):
            s.sendto(f"<166>%ASA-1-105008: (Primary) Testing Interface i{i}{pad}".encode(), ("127.0.0.1", port))
            if i % 20 == 19:
                time.sleep(0.05)  # separate drains
        snap = wait_for(
            lambda: (s := service.counters.snapshot())["received"] and s["received"][0]["count"] == 200 and s
        )
    dropped = snap["dropped"][0]["count"]
    assert 100 < dropped < 160 and service.journal.refused > 0
    said = [r.getMessage() for r in caplog.records if "journal is full" in r.getMessage()]
    assert len(said) == 1, "logged once while it lasts, not once per datagram"
    service.shutdown()  # stores what the journal holds
    assert len(store.events()) == 200 - dropped  # everything not counted as dropped was stored


def test_tcp_is_slowed_not_dropped_when_the_journal_is_full(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    service = Service(ServeConfig(syslog_tcp=["127.0.0.1:0"], journal_max_bytes=1 << 16, bus_bytes=1 << 16), store)
    service.start()
    port = service.listeners()[0]["port"]
    pad = " " * 2000 + "."

    def send() -> None:
        for n in range(60):  # 120 KB: twice what the journal takes before anything is stored
            with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
                s.sendall(f"<166>%ASA-1-105008: (Primary) Testing Interface t{n}{pad}\n".encode())

    sender = threading.Thread(target=send)
    sender.start()
    assert service.journal is not None
    assert wait_for(lambda: service.journal.refused > 0, timeout=20), "the journal filled up: the readers wait"
    time.sleep(0.5)
    assert service.journal.held <= 1 << 16 and not service.counters.snapshot()["dropped"]
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    sender.join(timeout=60)
    wait_for(lambda: len(store.events()) == 60, timeout=30)
    service.stopping.set()
    runner.join(timeout=15)
    assert not service.counters.snapshot()["dropped"]


def _tls_send(port: int, ca: Path, cert: tuple[Path, Path] | None, line: str) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        data = line.encode()
        s.sendall(str(len(data)).encode() + b" " + data)


@pytest.mark.parametrize("require_client_cert", [True, False])
def test_tls_with_and_without_client_certificates(
    sqlite_url: str, pki: dict[str, Path], require_client_cert: bool
) -> None:
    r = Running(
        sqlite_url,
        syslog_tls=["127.0.0.1:0"],
        tls_cert=str(pki["server.pem"]),
        tls_key=str(pki["server.key"]),
        tls_client_ca=str(pki["ca.pem"]) if require_client_cert else None,
        reorder_window=0.2,
    )
    try:
        port = r.port("tls")
        msg = "<166>Nov 25 2026 10:00:00 fw-tls : " + LINK_DOWN
        _tls_send(port, pki["ca.pem"], (pki["client.pem"], pki["client.key"]), msg)
        wait_for(lambda: len(r.store.events(pair="fw-tls")) == 1)
        if require_client_cert:
            with contextlib.suppress(ssl.SSLError, OSError):  # the server refuses the handshake
                _tls_send(port, pki["ca.pem"], None, msg.replace("fw-tls", "fw-nocert"))
            wait_for(lambda: r.service.counters.snapshot()["rejected"])
            assert r.store.events(pair="fw-nocert") == []
            (rej,) = r.service.counters.snapshot()["rejected"]
            assert rej["transport"] == "tls" and rej["reason"].startswith("tls handshake")
        else:
            _tls_send(port, pki["ca.pem"], None, msg.replace("fw-tls", "fw-nocert"))
            wait_for(lambda: len(r.store.events(pair="fw-nocert")) == 1)
    finally:
        r.stop()


def test_only_a_pairs_permitted_tls_peers_speak_for_it(sqlite_url: str, pki: dict[str, Path], tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yml"
    inv.write_text(
        "pairs:\n  - name: fw-edge\n    match: [fw-edge]\n    tls_peers: ['CN=fw-edge']\n"
        "  - name: fw-other\n    match: [fw-other]\n    tls_peers: ['CN=someone-else']\n"
    )
    r = Running(
        sqlite_url,
        inventory=str(inv),
        syslog_tls=["127.0.0.1:0"],
        syslog_tcp=["127.0.0.1:0"],
        tls_cert=str(pki["server.pem"]),
        tls_key=str(pki["server.key"]),
        tls_client_ca=str(pki["ca.pem"]),
    )
    try:
        client = (pki["client.pem"], pki["client.key"])  # its certificate says CN=fw-edge
        _tls_send(r.port("tls"), pki["ca.pem"], client, "<166>Nov 25 2026 10:00:00 fw-edge : " + LINK_DOWN)
        _tls_send(r.port("tls"), pki["ca.pem"], client, "<166>Nov 25 2026 10:00:01 fw-other : " + LINK_DOWN)
        with socket.create_connection(("127.0.0.1", r.port("tcp"))) as plain:  # no certificate at all
            plain.sendall(("<166>Nov 25 2026 10:00:02 fw-edge : " + TAKEOVER + "\n").encode())
        wait_for(lambda: len(r.store.quarantined()) == 2, timeout=10)
        assert [e.msg_id for e in r.store.events()] == [105032]  # the permitted peer's own pair
        reasons = sorted(q.reason for q in r.store.quarantined())
        assert reasons == [
            "127.0.0.1 is not a permitted TLS peer of pair 'fw-edge' (inventory tls_peers:)",
            "CN=fw-edge is not a permitted TLS peer of pair 'fw-other' (inventory tls_peers:)",
        ]
    finally:
        r.stop()


def test_sigterm_drains_and_exits_0_and_sighup_reloads_the_inventory(sqlite_url: str, tmp_path: Path) -> None:
    inv = tmp_path / "inv.yml"
    inv.write_text("pairs:\n  - name: before\n    match: [fw-edge]\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hamon",
            "--db",
            sqlite_url,
            "--inventory",
            str(inv),
            "serve",
            "--syslog-udp",
            "127.0.0.1:0",
            "--reorder-window",
            "0.2",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1])
        logger("--udp", "-n", "127.0.0.1", "-P", str(port), LINK_DOWN)
        store = Store(sqlite_url)
        wait_for(lambda: store.events(pair="before"))
        inv.write_text("pairs:\n  - name: after\n    match: [fw-edge]\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        logger("--udp", "-n", "127.0.0.1", "-P", str(port), TAKEOVER)
        wait_for(lambda: store.events(pair="after"))

        def status() -> dict[str, Any] | None:
            out = CliRunner().invoke(main, ["--db", sqlite_url, "status", "--json"]).stdout
            s = json.loads(out)["services"][0]
            return s if s["counters"]["totals"].get("events") == 2 else None

        s = wait_for(status)  # the service writes its status every 2 s
        assert s["running"] and s["pid"] == proc.pid
        assert s["counters"]["totals"]["inventory_reloaded"] == 1
        inv.write_text("pairs:\n  - name: broken\n    match: [fw-edge]\n    unit_holdtime: 99\n")
        proc.send_signal(signal.SIGHUP)  # a broken file: the previous inventory stays, and the log says why
        time.sleep(0.5)
        logger(
            "--udp",
            "-n",
            "127.0.0.1",
            "-P",
            str(port),
            LINK_DOWN.replace("105032", "105031").replace(
                "LAN Failover interface is down", "Failover LAN interface is up"
            ),
        )
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - t0 < 5
        assert {e.msg_id for e in store.events(pair="after")} == {104001, 105031}  # drained before exit
        after = json.loads(CliRunner().invoke(main, ["--db", sqlite_url, "status", "--json"]).stdout)["services"][0]
        assert not after["running"] and after["counters"]["stopped"]  # a clean stop says so at once
        assert "stopped at" in CliRunner().invoke(main, ["--db", sqlite_url, "status"]).stdout
        log = proc.stderr.read()
        assert f"inventory reloaded from {inv}: 1 pairs" in log
        assert f"inventory not reloaded, the previous one stays: {inv}: pair 'broken': key 'unit_holdtime'" in log
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ports_below_1024_and_bad_addresses_are_clear_errors(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["--db", sqlite_url, "serve", "--syslog-udp", "127.0.0.1:notaport"])
    assert result.exit_code == 1 and "not HOST:PORT" in result.stderr
    with socket.socket() as taken:  # a port another program holds: the error names the listener
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args, name in (
            (["--syslog-tcp", f"127.0.0.1:{port}"], f"tcp 127.0.0.1:{port}"),
            (["--syslog-udp", "127.0.0.1:0", "--metrics", f"127.0.0.1:{port}"], f"metrics 127.0.0.1:{port}"),
            (["--syslog-udp", "127.0.0.1:0", "--syslog-tcp", f"127.0.0.1:{port}"], f"tcp 127.0.0.1:{port}"),
        ):
            result = CliRunner().invoke(main, ["--db", sqlite_url, "serve", *args])
            assert result.exit_code == 1
            assert f"cannot listen on {name}: address already in use" in result.stderr


CLOG = "1.3.6.1.4.1.9.9.41.2.0.1"
CLOG_VARS = [
    "1.3.6.1.4.1.9.9.41.1.2.3.1.2.9",
    "s",
    "HA",
    "1.3.6.1.4.1.9.9.41.1.2.3.1.3.9",
    "i",
    "2",  # clogHistSeverity: syslog level 1, plus one
    "1.3.6.1.4.1.9.9.41.1.2.3.1.4.9",
    "s",
    "104001",
    "1.3.6.1.4.1.9.9.41.1.2.3.1.5.9",
    "s",
    "(Secondary) Switching to ACTIVE - HELLO not heard from mate.",
]
ENGINE = "0x8000000001020304"


def v3(level: str, *, user: str = "asa-v3", auth: str | None = None, priv: str | None = None) -> list[str]:
    """net-snmp's SNMPv3 options for a trap from the firewall's engine: SHA and AES keys when given."""
    args = ["-v3", "-e", ENGINE, "-u", user, "-l", level]
    args += ["-a", "SHA", "-A", auth] if auth else []
    return args + (["-x", "AES", "-X", priv] if priv else [])


def snmptrap(port: int, *security: str, text_row: str = "9") -> None:
    binds = [f"{v.rsplit('.', 1)[0]}.{text_row}" if v.startswith("1.3.6") else v for v in CLOG_VARS]
    exe = require("snmptrap", "net-snmp's snmptrap is the real trap sender")
    subprocess.run([exe, *security, f"127.0.0.1:{port}", "", CLOG, *binds], check=True, timeout=10)


def test_snmp_traps_v2c_and_v3_authpriv_and_refusals(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAMON_SNMP_AUTH_KEY_ASA_V3", "authpass123")
    monkeypatch.setenv("HAMON_SNMP_PRIV_KEY_ASA_V3", "privpass123")
    r = Running(
        sqlite_url,
        snmp_trap=["127.0.0.1:0"],
        snmp_community=["hamon-ro"],
        reorder_window=0.2,
        snmp_users=[{"name": "asa-v3", "engine_id": ENGINE, "auth": "SHA", "priv": "AES"}],
    )
    try:
        port = r.port("snmp")
        snmptrap(port, "-v2c", "-c", "hamon-ro")
        snmptrap(port, *v3("authPriv", auth="authpass123", priv="privpass123"), text_row="10")
        # refused: downgraded to no authentication, a wrong community, a wrong key, an unknown user
        snmptrap(port, *v3("noAuthNoPriv"), text_row="11")
        snmptrap(port, *v3("authNoPriv", auth="authpass123"), text_row="12")
        snmptrap(port, "-v2c", "-c", "guess", text_row="13")
        snmptrap(port, *v3("authPriv", auth="wrongpass99", priv="privpass123"), text_row="14")
        snmptrap(port, *v3("noAuthNoPriv", user="stranger"), text_row="15")
        wait_for(lambda: len(r.service.counters.snapshot()["rejected"]) >= 5)
        events = wait_for(lambda: len(r.store.events()) == 2 and r.store.events())  # one a trap, each its own time
        for event in events:
            assert (event.msg_id, event.kind, event.unit.value if event.unit else None, event.severity) == (
                104001,
                "switch_active",
                "secondary",
                1,
            )
            assert event.pair == "127.0.0.1"  # no device-id in a trap: the agent's address names the pair
        # the accepted traps (and only they) are kept raw; replayed, they are the same events
        (kept,) = Path(sqlite_url.removeprefix("sqlite:///") + ".traps").glob("traps-*.jsonl")
        rows = [json.loads(x) for x in kept.read_text().splitlines()]
        assert [row["source"] for row in rows] == ["127.0.0.1", "127.0.0.1"]
        texts = {oid: value for row in rows for oid, value in row["binds"] if oid.startswith(CLOG_VARS[9][:-1])}
        assert texts == {CLOG_VARS[9][:-1] + "9": CLOG_VARS[-1], CLOG_VARS[9][:-1] + "10": CLOG_VARS[-1]}
        other = f"sqlite:///{Path(sqlite_url.removeprefix('sqlite:///')).parent / 'again.db'}"
        again = CliRunner().invoke(main, ["--db", other, "replay", "--traps", str(kept), "--json"])
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["events"] == 2
        assert sorted(e.event_id for e in Store(other).events()) == sorted(e.event_id for e in events)
        snap = r.service.counters.snapshot()
        assert snap["received"] == [{"transport": "snmp", "source": "127.0.0.1", "count": 2}]
        reasons = {x["reason"]: x["count"] for x in snap["rejected"]}
        assert reasons["security level noAuthNoPriv below authPriv"] == 1
        assert reasons["security level authNoPriv below authPriv"] == 1
        assert reasons["unknown community"] == 1
        assert reasons["wrong authentication key"] == 1
        assert reasons["unknown user"] == 1
        r.service.write_status()  # the keys are nowhere hamon writes
        status = CliRunner().invoke(main, ["--db", sqlite_url, "status", "--json"]).stdout
        assert "authpass123" not in status and "privpass123" not in status
        assert "authpass123" not in Path(sqlite_url.removeprefix("sqlite:///")).read_bytes().decode("latin-1")
    finally:
        r.stop()


def test_snmp_v3_keys_must_come_from_somewhere(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAMON_SNMP_AUTH_KEY_ASA", raising=False)
    result = CliRunner().invoke(
        main, ["--db", sqlite_url, "serve", "--snmp-trap", "127.0.0.1:0", "--snmp-user", f"asa,{ENGINE},SHA"]
    )
    assert result.exit_code == 1 and "HAMON_SNMP_AUTH_KEY_ASA" in result.stderr


def test_cufw_failover_state_traps_are_decoded_from_the_mib(sqlite_url: str) -> None:
    r = Running(sqlite_url, snmp_trap=["127.0.0.1:0"], snmp_community=["hamon-ro"])
    entry = "1.3.6.1.4.1.9.9.491.1.4.2.1.1"  # cufwFOGrpStatusEntry
    try:
        port = r.port("snmp")
        for group, state in (("1", "9"), ("2", "10"), ("1", "42")):  # active, standby, not a HardwareStatus
            binds = [f"{entry}.1.{group}", "i", group, f"{entry}.3.{group}", "i", state]
            trap = [
                require("snmptrap", "net-snmp's snmptrap is the real trap sender"),
                "-v2c",
                "-c",
                "hamon-ro",
                f"127.0.0.1:{port}",
                "",
                "1.3.6.1.4.1.9.9.491.0.3",
            ]
            subprocess.run([*trap, *binds], check=True, timeout=10)
        events = wait_for(lambda: len(r.store.events()) >= 2 and r.store.events())
        decoded = sorted((e.kind, e.group, e.my_state, e.source) for e in events)
        assert decoded == [
            ("ha_state_changed", 1, "active", "127.0.0.1"),
            ("ha_state_changed", 2, "standby", "127.0.0.1"),
        ]
        assert all(e.unit is None and e.pair == "127.0.0.1" for e in events)  # the trap names no unit

        def rejected() -> list[dict[str, Any]]:
            return [x for x in r.service.counters.snapshot()["rejected"] if "cufw" in x["reason"]]

        assert wait_for(rejected)[0]["reason"] == "cufwFailoverStateChanged with values out of its MIB"
    finally:
        r.stop()


def test_a_burst_of_stop_and_reload_signals_never_deadlocks_the_service(sqlite_url: str, tmp_path: Path) -> None:
    # systemd's SIGTERM, then an operator's Ctrl-C, a reload meanwhile: a signal handler that took a
    # lock (Event.set) deadlocked when the next signal came while it held it.
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "hamon", "--db", sqlite_url, "serve", "--syslog-udp", "127.0.0.1:0"],
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while b"listening:" not in proc.stderr.readline() and time.monotonic() < deadline:
            pass
        for _ in range(20_000):  # reloads, each a handler run, some while another is running
            proc.send_signal(signal.SIGHUP)
        for i in range(100):
            proc.send_signal((signal.SIGTERM, signal.SIGINT)[i % 2])
        try:
            assert proc.wait(30) == 0, f"attempt {attempt}"
        finally:
            proc.kill()


def test_sigusr1_writes_every_threads_stack_and_the_service_goes_on(sqlite_url: str, tmp_path: Path) -> None:
    """For a serve that does not stop when asked: SIGUSR1 shows where each thread is, and changes
    nothing — it still takes lines, and SIGTERM still says it is stopping and exits 0."""
    log = tmp_path / "serve.log"
    port = free_port()
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hamon", "--db", sqlite_url, "serve", "--syslog-tcp", f"127.0.0.1:{port}"],
            stderr=err,
        )
    try:
        assert wait_for(lambda: "listening:" in log.read_text(), timeout=30)
        proc.send_signal(signal.SIGUSR1)
        assert wait_for(lambda: "Current thread" in log.read_text(), timeout=10)
        said = log.read_text()
        assert 'File "' in said and "serve.py" in said and "in run" in said  # the main loop's frame
        assert proc.poll() is None
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"<166>%ASA-1-105008: (Primary) Testing Interface after-usr1\n")

        def stored() -> bool:
            store = Store(sqlite_url, migrate=False)
            try:
                return any("after-usr1" in e.text for e in store.events())
            finally:
                store.close()

        assert wait_for(stored, timeout=20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert "stopping: storing what was taken in for up to 10 s" in log.read_text()
    finally:
        proc.kill()


def test_status_says_what_the_journal_holds_and_when_it_refuses(sqlite_url: str) -> None:
    """The consumer not running (as in a store outage): `hamon status` shows the journal's backlog
    in bytes and, once it is full, that new datagrams are dropped."""
    store = Store(sqlite_url)
    service = Service(ServeConfig(syslog_udp=["127.0.0.1:0"], journal_max_bytes=1 << 16), store)
    service.start()
    try:
        port = service.listeners()[0]["port"]
        pad = " " * 900 + "."
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(10):
                s.sendto(f"<166>%ASA-1-105008: (Primary) Testing Interface i{i}{pad}".encode(), ("127.0.0.1", port))
            assert service.journal is not None
            wait_for(lambda: service.journal is not None and service.journal.held >= 9_000)
            service.write_status()
            held = service.journal.held
            said = CliRunner().invoke(main, ["--db", sqlite_url, "status"]).output
            assert f"{held:,} bytes waiting to be stored" in " ".join(said.split())
            for i in range(100):
                s.sendto(f"<166>%ASA-1-105008: (Primary) Testing Interface j{i}{pad}".encode(), ("127.0.0.1", port))
                if i % 20 == 19:
                    time.sleep(0.05)
            wait_for(lambda: service.journal is not None and service.journal.refused > 0)
            service.write_status()
            said = " ".join(CliRunner().invoke(main, ["--db", sqlite_url, "status"]).output.split())
            assert "batches refused while full" in said and "full: new datagrams dropped" in said
    finally:
        service.shutdown()
    said = " ".join(CliRunner().invoke(main, ["--db", sqlite_url, "status"]).output.split())
    assert "all stored" in said
