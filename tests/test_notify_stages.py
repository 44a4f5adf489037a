"""Each notification stage alone, with an injected clock (and sleep): silence, dedup, rate limit,
send with retry — over a real store and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hamon.notify.pipeline import (
    AlertmanagerSender,
    DedupStage,
    Delivery,
    Notice,
    RateLimit,
    Report,
    SendStage,
    SilenceStage,
)
from hamon.store import Store
from hamon.store.notify import add_silence, log_notification
from hamon.store.outputs import alert_list

T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def notice(pair: str = "fw-edge", kind: str = "unit_failed", alert_id: str = "a" * 32) -> Notice:
    return Notice(alert_id, "firing", pair, kind, "critical", None, "primary", T0, None, "primary unit failed")


class Flaky:
    """An Alertmanager-like receiver answering 503 to the first `fail` posts, then 200."""

    def __init__(self, fail: int, status: int = 503) -> None:
        self.posts: list[Any] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status if len(outer.posts) <= fail else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"alertmanager://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()


def test_silence_stage_mutes_until_the_silence_expires(store: Store) -> None:
    add_silence(store, "fw-edge", None, T0, T0 + dt.timedelta(hours=1), "maintenance")
    stage, report = SilenceStage(store), Report()
    sender = AlertmanagerSender("alertmanager://127.0.0.1:9")
    during = stage.exec([Delivery(notice(), [sender]), Delivery(notice("fw-dc"), [sender])], T0, report)
    assert [d.notice.pair for d in during] == ["fw-dc"] and report.silenced == 1
    after = stage.exec([Delivery(notice(), [sender])], T0 + dt.timedelta(hours=2), report)
    assert len(after) == 1 and report.silenced == 1


def test_dedup_stage_drops_targets_already_sent_to(store: Store) -> None:
    a, b = AlertmanagerSender("alertmanager://127.0.0.1:9"), AlertmanagerSender("alertmanager://127.0.0.1:10")
    log_notification(store, "a" * 32, "firing", a.target, T0)
    report = Report()
    (left,) = DedupStage(store).exec([Delivery(notice(), [a, b])], T0, report)
    assert [s.target for s in left.targets] == [b.target]
    assert DedupStage(store).exec([Delivery(notice(), [a])], T0, report) == [] and report.duplicates == 1


def test_rate_limit_stage_follows_the_injected_clock() -> None:
    stage, report = RateLimit(burst=2, window=60.0), Report()
    sender = AlertmanagerSender("alertmanager://127.0.0.1:9")
    kept = [len(stage.exec([Delivery(notice(alert_id=f"{i:032x}"), [sender])], T0, report)) for i in range(3)]
    assert kept == [1, 1, 0] and report.rate_limited == 1
    later = T0 + dt.timedelta(seconds=61)
    assert len(stage.exec([Delivery(notice(alert_id="f" * 32), [sender])], later, report)) == 1


def test_send_stage_retries_recoverable_failures_with_backoff(store: Store) -> None:
    receiver, slept = Flaky(fail=2), []
    stage = SendStage(store, retries=2, backoff=0.5, sleep=slept.append)
    report = Report()
    stage.exec([Delivery(notice(), [AlertmanagerSender(receiver.url)])], T0, report)
    assert (report.sent, report.failed, slept, len(receiver.posts)) == (1, 0, [0.5, 1.0], 3)
    receiver.server.shutdown()


def test_send_stage_does_not_retry_what_retrying_cannot_mend(store: Store) -> None:
    receiver, slept = Flaky(fail=5, status=400), []
    report = Report()
    SendStage(store, retries=2, backoff=0.5, sleep=slept.append).exec(
        [Delivery(notice(), [AlertmanagerSender(receiver.url)])], T0, report
    )
    assert (report.sent, report.failed, slept, len(receiver.posts)) == (0, 1, [], 1)
    assert "HTTP 400" in report.errors[0]
    receiver.server.shutdown()


def test_the_worker_retries_what_did_not_go_out_with_backoff(store: Store, sqlite_url: str) -> None:
    from scenario import P, capture

    from hamon.bus.counters import Counters
    from hamon.notify.pipeline import Pipeline
    from hamon.notify.worker import NotifyWorker

    log_file = Path(store.url.removeprefix("sqlite:///")).parent / "one.log"
    log_file.write_text(capture([P(0, 105032, "LAN Failover interface is down")], host="fw-r"))
    from click.testing import CliRunner

    from hamon.cli import main

    assert CliRunner().invoke(main, ["--db", sqlite_url, "replay", str(log_file), "--no-progress"]).exit_code == 0
    (alert_id,) = [a["alert_id"] for a in alert_list(store)]
    receiver = Flaky(fail=1, status=400)  # refuses once, then takes it
    now = [0.0]
    worker = NotifyWorker(store, Pipeline(store, [AlertmanagerSender(receiver.url)]), Counters(), clock=lambda: now[0])
    worker.step([alert_id])
    assert alert_id in worker.pending and worker.pending[alert_id].due == 5.0
    now[0] = 4.0
    worker.step([])
    assert len(receiver.posts) == 1  # not due yet
    now[0] = 5.0
    worker.step([])
    assert len(receiver.posts) == 2 and worker.pending == {}
    receiver.server.shutdown()


def test_a_critical_alert_still_open_is_told_again_every_repeat_interval(store: Store, sqlite_url: str) -> None:
    from click.testing import CliRunner
    from test_notify import Receiver

    from hamon.bus.counters import Counters
    from hamon.cli import main
    from hamon.notify.pipeline import Pipeline, sender
    from hamon.notify.worker import NotifyWorker

    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=9)
    log_file = Path(store.url.removeprefix("sqlite:///")).parent / "open.log"
    log_file.write_text(f"<161>{started:%b %d %Y %H:%M:%S} fw-o : %ASA-1-105032: LAN Failover interface is down\n")
    assert CliRunner().invoke(main, ["--db", sqlite_url, "replay", str(log_file), "--no-progress"]).exit_code == 0
    receiver = Receiver()
    now = [0.0]
    worker = NotifyWorker(
        store, Pipeline(store, [sender(f"json://127.0.0.1:{receiver.port}/hook")]), Counters(), clock=lambda: now[0]
    )
    now[0] = 61.0
    worker.step([])  # 9 h open, every 4 h: told again as the 2nd period's repeat
    now[0] = 122.0
    worker.step([])  # the same period: not again
    receiver.close()
    titles = [body["title"] for _, body in receiver.posts]
    assert titles == ["[CRITICAL] fw-o: failover link down (still open)"]


def test_an_acknowledged_alert_is_not_told_again_and_the_ack_outlives_a_rerun(store: Store, sqlite_url: str) -> None:
    from click.testing import CliRunner
    from test_notify import Receiver

    from hamon.bus.counters import Counters
    from hamon.cli import main
    from hamon.notify.pipeline import Pipeline, sender
    from hamon.notify.worker import NotifyWorker

    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=9)
    log_file = Path(store.url.removeprefix("sqlite:///")).parent / "open.log"
    log_file.write_text(f"<161>{started:%b %d %Y %H:%M:%S} fw-o : %ASA-1-105032: LAN Failover interface is down\n")
    run = CliRunner(env={"HAMON_USER": "ana"}).invoke
    assert run(main, ["--db", sqlite_url, "replay", str(log_file), "--no-progress"]).exit_code == 0
    (alert,) = alert_list(store)
    assert alert["ack"] is None
    r = run(main, ["--db", sqlite_url, "alerts", "ack", alert["alert_id"][:8], "--comment", "on it, ticket 4711"])
    assert r.exit_code == 0, r.output
    assert f"acknowledged {alert['alert_id'][:8]}: fw-o failover_link_down (open) by ana@" in r.output
    # The correlator re-runs the pair from scratch (its alert rows rewritten): the ack stays.
    assert run(main, ["--db", sqlite_url, "correlate"]).exit_code == 0
    listed = json.loads(run(main, ["--db", sqlite_url, "alerts", "--json"]).stdout)
    assert listed[0]["alert_id"] == alert["alert_id"]
    assert listed[0]["ack"]["by"].startswith("ana@") and listed[0]["ack"]["comment"] == "on it, ticket 4711"
    receiver = Receiver()
    now = [0.0]
    worker = NotifyWorker(
        store, Pipeline(store, [sender(f"json://127.0.0.1:{receiver.port}/hook")]), Counters(), clock=lambda: now[0]
    )
    now[0] = 61.0
    worker.step([])  # 9 h open and critical: would be told again, but someone is on it
    receiver.close()
    assert receiver.posts == []
    table = run(main, ["--db", sqlite_url, "alerts"]).stdout
    assert alert["alert_id"][:8] in table and "ana@" in table
    assert "  open 9h00m  " in table  # how long it has been open, in words a person reads at a glance


def test_ack_takes_an_unambiguous_id_prefix_and_says_what_is_wrong_otherwise(store: Store, sqlite_url: str) -> None:
    from click.testing import CliRunner

    from hamon.cli import main

    example = Path(__file__).resolve().parent.parent / "examples" / "asa-pair.log"
    run = CliRunner().invoke
    assert run(main, ["--db", sqlite_url, "replay", str(example), "--no-progress"]).exit_code == 0
    for bad, says in [("zz", "not an alert id"), ("abc", "not an alert id"), ("0" * 32, "no alert")]:
        r = run(main, ["--db", sqlite_url, "alerts", "ack", bad])
        assert r.exit_code != 0 and says in r.output, r.output
    ids = [a["alert_id"] for a in alert_list(store)]
    assert all(run(main, ["--db", sqlite_url, "alerts", "ack", i]).exit_code == 0 for i in ids)
    assert all(a["ack"] is not None for a in alert_list(store))


def test_a_maintenance_window_mutes_only_while_it_lasts_and_stays_listed(store: Store, sqlite_url: str) -> None:
    from click.testing import CliRunner

    from hamon.cli import main
    from hamon.notify.pipeline import SilenceStage
    from hamon.store.notify import silence_list

    example = Path(__file__).resolve().parent.parent / "examples" / "asa-pair.log"
    run = CliRunner(env={"HAMON_USER": "noc"}).invoke
    assert run(main, ["--db", sqlite_url, "replay", str(example), "--no-progress"]).exit_code == 0
    r = run(main, ["--db", sqlite_url, "silence", "add", "--pair", "fw-edge", "--start", "+2h", "--end", "+4h",
                   "--comment", "change 42", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    window = json.loads(r.stdout)
    assert window["state"] == "scheduled" and window["created_by"].startswith("noc@")
    (s,) = silence_list(store)
    now = dt.datetime.now(dt.UTC)
    stage = SilenceStage(store)
    for at, muted in [(now, False), (now + dt.timedelta(hours=3), True), (now + dt.timedelta(hours=5), False)]:
        report = Report()
        left = stage.exec([Delivery(notice(pair="fw-edge"), [])], at, report)
        assert (report.silenced, len(left)) == ((1, 0) if muted else (0, 1)), at
    assert s.state(now) == "scheduled" and s.state(now + dt.timedelta(hours=3)) == "active"
    listed = json.loads(run(main, ["--db", sqlite_url, "silence", "list", "--json"]).stdout)
    assert [x["state"] for x in listed] == ["scheduled"]
    assert run(main, ["--db", sqlite_url, "silence", "remove", str(s.silence_id)]).exit_code == 0
    assert json.loads(run(main, ["--db", sqlite_url, "silence", "list", "--json"]).stdout) == []
    audit = json.loads(run(main, ["--db", sqlite_url, "silence", "list", "--all", "--json"]).stdout)
    assert [(x["id"], x["state"], x["comment"]) for x in audit] == [(s.silence_id, "removed", "change 42")]
    again = run(main, ["--db", sqlite_url, "silence", "remove", str(s.silence_id)])
    assert again.exit_code != 0 and "no silence" in again.output
    for args, says in [
        (["--start", "+2h", "--end", "+1h"], "before it starts"),
        (["--end", "2h"], "in the past"),
        (["--for", "1h", "--end", "+2h"], "not both"),
    ]:
        r = run(main, ["--db", sqlite_url, "silence", "add", "--pair", "fw-edge", *args])
        assert r.exit_code != 0 and says in r.output, (args, r.output)
