"""Notifications to real HTTP receivers on 127.0.0.1: apprise json://, Alertmanager's API, silences,
dedup across runs, rate limiting, and failures that are retried on the next run."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from scenario import S, capture
from test_correlate_alerts import STEADY, _manual

from hamon.cli import main
from hamon.notify.pipeline import AlertmanagerSender, Notice, Pipeline, RateLimit
from hamon.store import Store

EXAMPLE = Path(__file__).parent.parent / "examples" / "asa-pair.log"


class Receiver:
    """A webhook on 127.0.0.1 that keeps what is posted to it and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.authorization: list[str | None] = []  # each post's Authorization header
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append((self.path, json.loads(body)))
                outer.authorization.append(self.headers.get("Authorization"))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def run(*args: str) -> dict[str, Any] | str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_one_message_per_opening_and_resolution_and_never_twice(sqlite_url: str, receiver: Receiver) -> None:
    url = f"json://127.0.0.1:{receiver.port}/hook"
    s = run("--db", sqlite_url, "replay", str(EXAMPLE), "--json", "--notify-history", "--notify", url)
    assert isinstance(s, dict)
    alerts = run("--db", sqlite_url, "alerts", "--json")
    assert isinstance(alerts, list)
    expected = len(alerts) + sum(1 for a in alerts if a["ended_at"])
    assert s["notifications"]["sent"] == expected == len(receiver.posts) == 8
    titles = [body["title"] for _, body in receiver.posts]
    assert "[CRITICAL] fw-edge: unit failed primary" in titles
    assert "[RESOLVED] fw-edge: unit failed primary" in titles
    body = next(b for _, b in receiver.posts if b["title"].startswith("[WARNING] fw-dc: failover"))
    assert "failover group: 1" in body["message"] and body["type"] == "warning"
    # apprise's envelope and the alert's own fields in one body: a receiver can route on fields
    assert body["version"] == "1.0" and body["attachments"] == []
    assert (body["status"], body["pair"], body["kind"], body["group"]) == ("firing", "fw-dc", "failover", 1)
    assert body["alert_id"] in {a["alert_id"] for a in alerts}  # type: ignore[index]
    resolved = next(b for _, b in receiver.posts if b["title"].startswith("[RESOLVED] fw-edge: unit failed"))
    assert resolved["status"] == "resolved" and resolved["type"] == "success" and resolved["ended_at"]
    again = run("--db", sqlite_url, "replay", str(EXAMPLE), "--json", "--notify-history", "--notify", url)
    assert isinstance(again, dict)
    assert again["notifications"]["sent"] == 0 and len(receiver.posts) == 8


def test_silences_mute_a_pair_until_they_expire(sqlite_url: str, receiver: Receiver) -> None:
    sil = run(
        "--db",
        sqlite_url,
        "silence",
        "add",
        "--pair",
        "fw-edge",
        "--for",
        "1h",
        "--comment",
        "upgrade",
        "--force",
        "--json",
    )
    from hamon.store import Store
    from hamon.store.notify import add_silence

    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)  # a silence that expired an hour ago
    add_silence(Store(sqlite_url), None, "split_brain", past, past + dt.timedelta(hours=1), "")
    over = CliRunner().invoke(main, ["--db", sqlite_url, "silence", "add", "--kind", "split_brain", "--for", "0s"])
    assert over.exit_code == 1 and "would end" in over.output  # a silence over at once is a mistake
    assert isinstance(sil, dict)
    listed = run("--db", sqlite_url, "silence", "list", "--json")
    assert [x["id"] for x in listed] == [sil["id"]]  # type: ignore[union-attr, index]
    s = run(
        "--db",
        sqlite_url,
        "replay",
        str(EXAMPLE),
        "--json",
        "--notify-history",
        "--notify",
        f"json://127.0.0.1:{receiver.port}/h",
    )
    assert isinstance(s, dict)
    assert s["notifications"]["silenced"] == 4 and s["notifications"]["sent"] == 4
    assert all("fw-dc" in b["title"] for _, b in receiver.posts)
    run("--db", sqlite_url, "silence", "remove", str(sil["id"]))
    assert run("--db", sqlite_url, "silence", "list", "--json") == []


