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

    # Walk the header: each element is a timestamp or a host token, maybe followed by ':'.
    elements: list[tuple[str, object, bool]] = []
    spans: list[tuple[int, int]] = []
    m = EMBLEM_SEQ_RE.match(text, pos)  # EMBLEM's sequence number: `<166>47: fw01: …`
    if m:
        pos = m.end()
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
            value: object = from_match(ms, ctx)
            kind = "ts"
            spans.append((ms.start(), ms.end()))
            pos = ms.end()
        else:
            mt = TOKEN_RE.match(text, pos)
            assert mt is not None
            token = mt.group()
            pos = mt.end()
            colon = token.endswith(":") and len(token) > 1
            if colon:
                token = token[:-1]
            elif token == ":":
                if elements:
                    k, v, _ = elements[-1]
                    elements[-1] = (k, v, True)
                continue
            elements.append(("host", token, colon))
            continue
        mc = COLON_RE.match(text, pos)
        colon = bool(mc)
        if mc:
            pos = mc.end()
        elements.append((kind, value, colon))

    # A host token followed by ':' is the device-id (` fw-a : %ASA-`); one without is the
    # relay's host field (`… 192.0.2.10 %ASA-`), which names the sender.
    stamps = [i for i, e in enumerate(elements) if e[0] == "ts"]
    source: str | None = None
    device_id: str | None = None
    at: dt.datetime | None = None
    received: dt.datetime | None = None
    at_index: int | None = None
    received_index: int | None = None
    if len(stamps) >= 2:
        first, last = stamps[0], stamps[-1]
        received = elements[first][1]  # type: ignore[assignment]
        at = elements[last][1]  # type: ignore[assignment]
        received_index, at_index = 0, len(stamps) - 1
        between = [e for e in elements[first + 1 : last] if e[0] == "host"]
        after = [e for e in elements[last + 1 :] if e[0] == "host"]
        before = [e for e in elements[:first] if e[0] == "host"]
        source = str(between[0][1]) if between else None
        if after:
            device_id = str(after[-1][1])
        elif before:
            device_id = str(before[-1][1])
    else:
        hosts = [e for e in elements if e[0] == "host"]
        if stamps:
            at = elements[stamps[0]][1]  # type: ignore[assignment]
            at_index = 0
            before = [e for e in elements[: stamps[0]] if e[0] == "host"]
            after = [e for e in elements[stamps[0] + 1 :] if e[0] == "host"]
            if before:  # EMBLEM: `seq: host: Mmm dd HH:MM:SS.mmm UTC:`
                device_id = str(before[-1][1])
            for _, value, colon in after:
                if colon:
                    device_id = str(value)
                elif source is None:
                    source = str(value)
            if source is not None and device_id is None:
                received = at  # a relay's header alone: its time is the only one there is
                received_index = 0
        else:
            for _, value, colon in hosts:
                if colon:
                    device_id = str(value)
                elif source is None:
                    source = str(value)
    return Header(
        at, received, source, device_id, pri, pri is not None or bool(stamps), tuple(spans), at_index, received_index
    )
