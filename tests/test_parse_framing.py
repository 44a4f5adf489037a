"""Every wire framing: `fixtures/framing/<case>.raw` beside `<case>.yml` (options and expected fields)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from helpers import parse_bytes

from hamon.model import iso
from hamon.parse.timestamps import zone
from hamon.resolve.inventory import parse_inventory

CASES = sorted((Path(__file__).parent / "fixtures" / "framing").glob("*.raw"))


@pytest.mark.parametrize("pure_python", [False, True], ids=["c-scanner", "python-scanner"])
@pytest.mark.parametrize("raw", CASES, ids=[p.stem for p in CASES])
def test_framing_fixture(raw: Path, pure_python: bool) -> None:
    doc = yaml.safe_load(raw.with_suffix(".yml").read_text())
    opts = doc.get("options", {})
    reference = dt.datetime.fromisoformat(opts.get("reference", "2026-11-25T12:00:00+00:00").replace("Z", "+00:00"))
    inventory = parse_inventory(opts["inventory"]) if "inventory" in opts else None
    result, _ = parse_bytes(
        raw.read_bytes(),
        reference=reference,
        tz=zone(opts.get("tz", "UTC")),
        year=opts.get("year"),
        inventory=inventory,
        pure_python=pure_python,
    )
    assert not result.quarantined, result.quarantined
    assert len(result.events) == 1
    event = result.events[0].to_json()
    for key, want in doc["expected"].items():
        assert event[key] == want, f"{key}: {event[key]!r} != {want!r}"


def test_every_framing_in_the_catalog_has_a_fixture() -> None:
    names = {p.stem for p in CASES}
    for needed in (
        "asa_hostname",
        "asa_no_device_id",
        "asa_device_id_address",
        "asa_device_id_context",
        "asa_device_id_string",
        "no_timestamp",
        "rfc3164_no_year",
        "rfc3164_december_in_january",
        "rfc5424",
        "rsyslog_iso",
        "syslogng_traditional",
        "relay_traditional_before_asa_header",
        "ftd",
        "emblem",
        "year_override",
        "tz_option",
    ):
        assert needed in names


def test_iso_output_is_utc_with_z() -> None:
    t = dt.datetime(2026, 11, 25, 11, 0, 16, 120000, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert iso(t) == "2026-11-25T10:00:16.120Z"
