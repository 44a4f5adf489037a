"""Wire framing: the part of a syslog line in front of the `%ASA-<sev>-<id>:` tag.

Handles RFC 3164 with and without year, the ASA's `logging timestamp` forms with and without
device-id, no timestamp at all, RFC 5424, EMBLEM, and lines written by relays (rsyslog,
syslog-ng) with a header of their own in front of the device's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hamon.parse.timestamps import STAMP_RE, TimeContext, from_match

PRI_RE = re.compile(r"\s*<(\d{1,3})>\s*")
RFC5424_RE = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+)\s*(?:\ufeff)?")
EMBLEM_SEQ_RE = re.compile(r"\d+:\s+")
TOKEN_RE = re.compile(r"\S+")
COLON_RE = re.compile(r"\s*:(?=\s|$)")
SPACE_RE = re.compile(r"\s*")


@dataclass(frozen=True, slots=True)
class Header:
    """What the framing says: device time, relay time, sender and device-id (any may be absent).

    `spans` are the timestamps' positions in the text; `at_index` and `received_index` say
    which of them gave `at` and `received_at`, so that a header differing only in its times
    can reuse this one's reading (see batch.py).
    """

    at: dt.datetime | None
    received_at: dt.datetime | None
    source: str | None
    device_id: str | None
    pri: int | None
    syslog: bool  # the header looks like syslog (a PRI or a timestamp), not just words
    spans: tuple[tuple[int, int], ...] = ()
    at_index: int | None = None
    received_index: int | None = None


Element = tuple[str, object, bool]  # ("ts" | "host", a time or a token, followed by ':')


@dataclass(frozen=True, slots=True)
class Reading:
    """Who and when the header's elements name."""

    at: dt.datetime | None = None
    received: dt.datetime | None = None
    source: str | None = None
    device_id: str | None = None
    at_index: int | None = None
    received_index: int | None = None


def parse_header(text: str, ctx: TimeContext) -> Header:
    """Read a header; never raises. Unreadable parts are kept as hosts, never guessed as times."""
    pos = 0
    pri: int | None = None
    m = PRI_RE.match(text)
    if m:
        pri = int(m.group(1))
        pos = m.end()
    m5 = RFC5424_RE.match(text, pos)
    if m5:
        stamp = STAMP_RE.fullmatch(m5.group(1))
        at5 = from_match(stamp, ctx) if stamp else None
        host = None if m5.group(2) == "-" else m5.group(2)
        return Header(
            at5, None, None, host, pri, True, ((m5.start(1), m5.end(1)),) if stamp else (), 0 if stamp else None
        )
    m = EMBLEM_SEQ_RE.match(text, pos)  # EMBLEM's sequence number: `<166>47: fw01: …`
    if m:
        pos = m.end()
    elements, spans, relayed_pri = _elements(text, pos, ctx)
    pri = relayed_pri if pri is None else pri
    stamps = [i for i, e in enumerate(elements) if e[0] == "ts"]
    if len(stamps) >= 2:
        r = _relayed(elements, stamps)
    elif stamps:
        r = _stamped(elements, stamps[0])
    else:
        r = _unstamped(elements)
    return Header(
        r.at,
        r.received,
        r.source,
        r.device_id,
        pri,
        pri is not None or bool(stamps),
        tuple(spans),
        r.at_index,
        r.received_index,
    )


def _elements(text: str, pos: int, ctx: TimeContext) -> tuple[list[Element], list[tuple[int, int]], int | None]:
    """Walk the header: each element is a timestamp or a host token, maybe followed by ':'."""
    elements: list[Element] = []
    spans: list[tuple[int, int]] = []
    pri: int | None = None
    n = len(text)
    while pos < n:
        pos = SPACE_RE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            break
        mp = PRI_RE.match(text, pos)  # a relay forwards the device's own `<PRI>` too
        if mp:
            pri = int(mp.group(1)) if pri is None else pri
            pos = mp.end()
            continue
        ms = STAMP_RE.match(text, pos)
        if ms and (ms.end() == n or not text[ms.end()].isalnum()):
            spans.append((ms.start(), ms.end()))
            pos = ms.end()
            mc = COLON_RE.match(text, pos)
            if mc:
                pos = mc.end()
            elements.append(("ts", from_match(ms, ctx), bool(mc)))
            continue
        mt = TOKEN_RE.match(text, pos)
        assert mt is not None
        token, pos = mt.group(), mt.end()
        colon = token.endswith(":") and len(token) > 1
        if colon:
            token = token[:-1]
        elif token == ":":
            if elements:
                k, v, _ = elements[-1]
                elements[-1] = (k, v, True)
            continue
        elements.append(("host", token, colon))
    return elements, spans, pri


# A host token followed by ':' is the device-id (` fw-a : %ASA-`); one without is the relay's host
# field (`… 192.0.2.10 %ASA-`), which names the sender.


def _hosts(elements: list[Element]) -> list[Element]:
    return [e for e in elements if e[0] == "host"]


def _relayed(elements: list[Element], stamps: list[int]) -> Reading:
    """A relay's header, then the device's: the first time is the relay's, the last the device's."""
    first, last = stamps[0], stamps[-1]
    between, after, before = _hosts(elements[first + 1 : last]), _hosts(elements[last + 1 :]), _hosts(elements[:first])
    device = after[-1] if after else (before[-1] if before else None)
    return Reading(
        at=elements[last][1],  # type: ignore[arg-type]
        received=elements[first][1],  # type: ignore[arg-type]
        source=str(between[0][1]) if between else None,
        device_id=None if device is None else str(device[1]),
        at_index=len(stamps) - 1,
        received_index=0,
    )


def _stamped(elements: list[Element], stamp: int) -> Reading:
    """One time: the device's, or a relay's header alone (a sender without a device-id)."""
    at: dt.datetime | None = elements[stamp][1]  # type: ignore[assignment]
    before = _hosts(elements[:stamp])
    device_id = str(before[-1][1]) if before else None  # EMBLEM: `seq: host: Mmm dd HH:MM:SS.mmm UTC:`
    source = None
    for _, value, colon in _hosts(elements[stamp + 1 :]):
        if colon:
            device_id = str(value)
        elif source is None:
            source = str(value)
    if source is not None and device_id is None:  # a relay's header alone: its time is the only one there is
        return Reading(at=at, received=at, source=source, at_index=0, received_index=0)
    return Reading(at=at, source=source, device_id=device_id, at_index=0)


def _unstamped(elements: list[Element]) -> Reading:
    source = device_id = None
    for _, value, colon in _hosts(elements):
        if colon:
            device_id = str(value)
        elif source is None:
            source = str(value)
    return Reading(source=source, device_id=device_id)
