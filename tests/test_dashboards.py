"""Dashboards: valid against Grafana's schema, reproducible, and every panel query runs on a real
PostgreSQL store filled by `hamon replay`, with Grafana's macros expanded."""

from __future__ import annotations

import copy
import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from scenario import capture
from sqlalchemy import create_engine, text
from test_correlate_alerts import FULL

from hamon.cli import main
from hamon.views import dashboards
from hamon.views.dashboard_preview import expand_macros

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "dashboards" / "schema" / "dashboard.schema.json").read_text())
FROM, TO = "2026-11-24T00:00:00Z", "2026-11-27T00:00:00Z"


def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(SCHEMA)


@pytest.mark.parametrize("uid", sorted(dashboards.build()))
def test_dashboard_is_valid_against_grafanas_schema(uid: str) -> None:
    errors = list(_validator().iter_errors(dashboards.build()[uid]))
    assert not errors, [e.message for e in errors]


def test_the_schema_rejects_broken_dashboards() -> None:
    good = dashboards.fleet()
    unknown = copy.deepcopy(good)
    unknown["panels"][0]["colour"] = "red"
    missing = copy.deepcopy(good)
    del missing["schemaVersion"]
    wrong = copy.deepcopy(good)
    wrong["panels"][0]["gridPos"]["w"] = "wide"
    for broken in (unknown, missing, wrong):
        assert list(_validator().iter_errors(broken))


def test_committed_dashboards_are_the_generated_ones(tmp_path: Path) -> None:
    for p in dashboards.export(tmp_path):
        assert (ROOT / "dashboards" / p.name).read_text() == p.read_text(), "run: hamon dashboards export dashboards/"


def test_provisioning_points_at_the_dashboards_datasource() -> None:
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/hamon.yaml").read_text())["datasources"][0]
    assert ds["uid"] == dashboards.PROVISIONED_UID and ds["type"] == dashboards.DATASOURCE["type"]
    for board in dashboards.build().values():  # every panel reads the variable, whose default is that one
        (var,) = [v for v in board["templating"]["list"] if v["name"] == "datasource"]
        assert var["type"] == "datasource" and var["current"]["value"] == ds["uid"]
        assert var["query"] == ds["type"]
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
        for annotation in board["annotations"]["list"]:
            assert annotation["datasource"]["uid"] == "${datasource}"
    prov = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/hamon.yaml").read_text())["providers"][0]
    assert prov["type"] == "file" and prov["options"]["path"]


def expand(sql: str, pair: str) -> tuple[str, dict[str, Any]]:
    """Grafana's PostgreSQL macros and the pair variable, as Grafana expands them (values bound)."""
    sql, params = expand_macros(sql, dt.datetime.fromisoformat(FROM), dt.datetime.fromisoformat(TO), pair)
    assert "$" not in sql and (not pair or f"'{pair}'" not in sql), sql
    return sql, params


