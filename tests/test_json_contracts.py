"""Every documented `--json` shape has a JSON Schema file (docs/schemas/); real output is validated
against it the way the dashboards are validated against Grafana's schema."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from scenario import P, S, capture

from hamon.cli import main

ROOT = Path(__file__).parent.parent
SCHEMAS = ROOT / "docs" / "schemas"
EXAMPLE = ROOT / "examples" / "asa-pair.log"
CLI = ROOT / "tests" / "fixtures" / "cli_read"


def _schema(name: str) -> dict[str, Any]:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _run(db: str, *args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(main, ["--db", db, *args], input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("contracts")
    url = f"sqlite:///{tmp / 'hamon.db'}"
    _run(url, "replay", str(EXAMPLE), "--json", "--no-progress")
    split = tmp / "split.log"
    split.write_text(
        capture(
            [
                P(0, 104001, "Switching to ACTIVE - No Active unit found"),
                S(4, 104001, "Switching to ACTIVE - No Active unit found"),
            ],
            host="fw-split",
        )
        + "<161>Nov 25 2026 10:00:09 fw-split : %ASA-1-104001: (Primary) Switching\n"
    )
    _run(url, "replay", str(split), "--json", "--no-progress")
    _run(url, "replay", "--cli", str(CLI / "as_standby_link_admin_down.txt"), "--pair", "fw-edge", "--json")
    _run(url, "silence", "add", "--pair", "fw-edge", "--for", "1h", "--comment", "maintenance", "--json")
    from hamon.store import Store
    from hamon.store.status import ServiceStatus, write_status

    store = Store(url)
    now = dt.datetime.now(dt.UTC)
    write_status(
        store,
        ServiceStatus("serve", os.getpid(), now, now, [{"transport": "udp", "host": "127.0.0.1", "port": 5514}], {}),
    )
    store.close()
    return url


CASES = [
    ("events", ["events", "--json"]),
    ("quarantine", ["quarantine", "--json"]),
    ("sources", ["sources", "--json"]),
    ("failovers", ["failovers", "--json"]),
    ("failovers", ["failovers", "--evidence", "--json"]),
    ("alerts", ["alerts", "--json"]),
    ("alerts", ["alerts", "--evidence", "--json"]),
    ("pairs", ["pairs", "--json"]),
    ("timeline", ["timeline", "fw-edge", "--json"]),
    ("timeline", ["timeline", "fw-split", "--json"]),
    ("report", ["report", "--json"]),
    ("status", ["status", "--json"]),
    ("db-info", ["db", "info", "--json"]),
    ("silences", ["silence", "list", "--all", "--json"]),
    ("correlate", ["correlate", "--json"]),
    ("replay", ["replay", str(EXAMPLE), "--json", "--no-progress"]),
]


@pytest.mark.parametrize(("name", "args"), CASES, ids=[" ".join(a[:2]) for _, a in CASES])
def test_output_matches_its_schema(db: str, name: str, args: list[str]) -> None:
    value = _run(db, *args)
    assert value or name in ("quarantine",), "the store holds data for every shape"
    jsonschema.validate(value, _schema(name))


def test_parse_cli_matches_its_schema() -> None:
    value = _run(
        "sqlite://", "parse-cli", *(str(p) for p in sorted(CLI.glob("*.txt")) if "ambiguous" not in p.name), "--json"
    )
    jsonschema.validate(value, _schema("parse-cli"))


def test_every_schema_file_is_exercised_and_named_in_the_readme() -> None:
    names = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert names == {n for n, _ in CASES} | {"parse-cli"}
    readme = (ROOT / "README.md").read_text()
    assert "docs/schemas/" in readme
