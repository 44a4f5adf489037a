"""Grafana dashboards over the hamon schema, generated from Python (one JSON document each).

Fleet overview, pair detail and alerts, on Grafana's built-in PostgreSQL datasource (a `datasource`
variable, `hamon-postgres` by default: the provisioned one), with a `pair` template variable. `hamon dashboards export DIR` writes them;
`hamon dashboards push --url URL` sends them through grafana-client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hamon.store.grafana import sql, table

PROVISIONED_UID = "hamon-postgres"  # the datasource deploy/grafana/provisioning creates
# Every panel reads the `datasource` variable: the provisioned datasource by default, any other
# PostgreSQL datasource holding the hamon schema when the dashboards are imported by hand.
DATASOURCE = {"type": "grafana-postgresql-datasource", "uid": "${datasource}"}
DATASOURCE_VARIABLE = {
    "name": "datasource",
    "label": "Data source",
    "type": "datasource",
    "query": "grafana-postgresql-datasource",
    "current": {"text": "hamon", "value": PROVISIONED_UID},
    "refresh": 1,
    "regex": "",
    "hide": 0,
}
SCHEMA_VERSION = 41
STATE_COLOURS = {
    "active": "green",
    "standby": "blue",
    "syncing": "yellow",
    "failed": "red",
    "disabled": "purple",
    "unknown": "gray",
}


def _target(sql: str, fmt: str = "table", ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "refId": ref,
        "rawQuery": True,
        "editorMode": "code",
        "format": fmt,
        "rawSql": sql,
    }


def _panel(
    pid: int,
    kind: str,
    title: str,
    sql: str,
    grid: tuple[int, int, int, int],
    *,
    fmt: str = "table",
    description: str = "",
    options: dict[str, Any] | None = None,
    field_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [_target(sql, fmt)],
        "options": options or {},
        "fieldConfig": field_config or {"defaults": {}, "overrides": []},
    }


LINK_COLOURS = {"up": "green", "down": "red", "unknown": "gray"}
SEVERITY_COLOURS = {"critical": "red", "warning": "orange", "info": "blue", "ok": "green"}
HOLD_TIME_S = 15  # the chapter's default unit hold time: a detection slower than it is worth a look


def _value_mappings() -> list[dict[str, Any]]:
    """Words to colours: unit states, link states and alert severities, shown as the words."""
    colours = {**STATE_COLOURS, **LINK_COLOURS, **SEVERITY_COLOURS}
    return [{"type": "value", "options": {s: {"color": c, "text": s} for s, c in colours.items()}}]


def _state_mappings() -> dict[str, Any]:
    return {"defaults": {"mappings": _value_mappings(), "color": {"mode": "thresholds"}}, "overrides": []}


def _coloured_cells(field_config: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """These table columns are drawn as coloured cells (their words' colours)."""
    overrides = [
        {
            "matcher": {"id": "byName", "options": c},
            "properties": [{"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}}],
        }
        for c in columns
    ]
    return {**field_config, "overrides": [*field_config.get("overrides", []), *overrides]}


def _text_stat() -> tuple[dict[str, Any], dict[str, Any]]:
    """(options, fieldConfig) of a stat panel that shows a word (a link state) in its colour."""
    options = {
        "reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": "/.*/"},
        "colorMode": "background",
        "textMode": "value",
        "graphMode": "none",
    }
    return options, _state_mappings()


def _red_from(value: float) -> dict[str, Any]:
    """Green below `value`, red from it on (1: a count of open alerts that should be zero)."""
    return {
        "defaults": {
            "color": {"mode": "thresholds"},
            "thresholds": {
                "mode": "absolute",
                "steps": [{"color": "green", "value": None}, {"color": "red", "value": value}],
            },
        },
        "overrides": [],
    }


def _detection_time() -> dict[str, Any]:
    """Seconds, green below the default hold time, red from it on (a line on the histogram)."""
    cfg = _red_from(HOLD_TIME_S)
    cfg["defaults"] |= {"unit": "s", "custom": {"thresholdsStyle": {"mode": "line"}}}
    return cfg


def _seconds(column: str) -> dict[str, Any]:
    """A table column shown as a duration: its values are seconds."""
    return {
        "defaults": {},
        "overrides": [{"matcher": {"id": "byName", "options": column}, "properties": [{"id": "unit", "value": "s"}]}],
    }


PAIR_LINK = {
    "title": "Pair detail: ${__value.raw}",
    "url": "/d/hamon-pair?var-pair=${__value.raw}&var-datasource=${datasource}&${__url_time_range}",
}


def _pair_links(field_config: dict[str, Any]) -> dict[str, Any]:
    """The `pair` column of a table links to that pair's detail dashboard (same data source and range)."""
    override = {"matcher": {"id": "byName", "options": "pair"}, "properties": [{"id": "links", "value": [PAIR_LINK]}]}
    return {**field_config, "overrides": [*field_config.get("overrides", []), override]}


def _dashboard(
    uid: str,
    title: str,
    panels: list[dict[str, Any]],
    *,
    variables: list[dict[str, Any]] | None = None,
    annotations: list[dict[str, Any]] | None = None,
    time_from: str = "now-7d",
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["hamon", "failover"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": [DATASOURCE_VARIABLE, *(variables or [])]},
        "annotations": {"list": annotations or []},
        "links": [
            {
                "title": "hamon",
                "type": "dashboards",
                "tags": ["hamon"],
                "asDropdown": False,
                "icon": "external link",
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "panels": panels,
    }


PAIR_VARIABLE = {
    "name": "pair",
    "label": "Pair",
    "type": "query",
    "datasource": DATASOURCE,
    "query": sql("SELECT {pair_state.pair} FROM {pair_state} ORDER BY {pair_state.pair}"),
    "refresh": 1,
    "sort": 1,
    "multi": True,
    "includeAll": False,
}


def fleet() -> dict[str, Any]:
    """Fleet overview: pairs, active unit per pair and group, open alerts by kind, failovers per day."""
    return _dashboard(
        "hamon-fleet",
        "hamon / Fleet overview",
        [
            _panel(1, "stat", "Pairs", sql("SELECT count(*) AS pairs FROM {pair_state}"), (0, 0, 4, 4)),
            _panel(
                2,
                "stat",
                "Open critical alerts",
                sql(
                    "SELECT count(*) AS open_critical FROM {alerts} WHERE {alerts.ended_at} IS NULL "
                    "AND {alerts.severity} = 'critical'"
                ),
                (4, 0, 4, 4),
                field_config=_red_from(1),
            ),
            _panel(
                3,
                "stat",
                "Failovers in range",
                sql("SELECT count(*) AS failovers FROM {failovers} WHERE $__timeFilter({failovers.at})"),
                (8, 0, 4, 4),
            ),
            _panel(
                4,
                "bargauge",
                "Open alerts by kind",
                sql(
                    "SELECT {alerts.kind}, count(*) AS open FROM {alerts} WHERE {alerts.ended_at} IS NULL "
                    "GROUP BY {alerts.kind} ORDER BY 2 DESC"
                ),
                (12, 0, 12, 8),
                options={"orientation": "horizontal", "reduceOptions": {"values": True, "calcs": []}},
            ),
            _panel(
                5,
                "table",
                "Pairs: active unit per pair and group, worst open alert first",
                sql(
                    "SELECT {pair_state}.{pair_state.pair} AS pair, CASE oa.rank WHEN 0 THEN 'critical' WHEN 1 THEN 'warning' "
                    "WHEN 2 THEN 'info' ELSE 'ok' END AS worst_open_alert, coalesce(oa.n, 0) AS open_alerts, "
                    "{pair_state.mode}, {pair_state.units}::json->>'primary' AS primary_unit, "
                    "{pair_state.units}::json->>'secondary' AS secondary_unit, "
                    "{pair_state.groups}::json->>'1' AS group_1_active, {pair_state.groups}::json->>'2' AS group_2_active, "
                    "{pair_state.failover_link}, {pair_state.state_link}, {pair_state.last_failover_at} "
                    "FROM {pair_state} LEFT JOIN (SELECT {alerts.pair} AS pair, count(*) AS n, "
                    "min(CASE {alerts.severity} WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END) AS rank "
                    "FROM {alerts} WHERE {alerts.ended_at} IS NULL GROUP BY {alerts.pair}) AS oa "
                    "ON oa.pair = {pair_state}.{pair_state.pair} "
                    "ORDER BY coalesce(oa.rank, 3), {pair_state}.{pair_state.pair}"
                ),
                (0, 8, 24, 10),
                field_config=_pair_links(
                    _coloured_cells(
                        _state_mappings(),
                        ("worst_open_alert", "primary_unit", "secondary_unit", "failover_link", "state_link"),
                    )
                ),
                description="Pairs with a critical open alert first, then warning, then the rest; "
                "states and links coloured.",
            ),
            _panel(
                6,
                "timeseries",
                "Failovers per day",
                sql(
                    "SELECT $__timeGroupAlias({failovers.at}, 1d), count(*) AS failovers FROM {failovers} "
                    "WHERE $__timeFilter({failovers.at}) GROUP BY 1 ORDER BY 1"
                ),
                (0, 18, 24, 8),
                fmt="time_series",
                field_config={"defaults": {"custom": {"drawStyle": "bars"}}, "overrides": []},
            ),
            _panel(
                7,
                "table",
                "Silent pairs",
                sql(
                    "SELECT {alerts.pair}, {alerts.started_at} AS silent_since, "
                    "EXTRACT(EPOCH FROM (now() - {alerts.started_at}))::int AS silent_for, {alerts.detail} "
                    "FROM {alerts} WHERE {alerts.kind} = 'pair_silent' AND {alerts.ended_at} IS NULL "
                    "ORDER BY {alerts.started_at}"
                ),
                (0, 26, 24, 6),
                description="Pairs that normally talk and have not been heard for their silent_after (pair_silent).",
                field_config=_pair_links(_seconds("silent_for")),
            ),
        ],
        annotations=[failover_annotation(None)],
    )


def _row(pid: int, title: str, y: int, repeat: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": pid,
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
        "panels": [],
    }
    if repeat:
        row["repeat"] = repeat
    return row


def failover_annotation(pairs: str | None) -> dict[str, Any]:
    """Failovers as annotations from PostgreSQL: a marker at each takeover with who took over and
    why, tagged with the pair, the unit and the cause; on the pair dashboard only the selected pairs."""
    where = "" if pairs is None else f" AND {{failovers.pair}} IN ({pairs})"
    query = sql(
        "SELECT {failovers.at} AS time, {failovers.pair} || ': failover to ' || {failovers.new_active} "
        "|| coalesce(' (group ' || {failovers.grp} || ')', '') || ' — ' || {failovers.cause} "
        "|| coalesce(', detected in ' || round({failovers.detection_s}::numeric, 1) || ' s', '') AS text, "
        "{failovers.pair} || ',' || {failovers.new_active} || ',' || {failovers.cause} AS tags "
        "FROM {failovers} WHERE $__timeFilter({failovers.at})" + where + " ORDER BY {failovers.at}"
    )
    return {
        "name": "Failovers",
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "datasource": DATASOURCE,
        # the query is the data source's own (PostgreSQL's rawSql); limit/matchAny/tags/type are the
        # fields Grafana's built-in annotation source reads, required by the schema, unused here
        "target": {
            "limit": 100,
            "matchAny": False,
            "tags": [],
            "type": "dashboard",
            "refId": "Anno",
            "rawQuery": True,
            "editorMode": "code",
            "format": "table",
            "rawSql": query,
        },
    }


def pair_detail() -> dict[str, Any]:
    """Selected pairs (`pair` is a multi-select): a row per pair repeated by Grafana (unit and group
    states over time, links, open alerts), then detection times, failovers and evidence of them all."""
    t = table("transitions")
    lanes = ", ".join(
        f"max(CASE WHEN {t.unit} = '{u}' AND {t.grp} IS {'NULL' if g is None else f'NOT DISTINCT FROM {g}'} "
        f"THEN {t.to_state} END)"
        f' AS "{u}{"" if g is None else f" g{g}"}"'
        for u in ("primary", "secondary")
        for g in (None, 1, 2)
    )
    # The failover lane changes at every failover to the unit that took over and why (the
    # annotations mark the same instants on every time axis).
    changes = sql(
        "SELECT {transitions.at}, {transitions.unit}, {transitions.grp}, {transitions.to_state}, NULL AS failover "
        "FROM {transitions} WHERE {transitions.pair} IN ($pair) AND {transitions.at} <= $__timeTo() "
        # A unit that goes through several states in one instant (unknown → standby → failed) shows
        # where it ended: the transition no other one of that instant continues from.
        "AND NOT EXISTS (SELECT 1 FROM {transitions} AS later WHERE later.{transitions.pair} = {transitions}.{transitions.pair} "
        "AND later.{transitions.at} = {transitions}.{transitions.at} AND later.{transitions.unit} = {transitions}.{transitions.unit} "
        "AND later.{transitions.grp} IS NOT DISTINCT FROM {transitions}.{transitions.grp} "
        "AND later.{transitions.from_state} = {transitions}.{transitions.to_state} "
        "AND later.{transitions.transition_id} <> {transitions}.{transitions.transition_id}) "
        "UNION ALL SELECT {failovers.at}, NULL, NULL, NULL, 'to ' || {failovers.new_active} "
        "|| coalesce(' (group ' || {failovers.grp} || ')', '') || ': ' "
        "|| {failovers.cause} FROM {failovers} WHERE {failovers.pair} IN ($pair) AND {failovers.at} <= $__timeTo()"
    )
    link_options, link_fields = _text_stat()
    return _dashboard(
        "hamon-pair",
        "hamon / Pair detail",
        [
            _row(100, "$pair", 0, repeat="pair"),
            _panel(
                1,
                "state-timeline",
                "Unit and group states: $pair",
                f"SELECT at AS time, {lanes}, max(failover) AS failover FROM ({changes}) AS changes "
                "GROUP BY at ORDER BY at",
                (0, 1, 24, 9),
                field_config=_state_mappings(),
                options={"mergeValues": True, "showValue": "auto", "alignValue": "left"},
                description="Each unit's state, and each failover group's in Active/Active; the failover lane "
                "changes at every failover.",
            ),
            _panel(
                2,
                "stat",
                "Failover link",
                sql(
                    "SELECT {pair_state.failover_link} AS failover_link FROM {pair_state} "
                    "WHERE {pair_state.pair} IN ($pair)"
                ),
                (0, 10, 4, 4),
                options=link_options,
                field_config=link_fields,
            ),
            _panel(
                3,
                "stat",
                "State link",
                sql(
                    "SELECT {pair_state.state_link} AS state_link FROM {pair_state} WHERE {pair_state.pair} IN ($pair)"
                ),
                (4, 10, 4, 4),
                options=link_options,
                field_config=link_fields,
            ),
            _panel(
                4,
                "stat",
                "Open alerts",
                sql(
                    "SELECT count(*) AS open_alerts FROM {alerts} WHERE {alerts.pair} IN ($pair) "
                    "AND {alerts.ended_at} IS NULL"
                ),
                (8, 10, 4, 4),
                field_config=_red_from(1),
            ),
            _row(101, "All selected pairs", 14),
            _panel(
                5,
                "histogram",
                "Detection time",
                sql(
                    "SELECT {failovers.detection_s} AS detection FROM {failovers} WHERE {failovers.pair} IN ($pair) "
                    "AND {failovers.detection_s} IS NOT NULL AND $__timeFilter({failovers.at})"
                ),
                (0, 15, 12, 8),
                field_config=_detection_time(),
                description=f"Time from the first symptom to the takeover; the red line is the default unit "
                f"hold time ({HOLD_TIME_S} s; a pair's own is in `hamon report`).",
            ),
            _panel(
                6,
                "table",
                "Failovers",
                sql(
                    "SELECT {failovers.at} AS time, {failovers.pair}, {failovers.grp} AS failover_group, "
                    "{failovers.new_active}, {failovers.previous_active}, {failovers.cause}, "
                    "{failovers.detection_s} AS detection, {failovers.cause_text} "
                    "FROM {failovers} WHERE {failovers.pair} IN ($pair) AND $__timeFilter({failovers.at}) "
                    "ORDER BY {failovers.at} DESC"
                ),
                (12, 15, 12, 8),
                field_config=_pair_links(_coloured_cells(_detection_time(), ("detection",))),
            ),
            _panel(
                7,
                "table",
                "Evidence events",
                sql(
                    "SELECT {events.at} AS time, {events.pair}, {events.unit}, {events.grp} AS failover_group, "
                    "{events.msg_id}, {events.kind}, {events.cause}, {events.interface}, {events.text} FROM {events} "
                    "WHERE {events.pair} IN ($pair) AND $__timeFilter({events.at}) ORDER BY {events.at} DESC LIMIT 1000"
                ),
                (0, 23, 24, 10),
                field_config=_pair_links({"defaults": {}, "overrides": []}),
            ),
        ],
        variables=[PAIR_VARIABLE],
        annotations=[failover_annotation("$pair")],
    )


def alerts_dashboard() -> dict[str, Any]:
    """Alerts: open and recent, with durations."""
    return _dashboard(
        "hamon-alerts",
        "hamon / Alerts",
        [
            _panel(
                1,
                "table",
                "Open alerts",
                sql(
                    "SELECT {alerts.started_at} AS time, {alerts.severity}, {alerts.kind}, {alerts.pair}, "
                    "{alerts.grp} AS failover_group, {alerts.unit}, "
                    "extract(epoch FROM now() - {alerts.started_at}) AS open_for_s, {alerts.detail} FROM {alerts} "
                    "WHERE {alerts.ended_at} IS NULL ORDER BY {alerts.started_at}"
                ),
                (0, 0, 24, 9),
                field_config=_pair_links(_seconds("open_for_s")),
            ),
            _panel(
                2,
                "timeseries",
                "Alerts opened per hour",
                sql(
                    "SELECT $__timeGroupAlias({alerts.started_at}, 1h), "
                    "count(*) FILTER (WHERE {alerts.severity} = 'critical') AS critical, "
                    "count(*) FILTER (WHERE {alerts.severity} = 'warning') AS warning FROM {alerts} "
                    "WHERE $__timeFilter({alerts.started_at}) GROUP BY 1 ORDER BY 1"
                ),
                (0, 9, 24, 8),
                fmt="time_series",
                field_config={
                    "defaults": {"custom": {"drawStyle": "bars", "stacking": {"mode": "normal"}}},
                    "overrides": [],
                },
            ),
            _panel(
                3,
                "table",
                "Recent alerts",
                sql(
                    "SELECT {alerts.started_at} AS time, {alerts.ended_at}, {alerts.severity}, {alerts.kind}, "
                    "{alerts.pair}, {alerts.grp} AS failover_group, {alerts.unit}, "
                    "extract(epoch FROM coalesce({alerts.ended_at}, now()) - {alerts.started_at}) AS duration_s, "
                    "{alerts.detail} FROM {alerts} WHERE $__timeFilter({alerts.started_at}) "
                    "ORDER BY {alerts.started_at} DESC LIMIT 1000"
                ),
                (0, 17, 24, 12),
                field_config=_pair_links(_seconds("duration_s")),
            ),
        ],
        annotations=[failover_annotation(None)],
    )


def build() -> dict[str, dict[str, Any]]:
    """Every dashboard by uid."""
    return {d["uid"]: d for d in (fleet(), pair_detail(), alerts_dashboard())}


def export(directory: str | Path) -> list[Path]:
    """Write each dashboard as `<uid>.json` (stable formatting, so the files diff cleanly)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for uid, dash in build().items():
        p = out / f"{uid}.json"
        p.write_text(json.dumps(dash, indent=2, sort_keys=True) + "\n")
        paths.append(p)
    return paths


def push(url: str, token: str, folder: str | None = "hamon") -> list[str]:
    """Create or update every dashboard in Grafana (through grafana-client); returns their uids."""
    from grafana_client.api import GrafanaApi

    api = GrafanaApi.from_url(url, credential=token)
    folder_uid = None
    if folder:
        existing = [f for f in api.folder.get_all_folders() if f.get("title") == folder]
        folder_uid = existing[0]["uid"] if existing else api.folder.create_folder(folder, uid="hamon")["uid"]
    uids = []
    for uid, dash in build().items():
        payload: dict[str, Any] = {"dashboard": dash, "overwrite": True, "message": "hamon dashboards push"}
        if folder_uid:
            payload["folderUid"] = folder_uid
        api.dashboard.update_dashboard(payload)
        uids.append(uid)
    return uids