def _panels() -> list[tuple[str, dict[str, Any]]]:
    return [(uid, p) for uid, d in sorted(dashboards.build().items()) for p in d["panels"] if p["type"] != "row"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from conftest import postgres_admin_url

    admin = postgres_admin_url()
    if not admin:
        pytest.skip("no PostgreSQL: set HAMON_TEST_POSTGRES")
    import uuid

    from sqlalchemy.engine import make_url

    name = f"hamon_dash_{uuid.uuid4().hex[:10]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    tmp = tmp_path_factory.mktemp("dash")
    full = tmp / "full.log"
    full.write_text(capture(FULL))
    for cap in (ROOT / "examples" / "asa-pair.log", full):
        result = CliRunner().invoke(main, ["--db", url, "replay", str(cap), "--no-progress"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    # A pair a running service heard, fallen silent 40 minutes ago (the replayed pairs are history).
    from test_pair_silent import heard

    from hamon.service.silent import SilenceWatch
    from hamon.store import Store

    store = Store(url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    last = now - dt.timedelta(minutes=40)
    heard(store, "fw-quiet", "192.0.2.99", [last - dt.timedelta(seconds=15 * i) for i in range(100, -1, -1)])
    assert [o.pair for o in SilenceWatch(store).check(now)] == ["fw-quiet"]
    store.close()
    yield url
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
@pytest.mark.parametrize(("uid", "panel"), _panels(), ids=[f"{u}:{p['title']}" for u, p in _panels()])
def test_every_panel_query_runs_and_returns_what_its_panel_needs(filled: str, uid: str, panel: dict[str, Any]) -> None:
    engine = create_engine(filled)
    for pair in ("fw-edge", "fw-dc", "fw") if uid == "hamon-pair" else ("",):
        for target in panel["targets"]:
            with engine.connect() as conn:
                sql, params = expand(target["rawSql"], pair)
                result = conn.execute(text(sql), params)
                cols, rows = list(result.keys()), result.fetchall()
            kind = panel["type"]
            if kind in ("timeseries", "state-timeline") or target["format"] == "time_series":
                assert cols[0] == "time", (panel["title"], cols)
            if kind in ("timeseries", "stat", "bargauge", "histogram"):
                numeric = [
                    i
                    for i, _ in enumerate(cols)
                    if any(isinstance(r[i], int | float) or hasattr(r[i], "as_integer_ratio") for r in rows)
                ]
                assert numeric or kind == "stat", (panel["title"], cols, rows[:3])
            assert rows, f"{uid} / {panel['title']} / {pair}: no rows on a store with data"
    engine.dispose()


@pytest.mark.postgres
def test_the_pair_variable_query_lists_the_pairs(filled: str) -> None:
    q = dashboards.PAIR_VARIABLE["query"]
    with create_engine(filled).connect() as conn:
        assert [r[0] for r in conn.execute(text(q))] == ["fw", "fw-dc", "fw-edge"]


class FakeGrafana:
    """Grafana's HTTP API as far as `push` uses it (a device-side simulator, on 127.0.0.1)."""

    def __init__(self, token: str) -> None:
        self.folders: list[dict[str, Any]] = []
        self.dashboards: dict[str, dict[str, Any]] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self._reply(401, {"message": "Unauthorized"})
                    return False
                return True

            def do_GET(self) -> None:
                if self._authorised() and self.path.startswith("/api/folders"):
                    self._reply(200, outer.folders)

            def do_POST(self) -> None:
                if not self._authorised():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if self.path == "/api/folders":
                    folder = {"uid": body.get("uid", "f1"), "title": body["title"], "id": len(outer.folders) + 1}
                    outer.folders.append(folder)
                    self._reply(200, folder)
                elif self.path == "/api/dashboards/db":
                    outer.dashboards[body["dashboard"]["uid"]] = body
                    self._reply(200, {"status": "success", "uid": body["dashboard"]["uid"]})
                else:
                    self._reply(404, {"message": "not found"})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_push_creates_the_folder_and_every_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    grafana = FakeGrafana("s3cret")
    try:
        monkeypatch.setenv("GRAFANA_TOKEN", "s3cret")
        result = CliRunner().invoke(main, ["dashboards", "push", "--url", grafana.url, "--json"])
        assert result.exit_code == 0, result.output
        assert sorted(json.loads(result.stdout)) == sorted(dashboards.build())
        assert [f["title"] for f in grafana.folders] == ["hamon"]
        assert set(grafana.dashboards) == set(dashboards.build())
        assert all(d["overwrite"] and d["folderUid"] == "hamon" for d in grafana.dashboards.values())
        again = CliRunner().invoke(main, ["dashboards", "push", "--url", grafana.url])
        assert again.exit_code == 0 and len(grafana.folders) == 1  # the folder is reused
        monkeypatch.setenv("GRAFANA_TOKEN", "wrong")
        denied = CliRunner().invoke(main, ["dashboards", "push", "--url", grafana.url])
        assert denied.exit_code == 1 and "pushing dashboards" in denied.stderr and "Traceback" not in denied.stderr
        monkeypatch.delenv("GRAFANA_TOKEN")
        missing = CliRunner().invoke(main, ["dashboards", "push", "--url", grafana.url])
        assert missing.exit_code == 1 and "set GRAFANA_TOKEN" in missing.stderr
    finally:
        grafana.server.shutdown()


@pytest.mark.postgres
def test_preview_draws_every_dashboard_from_its_queries(filled: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--db", filled, "dashboards", "preview", str(tmp_path), "--pair", "fw-edge", "--json"]
    )
    assert result.exit_code == 0, result.output
    paths = [Path(p) for p in json.loads(result.stdout)]
    assert sorted(p.name for p in paths) == ["hamon-alerts.png", "hamon-fleet.png", "hamon-pair.png"]
    for p in paths:
        header = p.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(header[16:20], "big") == 1440
    # What the preview draws is what the panels' queries return.
    from hamon.store import Store
    from hamon.store.outputs import pair_list
    from hamon.views.dashboard_preview import run_panels

    store = Store(filled)
    data = run_panels(store, dashboards.fleet(), dt.datetime.fromisoformat(FROM), dt.datetime.fromisoformat(TO), "")
    pairs = len(pair_list(store))
    store.close()
    assert next(d for d in data if d.panel["title"] == "Pairs").rows[0][0] == pairs > 0


def test_a_hostile_pair_name_is_a_bound_value_not_sql(filled: str) -> None:
    from hamon.store import Store
    from hamon.views.dashboard_preview import run_panels

    store = Store(filled)
    hostile = "x'; DROP TABLE events; --"
    data = run_panels(
        store, dashboards.pair_detail(), dt.datetime.fromisoformat(FROM), dt.datetime.fromisoformat(TO), hostile
    )
    assert all(not d.rows or d.panel["type"] == "stat" for d in data)  # nothing of a pair by that name
    assert store.pairs()  # the events table is still there
    store.close()


def test_preview_needs_postgresql(sqlite_url: str, tmp_path: Path) -> None:
    log = ROOT / "examples" / "asa-pair.log"
    assert CliRunner().invoke(main, ["--db", sqlite_url, "replay", str(log), "--no-progress"]).exit_code == 0
    result = CliRunner().invoke(main, ["--db", sqlite_url, "dashboards", "preview", str(tmp_path)])
    assert result.exit_code != 0 and "PostgreSQL" in result.output


def test_panel_sql_is_written_against_the_schema() -> None:
    from hamon.store.grafana import sql

    assert sql("SELECT {alerts.ended_at} FROM {alerts}") == "SELECT ended_at FROM alerts"
    with pytest.raises(AttributeError, match="table alerts has no column 'closed_at'"):
        sql("SELECT {alerts.closed_at} FROM {alerts}")
    with pytest.raises(KeyError):
        sql("SELECT 1 FROM {alert}")


def test_the_pair_state_panel_shows_where_a_unit_ended_in_one_instant(postgres_url: str, tmp_path: Path) -> None:
    from scenario import P, S, capture

    from hamon.store import Store
    from hamon.views.dashboard_preview import run_panels

    log = tmp_path / "instant.log"
    log.write_text(
        capture(
            [
                P(0, 104001, "Switching to ACTIVE - Set by the config command."),
                S(60, 104002, "Switching to STANDBY - Other unit wants me Standby."),
                S(60, 104003, "Switching to FAILED."),
            ],
            host="fw-i",
        )
    )
    assert CliRunner().invoke(main, ["--db", postgres_url, "replay", str(log), "--no-progress"]).exit_code == 0
    store = Store(postgres_url)
    start, end = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)
    (states,) = [d for d in run_panels(store, dashboards.pair_detail(), start, end, "fw-i") if d.panel["id"] == 1]
    store.close()
    secondary = states.columns.index("secondary")
    at_60 = [row for row in states.rows if row[0] == dt.datetime(2026, 11, 25, 10, 1, tzinfo=dt.UTC)]
    assert [row[secondary] for row in at_60] == ["failed"]  # unknown → standby → failed: it ended failed


@pytest.mark.postgres
def test_the_silent_pairs_panel_lists_what_pair_silent_says(filled: str) -> None:
    from hamon.store import Store
    from hamon.store.outputs import alert_list
    from hamon.views.dashboard_preview import run_panels

    store = Store(filled)
    data = run_panels(store, dashboards.fleet(), dt.datetime.fromisoformat(FROM), dt.datetime.fromisoformat(TO), "")
    (alert,) = alert_list(store, kind="pair_silent")
    store.close()
    panel = next(d for d in data if d.panel["title"] == "Silent pairs")
    assert [r[0] for r in panel.rows] == ["fw-quiet"]  # not the pairs of the replayed captures
    _pair, since, silent_for, detail = panel.rows[0]
    assert since.replace(tzinfo=dt.UTC) == dt.datetime.fromisoformat(alert["started_at"])
    assert 40 * 60 <= silent_for < 45 * 60 and detail == alert["detail"]


def test_every_table_with_a_pair_column_links_to_that_pairs_dashboard() -> None:
    boards = dashboards.build()
    pair_uid = dashboards.pair_detail()["uid"]
    linked = []
    for board in boards.values():
        for panel in board["panels"]:
            if panel["type"] != "table" or " pair" not in panel["targets"][0]["rawSql"].split("FROM")[0] + " ":
                continue
            overrides = panel["fieldConfig"]["overrides"]
            links = [p["value"] for o in overrides if o["matcher"]["options"] == "pair" for p in o["properties"]]
            assert links, (board["uid"], panel["title"])
            (link,) = links[0]
            assert link["url"].startswith(f"/d/{pair_uid}?var-pair=${{__value.raw}}")
            assert "var-datasource=${datasource}" in link["url"] and "${__url_time_range}" in link["url"]
            linked.append(panel["title"])
    assert {"Pairs: active unit per pair and group, worst open alert first", "Silent pairs", "Open alerts"} <= set(
        linked
    )
    assert {"Recent alerts", "Failovers", "Evidence events"} <= set(linked)


def _run(filled: str, sql: str, pairs: str | list[str]) -> tuple[list[str], list[Any]]:
    engine = create_engine(filled)
    try:
        with engine.connect() as conn:
            q, params = expand_macros(sql, dt.datetime.fromisoformat(FROM), dt.datetime.fromisoformat(TO), pairs)
            result = conn.execute(text(q), params)
            return list(result.keys()), result.fetchall()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_failover_annotations_come_from_postgresql(filled: str) -> None:
    from hamon.store import Store
    from hamon.store.outputs import failover_list

    store = Store(filled)
    fos = failover_list(store)
    store.close()
    (fleet,) = dashboards.fleet()["annotations"]["list"]
    cols, rows = _run(filled, fleet["target"]["rawSql"], "")
    assert cols == ["time", "text", "tags"] and len(rows) == len(fos) > 0
    edge = next(r for r in rows if r[1].startswith("fw-edge:"))
    assert edge[1] == "fw-edge: failover to secondary — peer_unreachable, detected in 15.0 s"
    assert edge[2] == "fw-edge,secondary,peer_unreachable"
    (pair,) = dashboards.pair_detail()["annotations"]["list"]
    _, rows = _run(filled, pair["target"]["rawSql"], ["fw-dc"])
    assert [r[1] for r in rows] == [
        "fw-dc: failover to secondary (group 1) — interface_failure, detected in 6.0 s"
    ]  # only the selected pair's


@pytest.mark.postgres
def test_the_fleet_table_puts_the_worst_open_alert_first(filled: str) -> None:
    from hamon.store import Store
    from hamon.store.outputs import alert_list, pair_list

    panel = next(p for p in dashboards.fleet()["panels"] if p["title"].startswith("Pairs: active unit"))
    cols, rows = _run(filled, panel["targets"][0]["rawSql"], "")
    store = Store(filled)
    open_alerts = alert_list(store, open_only=True)
    pairs = [p["pair"] for p in pair_list(store)]
    store.close()
    rank = {"critical": 0, "warning": 1, "info": 2, "ok": 3}
    got = {r[cols.index("pair")]: (r[cols.index("worst_open_alert")], r[cols.index("open_alerts")]) for r in rows}
    for p in pairs:
        mine = [a["severity"] for a in open_alerts if a["pair"] == p]
        worst = min(mine, key=rank.__getitem__) if mine else "ok"
        assert got[p] == (worst, len(mine)), p
    order = [rank[r[cols.index("worst_open_alert")]] for r in rows]
    assert order == sorted(order) and order[0] < 3  # someone has an open alert in this store
    coloured = {
        o["matcher"]["options"]
        for o in panel["fieldConfig"]["overrides"]
        if any(p["id"] == "custom.cellOptions" for p in o["properties"])
    }
    assert {"worst_open_alert", "primary_unit", "secondary_unit", "failover_link", "state_link"} <= coloured
    words = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert words["failed"]["color"] == "red" and words["critical"]["color"] == "red" and words["up"]["color"] == "green"


@pytest.mark.postgres
def test_pair_dashboard_takes_several_pairs(filled: str) -> None:
    board = dashboards.pair_detail()
    var = next(v for v in board["templating"]["list"] if v["name"] == "pair")
    assert var["multi"] is True
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert rows[0]["repeat"] == "pair" and "repeat" not in rows[1]
    # the repeated row's panels are one pair's (Grafana gives each copy one value)
    per_pair = [p for p in board["panels"] if p["type"] != "row" and p["gridPos"]["y"] < rows[1]["gridPos"]["y"]]
    assert {p["title"] for p in per_pair} == {
        "Unit and group states: $pair",
        "Failover link",
        "State link",
        "Open alerts",
    }
    failovers = next(p for p in board["panels"] if p["title"] == "Failovers")
    cols, got = _run(filled, failovers["targets"][0]["rawSql"], ["fw-edge", "fw-dc"])
    assert sorted(r[cols.index("pair")] for r in got) == ["fw-dc", "fw-edge"]
    link = next(p for p in per_pair if p["title"] == "State link")
    _, got = _run(filled, link["targets"][0]["rawSql"], ["fw-edge"])
    assert got == [("up",)]
    assert link["options"]["reduceOptions"]["fields"] == "/.*/"  # a word, not a number, is shown
    assert link["options"]["colorMode"] == "background"
    detection = next(p for p in board["panels"] if p["title"] == "Detection time")
    d = detection["fieldConfig"]["defaults"]
    assert d["unit"] == "s" and d["thresholds"]["steps"][1] == {"color": "red", "value": 15}


def test_a_single_valued_pair_variable_is_refused_in_panel_sql() -> None:
    with pytest.raises(ValueError, match=r"IN \(\$pair\)"):
        expand_macros("SELECT 1 WHERE pair = '$pair'", dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC), "x")
