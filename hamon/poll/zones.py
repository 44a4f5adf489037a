"""Time zone abbreviations as ASA units print them (`show failover history`, `Last Failover at:`).

An ASA prints the name given in `clock timezone NAME HOURS` (and `clock summer-time NAME ...`
while summer time runs), so the abbreviation in a stamp always stands for a fixed offset: `CET` is
UTC+1 in September too, `CEST` is UTC+2. Well-known abbreviations with one meaning are read from
the table below; an ambiguous one (`CST`, `IST`) or a name of the device's own needs the pair's
`tz:` (an IANA name) in the inventory, else the stamp is an error counted on the poll — never a
silent UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC

# Hours east of UTC. Only abbreviations with one meaning in practice.
FIXED: dict[str, float] = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "MET": 1, "CEST": 2,
    "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "GST": 4, "PKT": 5, "NPT": 5.75, "ICT": 7, "WIB": 7,
    "HKT": 8, "SGT": 8, "AWST": 8, "PHT": 8, "JST": 9, "KST": 9, "ACST": 9.5, "ACDT": 10.5, "AEST": 10,
    "AEDT": 11, "NZST": 12, "NZDT": 13, "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7,
    "MST": -7, "MDT": -6, "CDT": -5, "EST": -5, "EDT": -4, "AST": -4, "ADT": -3, "NST": -3.5,
    "NDT": -2.5, "BRT": -3, "ART": -3,
}  # fmt: skip
AMBIGUOUS = {"CST": "US Central (UTC-6) or China (UTC+8)", "IST": "India (UTC+5:30), Ireland or Israel"}


class ZoneError(ValueError):
    """A stamp's zone that cannot be read without guessing."""


def device_zone(abbreviation: str, local: dt.datetime, pair_tz: str | None = None) -> dt.tzinfo:
    """The zone of a device stamp `local` (naive) printed with `abbreviation`.

    With the pair's IANA zone, an abbreviation that zone uses at that moment (or a name of the
    device's own) is read in that zone; a well-known abbreviation is its fixed offset.
    """
    name = abbreviation.upper()
    tz = _iana(pair_tz) if pair_tz else None
    if tz is not None:
        for fold in (0, 1):
            candidate = local.replace(tzinfo=tz, fold=fold)
            if (candidate.tzname() or "").upper() == name:
                return dt.timezone(candidate.utcoffset() or dt.timedelta(0))
    if name in FIXED:
        return dt.timezone(dt.timedelta(hours=FIXED[name]))
    if tz is not None:
        return tz  # the device's own name for the pair's zone
    if name in AMBIGUOUS:
        raise ZoneError(
            f"time zone {abbreviation!r} is ambiguous ({AMBIGUOUS[name]}): set the pair's tz: in the inventory"
        )
    raise ZoneError(f"unknown time zone {abbreviation!r}: set the pair's tz: (an IANA name) in the inventory")


def _iana(name: str) -> dt.tzinfo:
    if name.upper() in ("UTC", "GMT", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ZoneError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc
