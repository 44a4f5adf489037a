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


def test_stamps_found_where_a_digit_alike_header_had_them_are_the_stamps_a_search_finds() -> None:
    # A header read once tells where the stamps of headers alike but for their digits are; what is
    # matched there must be exactly what searching the header finds, for every kind of stamp.
    import random

    from hamon.parse.batch import BatchParser
    from hamon.parse.timestamps import STAMP_RE

    rng = random.Random(7)
    shapes = [
        "<166>{mon} {d:>2} {y} {h:02d}:{m:02d}:{s:02d} fw-{n} : ",
        "<166>{mon} {d:02d} {h:02d}:{m:02d}:{s:02d} fw-{n} : ",
        "{y}-{mo:02d}-{d:02d}T{h:02d}:{m:02d}:{s:02d}.{n}+01:00 relay{n} <166>{mon} {d} {h:02d}:{m:02d}:{s:02d} CET: ",
        "<166>{y}-{mo:02d}-{d:02d} {h:02d}:{m:02d}:{s:02d} fw{n} {mon} {d} {y} : ",
        "<166>{h}:{m:02d}:{s:02d} {mon} {d} fw-{n}: ",
        "<166>{mon} {d} {y} {h}:{m}:{s} +{n:02d}00 fw-{n} : ",
        "<166>1{n}{n} {n}: {n}:{n}:{n} fw : ",
    ]
    parser = BatchParser(lambda device_id, source: device_id or source)
    months = ["Jan", "Feb", "Nov", "Dec", "nov", "Mai"]
    for _ in range(3000):
        fields = {
            "mon": rng.choice(months),
            "d": rng.randint(1, 31),
            "y": rng.choice([2026, 1999, 9999]),
            "mo": rng.randint(1, 12),
            "h": rng.randint(0, 29),
            "m": rng.randint(0, 69),
            "s": rng.randint(0, 69),
            "n": rng.randint(0, 99),
        }
        text = rng.choice(shapes).format(**fields)
        want = [(m.start(), m.end(), m.group()) for m in STAMP_RE.finditer(text)]
        assert [(m.start(), m.end(), m.group()) for m in parser._stamps_in(text)] == want, text
    assert 0 < len(parser._stamp_starts) < 3000  # alike headers did share an entry


@pytest.mark.parametrize("pure_python", [False, True], ids=["c-scanner", "python-scanner"])
def test_a_lines_priority_does_not_change_who_sent_it_or_when(pure_python: bool) -> None:
    # The PRI says facility and severity only: lines of one header with different PRIs, or none,
    # have one sender, pair and time, and are all counted for that sender.
    data = (
        b"<161>Nov 25 2026 10:00:00 fw-a : %ASA-1-104001: (Primary) Switching to ACTIVE - Set by the config command.\n"
        b"<166>Nov 25 2026 10:00:00 fw-a : %ASA-1-105008: (Primary) Testing Interface inside\n"
        b"Nov 25 2026 10:00:00 fw-a : %ASA-1-105008: (Primary) Testing Interface outside\n"
        b"  <14>Nov 25 2026 10:00:01 fw-a : %ASA-1-105008: (Primary) Testing Interface dmz\n"
    )
    result, parser = parse_bytes(data, pure_python=pure_python)
    assert [(e.source, e.pair, iso(e.at)) for e in result.events] == [
        ("fw-a", "fw-a", "2026-11-25T10:00:00Z"),
        ("fw-a", "fw-a", "2026-11-25T10:00:00Z"),
        ("fw-a", "fw-a", "2026-11-25T10:00:00Z"),
        ("fw-a", "fw-a", "2026-11-25T10:00:01Z"),
    ]
    (act,) = parser.drain_activity()
    assert (act.source, act.pair, act.lines) == ("fw-a", "fw-a", 4)
