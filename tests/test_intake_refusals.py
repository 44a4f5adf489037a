"""What intake refuses, and how it says so: a TLS certificate whose subject borrows an allowed name
with an extra RDN, SNMP traps from an address a pair's `senders:` do not list, fields longer than
the store holds, a batch the database refuses. Real openssl certificates, net-snmp's snmptrap, a real
PostgreSQL; each refusal counted with its reason, and nothing else held up."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import parse_bytes, require, wait_for
from test_serve import LINK_DOWN, Running, _tls_send

from hamon.collectors.syslog_tcp import certificate_names
from hamon.parse.batch import FIELD_LIMITS
from hamon.store import Store
from hamon.store.schema import EVENT_FIELD_TYPES


def test_certificate_names_take_the_subject_cn_only_when_it_is_the_only_one() -> None:
    one = {"subject": ((("countryName", "US"),), (("commonName", "fw-edge"),))}
    assert certificate_names(one) == ("CN=fw-edge",)
    two = {"subject": ((("commonName", "evil"),), (("commonName", "fw-edge"),))}
    assert certificate_names(two) == ()
    multi = {"subject": ((("commonName", "evil"), ("commonName", "fw-edge")),)}  # one multi-valued RDN
    assert certificate_names(multi) == ()
    san = {"subject": ((("commonName", "other"),),), "subjectAltName": (("DNS", "fw-edge"), ("IP Address", "10.0.0.1"))}
    assert certificate_names(san) == ("CN=fw-edge", "CN=10.0.0.1", "CN=other")
    assert certificate_names({"subjectAltName": (("email", "fw-edge"),)}) == ()


def _client_cert(pki: dict[str, Path], name: str, subject: str, ext: str) -> tuple[Path, Path]:
    openssl = require("openssl", "openssl makes the certificates the TLS tests use")
    d = pki["ca.pem"].parent

    def ossl(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    key, csr, pem, extfile = (d / f"{name}.{x}" for x in ("key", "csr", "pem", "ext"))
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key), "-out", str(csr))
    extfile.write_text(ext)
    ossl("x509", "-req", "-in", str(csr), "-CA", str(pki["ca.pem"]), "-CAkey", str(d / "ca.key"),
         "-CAcreateserial", "-days", "2", "-extfile", str(extfile), "-out", str(pem))  # fmt: skip
    return pem, key


def test_a_certificate_with_an_extra_cn_is_refused_and_a_san_name_is_taken(
    sqlite_url: str, pki: dict[str, Path], tmp_path: Path
) -> None:
    evil = _client_cert(pki, "evil", "/CN=evil/CN=fw-edge", "extendedKeyUsage=clientAuth\n")
    san = _client_cert(pki, "san", "/CN=not-the-name", "extendedKeyUsage=clientAuth\nsubjectAltName=DNS:fw-edge\n")
    inv = tmp_path / "inventory.yml"
    inv.write_text("pairs:\n  - name: fw-edge\n    match: [fw-edge]\n    tls_peers: ['CN=fw-edge']\n")
    r = Running(
        sqlite_url,
        inventory=str(inv),
        syslog_tls=["127.0.0.1:0"],
        tls_cert=str(pki["server.pem"]),
        tls_key=str(pki["server.key"]),
        tls_client_ca=str(pki["ca.pem"]),
    )
    try:
        _tls_send(r.port("tls"), pki["ca.pem"], evil, "<166>Nov 25 2026 10:00:00 fw-edge : " + LINK_DOWN)
        _tls_send(r.port("tls"), pki["ca.pem"], san, "<166>Nov 25 2026 10:00:01 fw-edge : " + LINK_DOWN)
        wait_for(lambda: len(r.store.quarantined()) == 1 and len(r.store.events()) == 1, timeout=10)
        (q,) = r.store.quarantined()
        assert q.reason == "127.0.0.1 is not a permitted TLS peer of pair 'fw-edge' (inventory tls_peers:)"
        assert [e.at.second for e in r.store.events()] == [1]  # the SAN certificate's line
    finally:
        r.stop()


def _cufw_trap(port: int, group: str = "1", state: str = "9") -> None:
    entry = "1.3.6.1.4.1.9.9.491.1.4.2.1.1"  # cufwFOGrpStatusEntry
    binds = [f"{entry}.1.{group}", "i", group, f"{entry}.3.{group}", "i", state]
    exe = require("snmptrap", "net-snmp's snmptrap is the real trap sender")
    trap = [exe, "-v2c", "-c", "hamon-ro", f"127.0.0.1:{port}", "", "1.3.6.1.4.1.9.9.491.0.3", *binds]
    subprocess.run(trap, check=True, timeout=10)


@pytest.mark.parametrize(("senders", "stored"), [("['192.0.2.10']", False), ("['127.0.0.0/8']", True)])
def test_cufw_traps_obey_the_pairs_senders(sqlite_url: str, tmp_path: Path, senders: str, stored: bool) -> None:
    inv = tmp_path / "inventory.yml"
    inv.write_text(f"pairs:\n  - name: lab-a\n    match: [127.0.0.1]\n    senders: {senders}\n")
    r = Running(sqlite_url, inventory=str(inv), snmp_trap=["127.0.0.1:0"], snmp_community=["hamon-ro"])
    try:
        _cufw_trap(r.port("snmp"))

        def refused() -> list[dict[str, Any]]:
            return [x for x in r.service.counters.snapshot()["rejected"] if "senders" in x["reason"]]

        if stored:
            events = wait_for(lambda: r.store.events(pair="lab-a"), timeout=10)
            assert [(e.kind, e.my_state) for e in events] == [("ha_state_changed", "active")] and not refused()
        else:
            (why,) = wait_for(refused, timeout=10)
            assert why == {
                "transport": "snmp",
                "source": "127.0.0.1",
                "reason": "sender 127.0.0.1 may not speak for pair 'lab-a' (inventory senders:)",
                "count": 1,
            }
            assert r.store.events() == []
    finally:
        r.stop()


def test_the_parsers_field_limits_are_the_stores_column_widths() -> None:
    assert {f: EVENT_FIELD_TYPES[f].length for f in FIELD_LIMITS} == FIELD_LIMITS  # type: ignore[attr-defined]


def test_a_field_longer_than_the_store_holds_is_quarantined_not_stored() -> None:
    name = "g" * 256
    res, _ = parse_bytes(
        (
            f"<166>fw-a : %ASA-1-105008: (Primary) Testing Interface {name}\n"
            f"<166>fw-a : %ASA-1-105008: (Primary) Testing Interface {name[:255]}\n"
        ).encode()
    )
    assert [e.interface for e in res.events] == [name[:255]]
    (q,) = res.quarantined
    assert q.reason == "malformed: interface longer than 255 characters (256)"
    host = "h" * 300
    res, _ = parse_bytes(f"<166>Nov 25 2026 10:00:00 {host} : {LINK_DOWN}\n".encode())
    assert not res.events and len(res.quarantined) == 1


@pytest.mark.postgres
def test_a_batch_the_database_refuses_is_stored_an_event_at_a_time_and_the_refused_one_quarantined(
    postgres_url: str,
) -> None:
    store = Store(postgres_url)
    store.ensure_schema()
    with store.engine.begin() as conn:  # a rule of the operator's database that one event breaks
        from sqlalchemy import text

        conn.execute(text("ALTER TABLE events ADD CONSTRAINT no_evil CHECK (interface IS NULL OR interface <> 'evil')"))
    r = Running(postgres_url, syslog_udp=["127.0.0.1:0"])
    try:
        import socket

        port = r.port("udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for name in ("inside", "evil", "outside"):
                u.sendto(f"<166>fw-a : %ASA-1-105008: (Primary) Testing Interface {name}".encode(), ("127.0.0.1", port))
        got = wait_for(lambda: len(store.events()) == 2 and store.events(), timeout=15)
        assert sorted(e.interface or "" for e in got) == ["inside", "outside"]
        (q,) = wait_for(lambda: store.quarantined(), timeout=10)
        assert q.reason.startswith("refused by the store: storing events refused by") and "no_evil" in q.reason
        assert b"Testing Interface evil" in q.raw
        assert r.service.outage_since is None and r.thread.is_alive()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:  # and it goes on
            u.sendto(b"<166>fw-a : %ASA-1-105008: (Primary) Testing Interface dmz", ("127.0.0.1", port))
        wait_for(lambda: len(store.events()) == 3, timeout=10)
    finally:
        r.stop()
        store.close()


def test_a_trap_from_a_known_user_with_another_engine_id_is_named_so(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_serve import ENGINE, snmptrap

    monkeypatch.setenv("HAMON_SNMP_AUTH_KEY_ASA_V3", "authpass123")
    monkeypatch.setenv("HAMON_SNMP_PRIV_KEY_ASA_V3", "privpass123")
    r = Running(
        sqlite_url,
        snmp_trap=["127.0.0.1:0"],
        snmp_users=[{"name": "asa-v3", "engine_id": ENGINE, "auth": "SHA", "priv": "AES"}],
    )
    try:
        port = r.port("snmp")
        other = "0x80000000010a0b0c"
        keys = ["-u", "asa-v3", "-l", "authPriv", "-a", "SHA", "-A", "authpass123", "-x", "AES", "-X", "privpass123"]
        snmptrap(port, "-v3", "-e", other, *keys)
        snmptrap(port, "-v3", "-e", ENGINE, *keys[:1], "stranger", *keys[2:])

        def reasons() -> list[str]:
            return sorted(x["reason"] for x in r.service.counters.snapshot()["rejected"])

        assert wait_for(lambda: len(reasons()) == 2 and reasons(), timeout=10) == [
            f"unknown engine id {other} for user asa-v3 (configured: {ENGINE})",
            "unknown user",
        ]
        assert r.store.events() == []
    finally:
        r.stop()


def test_tls_files_that_are_missing_or_wrong_are_named(sqlite_url: str, pki: dict[str, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hamon.cli import main

    def serve(cert: Path, key: Path, ca: Path | None = None) -> str:
        args = [
            "--db",
            sqlite_url,
            "serve",
            "--syslog-tls",
            "127.0.0.1:0",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ]
        result = CliRunner().invoke(main, args + (["--tls-client-ca", str(ca)] if ca else []))
        assert result.exit_code == 1
        return result.stderr

    missing = tmp_path / "nowhere.pem"
    assert f"--tls-cert {missing}: no such file or directory" in serve(missing, pki["server.key"])
    assert f"--tls-key {missing}: no such file or directory" in serve(pki["server.pem"], missing)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert f"--tls-cert {junk} / --tls-key {pki['server.key']}: not a certificate" in serve(junk, pki["server.key"])
    assert f"--tls-client-ca {junk}: not a PEM certificate" in serve(pki["server.pem"], pki["server.key"], junk)


def test_senders_of_unlisted_pairs_beyond_the_cap_are_quarantined_and_counted_under_one_name(
    sqlite_url: str, tmp_path: Path
) -> None:
    """300 invented host names (each a pair of its own) against a cap of 100 unlisted senders: the
    first 100 are tracked, the rest quarantined with the reason and their traffic counted under one
    sender; a pair the inventory lists is never capped."""
    import socket

    inv = tmp_path / "inventory.yml"
    inv.write_text("pairs:\n  - name: fw-listed\n    match: [fw-listed]\n")
    r = Running(sqlite_url, inventory=str(inv), syslog_udp=["127.0.0.1:0"], max_unlisted_senders=100)
    try:
        port = r.port("udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(300):
                s.sendto(f"<166>Dec 07 2026 05:00:00 inv-{i:03d} : %ASA-1-105008: (Primary) Testing Interface a".encode(),
                         ("127.0.0.1", port))  # fmt: skip
                if i % 50 == 49:
                    time.sleep(0.02)
            s.sendto(
                b"<166>Dec 07 2026 05:00:01 fw-listed : %ASA-1-105008: (Primary) Testing Interface b",
                ("127.0.0.1", port),
            )
        wait_for(lambda: len(r.store.events()) + len(r.store.quarantined()) == 301, timeout=20)
        pairs = {e.pair for e in r.store.events()}
        assert "fw-listed" in pairs and len(pairs) == 101
        refused = r.store.quarantined()
        assert len(refused) == 200
        assert all("not in the inventory and 100 unlisted senders are tracked already" in q.reason for q in refused)
        assert len(r.service.parser.unlisted) == 100
    finally:
        r.stop()
    from hamon.parse.batch import BEYOND_CAP

    traffic = {(t["source"], t["pair"]): t["lines"] for t in Store(sqlite_url).sources()}
    assert traffic[(BEYOND_CAP, BEYOND_CAP)] == 200
    assert sum(traffic.values()) == 301  # every line counted once: the tracked under their sender
