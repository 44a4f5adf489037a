"""Device and relay timestamps: formats, year inference and time zones. All results are UTC."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hamon.errors import ConfigError

UTC = dt.UTC
MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
# A device clock may run a little ahead of the reference (receive or file time).
FUTURE_SLACK = dt.timedelta(days=7)
UTC_NAMES = frozenset({"UTC", "GMT", "Z", "UT"})
# Zone abbreviations a device or relay may print after the time. Only these are taken as a zone,
# so that an upper-case hostname after the time (`EDGE : %ASA-…`) stays a hostname.
ZONE_NAMES = (
    "UTC",
    "GMT",
    "UT",
    "CEST",
    "CET",
    "EEST",
    "EET",
    "WEST",
    "WET",
    "BST",
    "IST",
    "MSK",
    "EDT",
    "EST",
    "CDT",
    "CST",
    "MDT",
    "MST",
    "PDT",
    "PST",
    "AKDT",
    "AKST",
    "HST",
    "JST",
    "KST",
    "SGT",
    "HKT",
    "AEDT",
    "AEST",
    "ACST",
    "AWST",
    "NZDT",
    "NZST",
)

# `Nov 25 2026 10:00:16`, `Nov  5 10:00:16.120 UTC` (ASA `logging timestamp`, BSD syslog, EMBLEM)
TRADITIONAL = (
    r"(?P<mon>(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))\s+(?P<day>\d{1,2})"
    r"(?:\s+(?P<year>\d{4}))?\s+(?P<hms>\d{1,2}:\d\d:\d\d)(?P<frac>\.\d{1,9})?"
    rf"(?:\s+(?P<zone>{'|'.join(ZONE_NAMES)}|[+-]\d\d:?\d\d)(?=[\s:]|$))?"
)
# `2026-11-25T10:00:16.120+00:00` (RFC 5424, rsyslog/syslog-ng ISO output)
ISO = (
    r"(?P<isodate>\d{4}-\d\d-\d\d)[T ](?P<isotime>\d\d:\d\d:\d\d)(?P<isofrac>\.\d{1,9})?"
    r"(?P<isozone>Z|[+-]\d\d:?\d\d)?"
)
STAMP_RE = re.compile(rf"(?:{ISO}|{TRADITIONAL})")


@dataclass(frozen=True, slots=True)
class TimeContext:
    """How to read zone-less and year-less stamps: the zone, a fixed year, the reference time."""

    reference: dt.datetime
    tz: dt.tzinfo = UTC
    year: int | None = None


def zone(name: str) -> dt.tzinfo:
    """A time zone by IANA name (`UTC`, `Europe/Berlin`), or a ConfigError saying it is unknown."""
    if name.upper() in UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc


def _offset(text: str) -> dt.tzinfo:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _micro(frac: str | None) -> int:
    return int((frac[1:] + "000000")[:6]) if frac else 0


def from_match(m: re.Match[str], ctx: TimeContext) -> dt.datetime | None:
    """The UTC time a STAMP_RE match names, or None when it names no real date."""
    try:
        if m.group("isodate"):
            y, mo, d = (int(x) for x in m.group("isodate").split("-"))
            hh, mm, ss = (int(x) for x in m.group("isotime").split(":"))
            z = m.group("isozone")
            tz: dt.tzinfo = ctx.tz if z is None else (UTC if z == "Z" else _offset(z))
            return dt.datetime(y, mo, d, hh, mm, ss, _micro(m.group("isofrac")), tz).astimezone(UTC)
        mo = MONTHS[m.group("mon").lower()]
        d = int(m.group("day"))
        hh, mm, ss = (int(x) for x in m.group("hms").split(":"))
        micro = _micro(m.group("frac"))
        z = m.group("zone")
        if z is None or z.upper() in UTC_NAMES:
            tz = ctx.tz if z is None else UTC
        elif z[0] in "+-":
            tz = _offset(z)
        else:  # an abbreviation such as CET is ambiguous; the configured zone decides
            tz = ctx.tz
        if m.group("year"):
            return dt.datetime(int(m.group("year")), mo, d, hh, mm, ss, micro, tz).astimezone(UTC)
        return _infer_year(mo, d, hh, mm, ss, micro, tz, ctx)
    except (ValueError, OverflowError):  # no such date, or one beyond what a datetime holds
        return None


def _infer_year(
    mo: int, d: int, hh: int, mm: int, ss: int, micro: int, tz: dt.tzinfo, ctx: TimeContext
) -> dt.datetime | None:
    """The latest year that does not put the stamp more than FUTURE_SLACK after the reference.

    A capture written on 2 January holds 31 December lines of the year before; a device
    whose clock runs into the new year before the collector is still read right.
    """
    if ctx.year is not None:
        return dt.datetime(ctx.year, mo, d, hh, mm, ss, micro, tz).astimezone(UTC)
    ref = ctx.reference.astimezone(UTC)
    limit = ref + FUTURE_SLACK
    for year in (ref.year + 1, ref.year, ref.year - 1, ref.year - 2, ref.year - 3, ref.year - 4):
        try:
            t = dt.datetime(year, mo, d, hh, mm, ss, micro, tz).astimezone(UTC)
        except (ValueError, OverflowError):  # 29 February of a year that has none
            continue
        if t <= limit:
            return t
    return None


def parse_stamp(text: str, ctx: TimeContext) -> dt.datetime | None:
    """Parse a whole timestamp string; None when it is not one."""
    m = STAMP_RE.fullmatch(text.strip())
    return from_match(m, ctx) if m else None