def test_alertmanager_api_payload(sqlite_url: str, receiver: Receiver) -> None:
    run(
        "--db",
        sqlite_url,
        "replay",
        str(EXAMPLE),
        "--notify-history",
        "--notify",
        f"alertmanager://127.0.0.1:{receiver.port}",
    )
    paths = {p for p, _ in receiver.posts}
    assert paths == {"/api/v2/alerts"}
    items = [item for _, body in receiver.posts for item in body]
    firing = [i for i in items if "endsAt" not in i]
    resolved = [i for i in items if "endsAt" in i]
    assert len(firing) == 4 and len(resolved) == 4
    labels = {i["labels"]["alertname"] for i in firing}
    assert labels == {"hamon_failover", "hamon_unit_failed", "hamon_interface_threshold"}
    f = next(i for i in firing if i["labels"]["pair"] == "fw-dc" and i["labels"]["kind"] == "failover")
    assert f["labels"]["failover_group"] == "1" and f["labels"]["severity"] == "warning"
    assert f["startsAt"] == "2026-11-25T10:03:16Z" and f["annotations"]["alert_id"]


def test_alertmanager_with_a_user_and_password_gets_basic_authentication(sqlite_url: str, receiver: Receiver) -> None:
    import base64

    run("--db", sqlite_url, "replay", str(EXAMPLE), "--notify-history", "--notify",
        f"alertmanager://ops:am%20pw@127.0.0.1:{receiver.port}/am")  # fmt: skip
    assert {p for p, _ in receiver.posts} == {"/am/api/v2/alerts"} and len(receiver.posts) >= 1
    assert set(receiver.authorization) == {"Basic " + base64.b64encode(b"ops:am pw").decode()}


def test_a_failed_target_is_reported_and_retried_next_time(sqlite_url: str, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    url = f"json://127.0.0.1:{port}/hook"
    result = CliRunner().invoke(
        main, ["--db", sqlite_url, "replay", str(EXAMPLE), "--json", "--notify-history", "--notify", url]
    )
    assert result.exit_code == 3  # stored, but not delivered
    first = json.loads(result.stdout)
    assert first["notifications"]["failed"] == 8 and first["notifications"]["errors"]
    r = Receiver.__new__(Receiver)
    Receiver.__init__(r)
    try:
        again = run(
            "--db",
            sqlite_url,
            "replay",
            str(EXAMPLE),
            "--json",
            "--notify-history",
            "--notify",
            f"json://127.0.0.1:{r.port}/hook",
        )
        # the same alerts, correlated again: they were never sent, so they go now
        assert isinstance(again, dict) and again["notifications"]["sent"] == 8 == len(r.posts)
    finally:
        r.close()


def test_rate_limit_per_pair_and_kind(sqlite_url: str, tmp_path: Path, receiver: Receiver) -> None:
    lines = STEADY + _manual(100, "secondary") + _manual(200, "primary") + _manual(300, "secondary")
    lines += _manual(400, "primary") + [S(2000, 105008, "Testing Interface inside")]
    cap = tmp_path / "flap.log"
    cap.write_text(capture(lines))
    run("--db", sqlite_url, "replay", str(cap), "--no-progress")
    store = Store(sqlite_url)
    from hamon.notify.pipeline import notices_for
    from hamon.store import outputs

    ids = [a["alert_id"] for a in outputs.alert_list(store)]
    notices = [n for n in notices_for(store, ids) if n.kind == "failover"]
    assert len(notices) == 10  # 5 failovers, each opened and resolved
    clock = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

    class Collect:
        target = "collect"

        def __init__(self) -> None:
            self.got: list[Notice] = []

        def send(self, ns: Any) -> tuple[bool, bool, str]:
            self.got += list(ns)
            return True, False, ""

    sink = Collect()
    report = Pipeline(store, [sink], clock=lambda: clock, rate=RateLimit(burst=4, window=600)).process(notices)
    assert (report.sent, report.rate_limited) == (4, 6) and len(sink.got) == 4


def test_alertmanager_payload_shape() -> None:
    t0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    n = Notice("a1", "resolved", "fw", "split_brain", "critical", 2, None, t0, t0 + dt.timedelta(seconds=42), "both")
    (item,) = AlertmanagerSender("alertmanager://127.0.0.1:9093", external_url="https://grafana.example/").payload([n])
    assert item["labels"] == {
        "alertname": "hamon_split_brain",
        "pair": "fw",
        "kind": "split_brain",
        "severity": "critical",
        "source": "hamon",
        "failover_group": "2",
    }
    assert (item["startsAt"], item["endsAt"]) == ("2026-11-25T10:00:00Z", "2026-11-25T10:00:42Z")
    assert item["generatorURL"] == "https://grafana.example/d/hamon-pair?var-pair=fw"
    assert item["annotations"]["summary"] == "[RESOLVED] fw: split brain group 2"


def test_secrets_in_target_urls_are_never_printed_or_stored(sqlite_url: str, receiver: Receiver) -> None:
    ok = f"json://hamon:s3cretpw@127.0.0.1:{receiver.port}/hook"
    refused = "json://hamon:0therpw@127.0.0.1:1/hook"  # nothing listens on port 1
    am = "alertmanager://ops:am-s3cret@127.0.0.1:1"
    result = CliRunner().invoke(
        main,
        [
            "--db",
            sqlite_url,
            "replay",
            str(EXAMPLE),
            "--notify-history",
            "--notify",
            ok,
            "--notify",
            refused,
            "--notify",
            am,
        ],
    )
    assert receiver.posts  # the good target was sent to
    assert "s3cretpw" not in result.output and "0therpw" not in result.output and "am-s3cret" not in result.output
    assert "json://hamon:****@127.0.0.1:1/hook" in result.output  # the failure names the target, masked
    store = Store(sqlite_url)
    with store.engine.connect() as conn:
        from sqlalchemy import text

        targets = {r[0] for r in conn.execute(text("SELECT DISTINCT target FROM notifications"))}
    store.close()
    assert targets and not any("s3cretpw" in t for t in targets)


def test_replaying_an_archive_pages_nobody_unless_asked(sqlite_url: str, receiver: Receiver) -> None:
    url = f"json://127.0.0.1:{receiver.port}/hook"
    s = run("--db", sqlite_url, "replay", str(EXAMPLE), "--json", "--notify", url)
    assert isinstance(s, dict)
    assert s["notifications"]["sent"] == 0 and s["notifications"]["historical"] == 8 and receiver.posts == []
    # An alert still open and young is current: it pages.
    now = dt.datetime.now(dt.UTC)
    cap = Path(sqlite_url.removeprefix("sqlite:///")).parent / "now.log"
    cap.write_text(f"<161>{now:%b %d %Y %H:%M:%S} fw-now : %ASA-1-105032: LAN Failover interface is down\n")
    s = run("--db", sqlite_url, "replay", str(cap), "--json", "--notify", url)
    assert isinstance(s, dict) and s["notifications"]["sent"] == 1
    assert [b["title"] for _, b in receiver.posts] == ["[CRITICAL] fw-now: failover link down"]


def test_a_replay_whose_notifications_fail_says_why_and_exits_3(sqlite_url: str, tmp_path: Path) -> None:
    import socket

    busy = Receiver(status=503)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens here once the socket is closed
    try:
        for url, why in [
            (f"json://ops:hunter2@127.0.0.1:{closed}/hook", "Connection refused"),
            (f"json://ops:hunter2@127.0.0.1:{busy.port}/hook", "HTTP 503"),
        ]:
            db = f"sqlite:///{tmp_path / (why.replace(' ', '') + '.db')}"
            r = CliRunner().invoke(main, ["--db", db, "replay", str(EXAMPLE), "--no-progress", "--notify-history",
                                          "--notify", url])  # fmt: skip
            assert r.exit_code == 3, r.output
            (line,) = [x for x in r.output.splitlines() if "notification failed" in x]
            assert why in line and "ops:****@127.0.0.1" in line and "hunter2" not in r.output
            assert "not delivered (the replay itself is complete" in r.output
            stored = json.loads(CliRunner().invoke(main, ["--db", db, "events", "--json"]).stdout)
            assert len(stored) == 26  # everything stored all the same
    finally:
        busy.close()


def test_serve_logs_each_alert_and_why_a_notification_did_not_go_out(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hamon", "--db", f"sqlite:///{tmp_path / 's.db'}", "serve", "--syslog-udp",
         "127.0.0.1:0", "--notify", f"json://ops:hunter2@127.0.0.1:{closed}/hook"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if line.startswith("listening: udp"):
                port = int(line.rsplit(":", 1)[1])
        assert port is not None, lines
        now = dt.datetime.now(dt.UTC)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(f"<161>{now:%b %d %Y %H:%M:%S} fw-log : %ASA-1-105032: LAN Failover interface is down".encode(),
                     ("127.0.0.1", port))  # fmt: skip
        while time.monotonic() < deadline + 30 and not any("notification not delivered" in x for x in lines):
            lines.append(proc.stderr.readline())
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=30)[1]
    text = "".join(lines) + rest
    assert "alert opened: critical fw-log failover_link_down: " in text
    (failed,) = [x for x in text.splitlines() if "notification not delivered" in x][:1]
    assert "ops:****@127.0.0.1" in failed and "Connection refused" in failed and "hunter2" not in text


def test_a_page_says_in_one_sentence_what_happened_with_links_runbook_and_the_id(
    sqlite_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "pairs:\n"
        "  - name: fw-edge\n    match: [fw-edge]\n    runbook: https://wiki.example/fw-edge\n"
        "    poll: [192.0.2.10, 192.0.2.11]\n"
        "  - name: fw-dc\n    match: [fw-dc]\n    mode: active-active\n"
    )
    url = f"json://127.0.0.1:{receiver.port}/h"
    r = CliRunner().invoke(main, ["--db", sqlite_url, "--inventory", str(inventory), "replay", str(EXAMPLE),
                                  "--no-progress", "--notify-history", "--notify", url])  # fmt: skip
    assert r.exit_code == 0, r.output
    pages = {b["title"]: b["message"].split("\n") for _, b in receiver.posts}
    failed = pages["[CRITICAL] fw-edge: unit failed primary"]
    listed = run("--db", sqlite_url, "alerts", "--json")
    assert isinstance(listed, list)
    (alert,) = [a for a in listed if a["kind"] == "unit_failed"]
    assert failed[0] == (
        "fw-edge: primary FAILED — secondary active since 10:00:13Z (HELLO not heard from mate, detected in 15s)"
    )
    assert failed[1] == "now: primary standby, secondary active"
    assert failed[2].startswith("started: 2026-11-25T10:00:13Z (") and failed[2].endswith(" ago)")
    assert "runbook: https://wiki.example/fw-edge" in failed and "units: 192.0.2.10, 192.0.2.11" in failed
    assert f"alert: {alert['alert_id']} (acknowledge: hamon alerts ack {alert['alert_id'][:8]})" in failed
    resolved = pages["[RESOLVED] fw-edge: unit failed primary"]
    assert resolved[0] == "fw-edge: RESOLVED after 4m50s — unit failed (primary)"
    assert "ended: 2026-11-25T10:05:03Z" in resolved
    fo = pages["[WARNING] fw-dc: failover secondary group 1"]
    assert fo[0] == (
        "fw-dc: failover group 1 — secondary active since 10:03:16Z (was primary; Other unit wants me Active. "
        "Primary unit switch reason: Interface check, detected in 6s)"
    )
    assert "now: primary standby, secondary active; group 1: secondary active; group 2: active unit unknown" in fo
    assert not any(line.startswith("runbook:") for line in fo), "fw-dc has no runbook: none is made up"


def test_a_recent_alert_already_resolved_in_the_replayed_input_pages_nobody(
    sqlite_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    # Within --notify-within, but over by the end of the input: history, not a page for an open alert.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    down, up = now - dt.timedelta(minutes=10), now - dt.timedelta(minutes=8)
    cap = tmp_path / "recent.log"
    cap.write_text(
        f"<161>{down:%b %d %Y %H:%M:%S} fw-r : %ASA-1-105032: LAN Failover interface is down\n"
        f"<161>{up:%b %d %Y %H:%M:%S} fw-r : %ASA-1-105031: Failover LAN interface is up\n"
    )
    s = run("--db", sqlite_url, "replay", str(cap), "--json", "--notify", f"json://127.0.0.1:{receiver.port}/h")
    assert isinstance(s, dict)
    alerts = run("--db", sqlite_url, "alerts", "--json")
    assert isinstance(alerts, list) and [(a["kind"], a["ended_at"] is not None) for a in alerts] == [
        ("failover_link_down", True)
    ]
    assert s["notifications"]["sent"] == 0 and receiver.posts == []


def test_webhook_targets_get_the_alert_as_structured_json_with_basic_auth(sqlite_url: str, tmp_path: Path) -> None:
    server = Receiver(status=204)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("pairs:\n  - name: fw-edge\n    match: [fw-edge]\n    runbook: https://wiki.example/fw-edge\n")
    try:
        url = f"webhook://noc:s3cret@127.0.0.1:{server.port}/hamon/hook"
        r = CliRunner().invoke(main, ["--db", sqlite_url, "--inventory", str(inventory), "replay", str(EXAMPLE),
                                      "--no-progress", "--notify-history", "--notify", url])  # fmt: skip
        assert r.exit_code == 0, r.output
    finally:
        server.close()
    import base64

    got = [(path, auth, body) for (path, body), auth in zip(server.posts, server.authorization, strict=True)]
    assert {(p, a) for p, a, _ in got} == {("/hamon/hook", "Basic " + base64.b64encode(b"noc:s3cret").decode())}
    bodies = {(b["kind"], b["status"], b["pair"]): b for _, _, b in got}
    failed = bodies[("unit_failed", "firing", "fw-edge")]
    assert failed["summary"].startswith("fw-edge: primary FAILED — secondary active since 10:00:13Z")
    assert failed["links"] == {"runbook": "https://wiki.example/fw-edge"} and failed["unit"] == "primary"
    assert failed["started_at"] == "2026-11-25T10:00:13Z" and failed["ended_at"] is None
    assert len(failed["alert_id"]) == 32 and failed["repeat"] is False
    resolved = bodies[("unit_failed", "resolved", "fw-edge")]
    assert resolved["ended_at"] == "2026-11-25T10:05:03Z" and resolved["alert_id"] == failed["alert_id"]
    assert len(got) == 8  # every opening and resolution of the sample, once
