"""Parse a batch of raw lines into events, quarantined records and per-source activity.

The hot path works on whole batches with compiled regexes, so that the ~99% of lines that are
not about failover cost a few C-level passes and no Python per line:

1. one `findall` collects the header of every tagged line (for per-source counting);
2. one `finditer` finds the failover ids (the cheap prefilter); only those lines are parsed;
3. when any line is not a clean tagged syslog line (blank, too long, NUL, not UTF-8, no tag),
   the batch is walked line by line instead, so every line is accounted for exactly once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

from hamon.model import Activity, Event, ParseResult, Quarantined, RawBatch
from hamon.parse.catalog import FAILOVER_TAG, is_failover
from hamon.parse.framing import Header, parse_header
from hamon.parse.message import LOOSE_TAG_RE, TAG_RE, MalformedMessage, Message, parse_message
from hamon.parse.timestamps import STAMP_RE, TimeContext, from_match

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

try:  # the C line scanner; the pure-Python scanner below does the same, more slowly
    from hamon.parse._scan import scan as _c_scan
except ImportError:  # pragma: no cover - depends on the build
    _c_scan = None  # type: ignore[assignment]

UTC = dt.UTC
MAX_LINE = 8192  # bytes; ASA messages stay far below (SNMP carries at most 255 characters)
QUARANTINE_KEEP = 4096  # bytes of a quarantined line kept in the store
MAX_HEADER = 512  # bytes before the tag
HEADER_RE = re.compile(rb"\n([^%\n]{0,512})%(?:ASA|FTD|PIX)-[0-7]-\d{6}")
FAILOVER_RE = re.compile(FAILOVER_TAG)
# Sub-second digits make every relay header unique; per-source counting needs only seconds.
FRACTION_RE = re.compile(rb"(?<=\d:\d\d)\.\d{1,9}")
PRI_PREFIX_RE = re.compile(rb"[ \t]*<\d{1,3}>")
HMS_RE = re.compile(rb"(?<!\d)\d\d:\d\d:\d\d")
# Header readings kept for reuse: headers of one sender and second repeat, old seconds do not come
# back, so a small cache (cleared when full) serves as well as a big one and bounds memory.
HEADER_CACHE_MAX = 20_000
SECOND_BYTES = 450  # a bitmap of the 3,600 seconds of an hour
NUL = b"\0"
# The framing of a syslog line from another program: PRI, timestamp, host.
OTHER_HEADER_RE = re.compile(rf"\s*(?:<\d{{1,3}}>)?\s*(?:(?:{STAMP_RE.pattern})\s*)?(?:[^\s:]+)?")

Resolve = Callable[[str | None, str], str]


# Input that came through a relay (a file, a Kafka topic filled by rsyslog or syslog-ng): its transport
# sender is the relay, so the host field names the sender and `senders:`/`tls_peers:` do not apply.
RELAYED = frozenset({"file", "kafka"})


_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")
K = TypeVar("K")
V = TypeVar("V")
_Head = tuple[str, str | None, str, dt.datetime | None, dt.datetime | None, bool, str | None]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a header's lines come from, once resolved: sender, device-id, pair and times."""

    source: str
    device_id: str | None
    pair: str
    at: dt.datetime
    received_at: dt.datetime
    hour: dt.datetime  # `at` to the hour and to the second, for activity counting
    second: dt.datetime
    refused: str | None = None  # why its failover lines are quarantined (an absurd time, an unsafe pair name)


# The longest text an event's fields may hold (the store's column widths): longer is no ASA's.
# The sender and pair that lines of senders beyond the live cap of unlisted ones count to.
BEYOND_CAP = "(unlisted beyond the cap)"

FIELD_LIMITS = {
    "pair": 255,
    "source": 255,
    "device_id": 255,
    "interface": 255,
    "mate_version": 255,
    "our_version": 255,
    "status": 64,
    "my_state": 64,
    "peer_state": 64,
}
_ORIGIN_FIELDS = ("pair", "source", "device_id")
_LIMITS = (
    tuple((f, n) for f, n in FIELD_LIMITS.items() if f in _ORIGIN_FIELDS),
    tuple((f, n) for f, n in FIELD_LIMITS.items() if f not in _ORIGIN_FIELDS),
)


def _too_long(msg: Message, origin: Origin) -> str | None:
    """Why a parsed message cannot be an event (a field longer than the store's column), or None."""
    for holder, fields in zip((origin, msg), _LIMITS, strict=True):
        for name, limit in fields:
            value = getattr(holder, name)
            if value is not None and len(value) > limit:
                return f"malformed: {name} longer than {limit} characters ({len(value)})"
    return None


def event_id(source: str, device_id: str | None, at: dt.datetime, msg_id: int, text: str) -> str:
    """Stable id of an event: the same message from the same sender and device at the same time is one.

    The device-id counts too: a relay forwarding several firewalls sends them all from one address.
    """
    key = f"{source}\x1f{device_id or ''}\x1f{at.astimezone(UTC).isoformat()}\x1f{msg_id}\x1f{text}"
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def quarantined(
    source: str, origin: str, received_at: dt.datetime, line_no: int, raw: bytes, reason: str
) -> Quarantined:
    """A line hamon could not accept, kept with the reason: its id from its sender and bytes."""
    digest = hashlib.blake2b(source.encode("utf-8", "replace") + b"\x1f" + raw, digest_size=16)
    return Quarantined(
        quarantine_id=digest.hexdigest(),
        received_at=received_at,
        source=source,
        origin=origin,
        line_no=line_no,
        reason=reason,
        raw=raw[:QUARANTINE_KEEP],
        raw_len=len(raw),
    )


class BatchParser:
    """Stateful only in its caches and the activity it has counted; one per input stream."""

    def __init__(
        self,
        resolve: Resolve,
        tz: dt.tzinfo = UTC,
        year: int | None = None,
        *,
        pure_python: bool = False,
        zones: dict[str, dt.tzinfo] | None = None,
        next_seq: Callable[[], int] | None = None,
        senders: dict[str, tuple[Network, ...]] | None = None,
        tls_peers: dict[str, frozenset[str]] | None = None,
        listed: frozenset[str] = frozenset(),
        max_unlisted: int | None = None,
    ) -> None:
        self._resolve = resolve
        self._tz = tz
        self._zones = zones or {}  # pair -> the zone of its units' zone-less stamps (inventory `tz:`)
        self._next_seq = next_seq or (lambda: 0)  # arrival order, from the store the events go to
        self._senders = senders or {}  # pair -> the networks that may speak for it (live input only)
        self._tls_peers = tls_peers or {}  # pair -> the TLS client certificates that may speak for it
        self._year = year
        self._origins: dict[bytes, Origin] = {}  # this batch's headers, read against its receive time
        self._count_origins: dict[bytes, Origin] = {}  # hour-folded header -> what its lines count to
        self._stamp_starts: dict[str, tuple[int, ...]] = {}  # header with digits as 0 -> where its stamps start
        self._heads: dict[tuple[bytes, str, tuple[str, ...]], _Head] = {}  # live senders' headers
        self._heads_hour: tuple[dt.datetime, dt.tzinfo, int | None] | None = None
        self._origins_ref: tuple[dt.datetime, str, bool, tuple[str, ...]] | None = None
        self._shapes: dict[str, tuple[int, int | None, int | None, str, str | None, str]] = {}
        self._stamps: dict[tuple[str, dt.tzinfo], dt.datetime | None] = {}
        self._line_base = 0  # lines of this stream before the current batch
        self._scan = _c_scan if _c_scan is not None and not pure_python else scan_py
        self.activity: dict[tuple[str, dt.datetime], Activity] = {}
        self._heard: dict[tuple[str, dt.datetime], Activity] = {}  # counted since `take_heard`
        # Live input: senders of pairs the inventory does not list (a host name is a pair of its
        # own) are tracked up to max_unlisted; beyond, their failover lines are quarantined and
        # their lines counted under one sender, so invented host names cost no memory.
        self._listed = listed
        self._max_unlisted = max_unlisted
        self.unlisted: set[tuple[str, str]] = set()  # (sender, pair) tracked

    # -- public -------------------------------------------------------------------------------
    def parse(self, batch: RawBatch) -> ParseResult:
        """Parse one batch. Never raises on bad input: it ends up counted and quarantined."""
        data = batch.data
        result = ParseResult()
        if not data:
            return result
        if not data.endswith(b"\n"):
            data += b"\n"
        self._reset_cache(batch)
        ctx = TimeContext(batch.received_at, self._tz, self._year)
        lines, tagged, longest, has_nul, counts, spans = self._scan(data, MAX_LINE)
        result.lines = lines
        base = self._line_base
        self._line_base += lines
        if tagged == lines and not has_nul and longest <= MAX_LINE and _decodes(data):
            self._fast(data, counts, spans, batch, ctx, result, base)
        else:
            pieces = data.split(b"\n")
            pieces.pop()  # the empty piece after the final newline
            self._slow(pieces, batch, ctx, result, base)
        return result

    def keep_activity(self, acts: list[Activity]) -> None:
        """Take back activity that could not be written (it is added to what was counted since)."""
        for a in acts:
            key = (a.source, a.hour)
            now = self.activity.get(key)
            if now is None:
                self.activity[key] = a
                continue
            now.lines += a.lines
            if a.last_at is not None and (now.last_at is None or a.last_at > now.last_at):
                now.last_at = a.last_at
            bits = int.from_bytes(now.seconds or bytes(SECOND_BYTES), "little") | int.from_bytes(
                a.seconds or bytes(SECOND_BYTES), "little"
            )
            now.seconds = bits.to_bytes(SECOND_BYTES, "little")

    def take_heard(self) -> list[Activity]:
        """The senders (and hours) lines were counted for since the last call: what the live
        correlator learns of when each unit was heard, as the lines are parsed."""
        out = list(self._heard.values())
        self._heard = {}
        return out

    def drain_activity(self) -> list[Activity]:
        """The activity counted so far, and forget it."""
        out = list(self.activity.values())
        self.activity = {}
        return out

    # -- paths --------------------------------------------------------------------------------
    def _fast(
        self,
        data: bytes,
        counts: dict[bytes, tuple[int, int, int, bytes]],
        spans: list[int],
        batch: RawBatch,
        ctx: TimeContext,
        result: ParseResult,
        base: int,
    ) -> None:
        known = self._count_origins
        for key, (n, ss, ss_off, bits) in counts.items():
            # The key has mm:ss zeroed; the latest line of the hour stands for it — in the first
            # batch that has it: the sender, pair and hour it counts to are the same in the next.
            origin = known.get(key)
            if origin is None:
                header = key if ss_off < 0 else key[:ss_off] + b"%02d:%02d" % divmod(ss, 60) + key[ss_off + 5 :]
                origin = _remember(known, key, self._origin(header, batch, ctx))
            self._count(origin, n, bits)
        # A line seen before in this batch (a relay's repeat, a unit logging twice in one second)
        # is the same event: folded before parsing, only its place in the arrival order its own.
        folded: dict[bytes, Event] = {}
        events = result.events
        for i in range(0, len(spans), 2):
            start, end = spans[i], spans[i + 1]
            raw = data[start:end]
            seen = folded.get(raw)
            if seen is not None:
                events.append(replace(seen, seq=self._next_seq()))
                continue
            text = raw.decode("utf-8")
            tag = TAG_RE.match(text, text.find("%"))
            assert tag is not None  # the scanner checked the same tag
            origin = self._origin(_origin_key(text[: tag.start()]), batch, ctx)
            n = len(events)
            self._tagged(text, raw, tag, origin, batch, partial(_line_of, data, base, start), result)
            if len(events) > n:  # an event (a quarantined line is quarantined again, with its number)
                folded[raw] = events[-1]
        result.ordinary = result.lines - len(result.events) - len(result.quarantined)

    def _slow(self, lines: list[bytes], batch: RawBatch, ctx: TimeContext, result: ParseResult, base: int) -> None:
        for i, raw in enumerate(lines):
            line_no = base + 1 + i
            if not raw.strip():
                result.blank += 1
                continue
            if len(raw) > MAX_LINE:
                self._quarantine(result, batch, line_no, raw, f"line too long ({len(raw)} bytes, limit {MAX_LINE})")
                continue
            if b"\0" in raw:
                self._quarantine(result, batch, line_no, raw, f"NUL byte at offset {raw.index(NUL)}")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._quarantine(
                    result, batch, line_no, raw, f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
                )
                continue
            pct = text.find("%")
            tag = TAG_RE.match(text, pct) if 0 <= pct <= MAX_HEADER else None
            if tag is None:
                if LOOSE_TAG_RE.search(text):
                    self._quarantine(result, batch, line_no, raw, "truncated or malformed %ASA- message tag")
                    continue
                # Only PRI, timestamp and host are framing here; the rest is another program's text.
                header_text = OTHER_HEADER_RE.match(text).group().rstrip(": \r")  # type: ignore[union-attr]
                origin_key = b"\x00other\x00" + header_text.encode("utf-8")
                if origin_key not in self._origins and not parse_header(header_text, ctx).syslog:
                    self._quarantine(result, batch, line_no, raw, "not a syslog line (no priority, timestamp or tag)")
                    continue
                # Valid syslog from something that is not an ASA message: traffic, not an event.
                result.other += 1
                self._count(self._origin(origin_key, batch, ctx, header_text), 1)
                continue
            origin = self._origin(_origin_key(text[: tag.start()]), batch, ctx)
            self._count(origin, 1)
            if is_failover(int(tag.group(2))):
                self._tagged(text, raw, tag, origin, batch, partial(int, line_no), result)
            else:
                result.ordinary += 1

    # -- pieces -------------------------------------------------------------------------------
    def _tagged(
        self,
        text: str,
        raw: bytes,
        tag: re.Match[str],
        origin: Origin,
        batch: RawBatch,
        line_no: Callable[[], int],
        result: ParseResult,
    ) -> None:
        if origin.refused is not None:
            self._quarantine(result, batch, line_no(), raw, origin.refused)
            return
        msg_id = int(tag.group(2))
        body = text[tag.end() :].rstrip("\r\n\t ")
        try:
            msg = parse_message(msg_id, body)
        except MalformedMessage as exc:
            self._quarantine(result, batch, line_no(), raw, f"malformed: {exc}")
            return
        if (long := _too_long(msg, origin)) is not None:
            self._quarantine(result, batch, line_no(), raw, long)
            return
        result.events.append(
            Event(
                event_id=event_id(origin.source, origin.device_id, origin.at, msg_id, body),
                at=origin.at,
                received_at=origin.received_at,
                pair=origin.pair,
                unit=msg.unit,
                group=msg.group,
                source=origin.source,
                device_id=origin.device_id,
                msg_id=msg_id,
                severity=int(tag.group(1)),
                kind=msg.kind,
                cause=msg.cause,
                cause_text=msg.cause_text,
                interface=msg.interface,
                reason_code=msg.reason_code,
                value=msg.value,
                mate_version=msg.mate_version,
                our_version=msg.our_version,
                command=msg.command,
                status=msg.status,
                my_state=msg.my_state,
                peer_state=msg.peer_state,
                text=body,
                seq=self._next_seq(),
            )
        )

    def _origin(self, key: bytes, batch: RawBatch, ctx: TimeContext, text: str | None = None) -> Origin:
        cached = self._origins.get(key)
        if cached is not None:
            return cached
        # What the header itself says (sender, pair, its stamps) outlives the batch: a live sender's
        # batches differ in their receive times only. Kept for the hour of receive time (a stamp
        # without a year is read against it). A file's batches share one receive time: the batch
        # cache above holds its headers already.
        if batch.transport in RELAYED:
            head = self._read_head(key, batch, ctx, text)
        else:
            head_key = (key, batch.source, batch.peer)
            head = self._heads.get(head_key) or _remember(self._heads, head_key, self._read_head(key, batch, ctx, text))
        source, device_id, pair, at_h, rec_h, stamped, refused = head
        received = (
            rec_h if rec_h is not None and _bad_time(rec_h, batch.received_at, True) is None else batch.received_at
        )
        bad_time = _bad_time(at_h, batch.received_at, stamped)
        at = received if bad_time else (at_h or received)
        second = at.replace(microsecond=0)
        hour = second.replace(minute=0, second=0)
        return _remember(
            self._origins, key, Origin(source, device_id, pair, at, received, hour, second, bad_time or refused)
        )

    def _read_head(self, key: bytes, batch: RawBatch, ctx: TimeContext, text: str | None) -> _Head:
        """A header read: sender, device-id, pair, the device's stamp and a relay's (UTC), whether
        the header had a device stamp, why its lines are refused whatever their times."""
        if text is None:
            text = key.decode("utf-8", "replace")
        # Headers that differ only in their timestamps share one reading of the rest.
        stamps = self._stamps_in(text)
        template = _template(text, [(m.start(), m.end()) for m in stamps])
        shape = self._shapes.get(template)
        if shape is not None and len(stamps) == shape[0]:
            _, at_i, rec_i, source, device_id, pair = shape
            pctx = self._pair_context(pair, ctx)
            at_h = self._stamp(stamps[at_i], pctx) if at_i is not None else None
            rec_h = self._stamp(stamps[rec_i], ctx) if rec_i is not None else None
            stamped = at_i is not None
        else:
            header = parse_header(text, ctx)
            source, device_id = self._sender(header, batch), header.device_id
            pair = self._resolve(device_id, source)
            pctx = self._pair_context(pair, ctx)
            at_h, rec_h = header.at, header.received_at
            stamped = header.at_index is not None
            if pctx is not ctx and header.at_index is not None:
                # The device's own stamp, read in its pair's zone (a relay's stamp keeps the default).
                at_h = parse_header(text, pctx).at
            if len(self._shapes) < HEADER_CACHE_MAX:
                self._shapes[_template(text, list(header.spans))] = (
                    len(header.spans),
                    header.at_index,
                    header.received_index,
                    source,
                    device_id,
                    pair,
                )
        refused = None if SAFE_NAME_RE.match(pair) else f"pair name {pair[:64]!r} is not a name hamon keeps"
        if refused is None and (over := self._beyond_cap(source, pair)) is not None:
            return BEYOND_CAP, None, BEYOND_CAP, at_h, rec_h, stamped, over
        return source, device_id, pair, at_h, rec_h, stamped, refused or self._refused_sender(pair, batch)

    def _beyond_cap(self, source: str, pair: str) -> str | None:
        """Why a live sender of a pair not in the inventory is not tracked (the cap is reached), or None."""
        cap = self._max_unlisted
        if cap is None or pair in self._listed or (source, pair) in self.unlisted:
            return None
        if len(self.unlisted) < cap:
            self.unlisted.add((source, pair))
            return None
        return (
            f"sender {source[:64]!r} of pair {pair[:64]!r}: not in the inventory and {cap:,} unlisted "
            "senders are tracked already (max_unlisted_senders)"
        )

    def _stamps_in(self, text: str) -> list[re.Match[str]]:
        """STAMP_RE.finditer(text) as a list. Where stamps match depends on which characters are
        digits, not on their values: headers alike but for their digits (the same sender a second
        later) have their stamps where the first had them, matched there instead of searched for."""
        shape = text.translate(_DIGITS_AS_ZERO)
        starts = self._stamp_starts.get(shape)
        if starts is not None:
            found = [STAMP_RE.match(text, i) for i in starts]
            if all(m is not None for m in found):
                return found  # type: ignore[return-value]
        stamps = list(STAMP_RE.finditer(text))
        _remember(self._stamp_starts, shape, tuple(m.start() for m in stamps))
        return stamps

    def _refused_sender(self, pair: str, batch: RawBatch) -> str | None:
        """A live sender (its real address, whatever a header claims; its TLS certificate) not listed
        for the pair."""
        peers = self._tls_peers.get(pair)
        if peers and batch.transport not in RELAYED and not peers.intersection(batch.peer):
            who = next((p for p in batch.peer if p.startswith("CN=")), None) or batch.source
            return f"{who} is not a permitted TLS peer of pair {pair!r} (inventory tls_peers:)"
        return self.refused_address(pair, batch.source, batch.transport)

    def refused_address(self, pair: str, source: str, transport: str) -> str | None:
        """Why a sender's address may not speak for the pair (its `senders:` list), or None: for
        syslog lines, and for traps and polls, which carry events without a line to parse."""
        allowed = self._senders.get(pair)
        if not allowed or transport in RELAYED:
            return None
        try:
            address = ipaddress.ip_address(source.strip("[]"))
        except ValueError:
            return f"sender {source[:64]!r} may not speak for pair {pair!r}"
        if any(address in net for net in allowed):
            return None
        return f"sender {source} may not speak for pair {pair!r} (inventory senders:)"

    def _pair_context(self, pair: str, ctx: TimeContext) -> TimeContext:
        tz = self._zones.get(pair)
        return ctx if tz is None or tz == ctx.tz else TimeContext(ctx.reference, tz, ctx.year)

    def _stamp(self, m: re.Match[str], ctx: TimeContext) -> dt.datetime | None:
        key = (m.group(), ctx.tz)
        if key in self._stamps:
            return self._stamps[key]
        return _remember(self._stamps, key, from_match(m, ctx))

    @staticmethod
    def _sender(header: Header, batch: RawBatch) -> str:
        # A live sender's address is the truth; in a file, the relay's host field or the device-id
        # names the sender, and the input's own name is the last resort.
        if batch.transport in RELAYED:
            return header.source or header.device_id or batch.source
        return header.source or batch.source

    def _count(self, origin: Origin, n: int, bits: bytes = b"") -> None:
        key = (origin.source, origin.hour)
        act = self.activity.get(key)
        if act is None:
            act = self.activity[key] = Activity(origin.source, origin.pair, origin.hour)
        act.lines += n
        self._heard[key] = act
        if bits:  # the seconds of the hour the key's lines were heard in
            act.seconds = (int.from_bytes(act.seconds, "little") | int.from_bytes(bits, "little")).to_bytes(
                SECOND_BYTES, "little"
            )
        else:
            s = int((origin.second - origin.hour).total_seconds())
            buf = bytearray(act.seconds or bytes(SECOND_BYTES))
            buf[s // 8] |= 1 << (s % 8)
            act.seconds = bytes(buf)
        if act.last_at is None or origin.second > act.last_at:
            act.last_at = origin.second  # activity is kept to the second

    def _quarantine(self, result: ParseResult, batch: RawBatch, line_no: int, raw: bytes, reason: str) -> None:
        result.quarantined.append(quarantined(batch.source, batch.origin, batch.received_at, line_no, raw, reason))

    def _reset_cache(self, batch: RawBatch) -> None:
        hour = (batch.received_at.replace(minute=0, second=0, microsecond=0), self._tz, self._year)
        if hour != self._heads_hour:
            self._heads.clear()
            self._heads_hour = hour
        # Cached origins hold times read against this reference and this fallback sender.
        ref = (batch.received_at, batch.source, batch.transport in RELAYED, batch.peer)
        if ref != self._origins_ref:
            self._origins.clear()
            self._count_origins.clear()
            self._shapes.clear()
            self._stamps.clear()
            self._origins_ref = ref


def scan_py(
    data: bytes, max_line: int
) -> tuple[int, int, int, bool, dict[bytes, tuple[int, int, int, bytes]], list[int]]:
    """The line walk of _scan.c in Python: same result, for builds without the C scanner."""
    lines = data.split(b"\n")
    lines.pop()
    headers = HEADER_RE.findall(b"\n" + data)
    counts: dict[bytes, tuple[int, int, int, bytes]] = {}
    seconds: dict[bytes, bytearray] = {}
    for header, n in Counter(headers).items():
        key, ss, ss_off = _count_key(header)
        c, top, _, _ = counts.get(key, (0, -1, ss_off, b""))
        if ss_off >= 0:
            bits = seconds.setdefault(key, bytearray(SECOND_BYTES))
            if 0 <= ss < 3600:  # `10:60:00` names no second of the hour (as _scan.c's set_second)
                bits[ss // 8] |= 1 << (ss % 8)
        counts[key] = (c + n, max(top, ss), ss_off, b"")
    counts = {k: (c, top, off, bytes(seconds[k]) if off >= 0 else b"") for k, (c, top, off, _) in counts.items()}
    spans: list[int] = []
    last = -1
    for m in FAILOVER_RE.finditer(data):
        start = data.rfind(b"\n", 0, m.start()) + 1
        if start == last or m.start() - start > MAX_HEADER or data.find(b"%", start, m.start()) != -1:
            continue  # not the line's own tag: a quoted id further along
        last = start
        spans += (start, data.find(b"\n", m.end()))
    return len(lines), len(headers), max(map(len, lines), default=0), b"\0" in data, counts, spans


def _count_key(header: bytes) -> tuple[bytes, int, int]:
    """A header's counting key as _scan.c builds it: no PRI, no fractions, mm:ss of the first time zeroed."""
    key = FRACTION_RE.sub(b"", _without_pri(header))
    t = HMS_RE.search(key)
    if t is None:
        return key, -1, -1
    off = t.start() + 3
    return key[:off] + b"00:00" + key[off + 5 :], int(key[off : off + 2]) * 60 + int(key[off + 3 : off + 5]), off


# A pair named from the wire (a device-id, a host field, an address) is shown in terminals, dashboards
# and notifications: letters, digits and . _ : - @ / only (hostnames, FQDNs, IPv4 and IPv6 addresses).
SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,254}$")
TIME_FLOOR = dt.datetime(1990, 1, 1, tzinfo=UTC)  # no ASA (or PIX) logged before this
MAX_AHEAD = dt.timedelta(days=2)  # a device clock ahead of the receive time by more is not believed


def _origin_key(head: str) -> bytes:
    """A tagged line's header as the origin caches hold it: without its PRI, which says nothing of
    sender, pair or time — so that a line finds the reading its batch's counting made (the counting
    key has no PRI either) instead of reading the same header again."""
    return _without_pri(head.encode("utf-8"))


def _without_pri(header: bytes) -> bytes:
    """A header without its leading PRI (and the blanks before it)."""
    pri = PRI_PREFIX_RE.match(header)
    return header[pri.end() :] if pri else header


def _bad_time(at: dt.datetime | None, received: dt.datetime, stamped: bool) -> str | None:
    """Why a device's stamp cannot be used as its event time (None: it can, or there is none).

    A stamp that names no real date, or lies before 1990 or days after the line was received, would
    poison the store's time order and move its pair's clock: its lines are quarantined instead.
    """
    if at is None:
        return "device time is not a real date" if stamped else None
    if at < TIME_FLOOR:
        return f"device time {at:%Y-%m-%d} is before 1990"
    if at > received + MAX_AHEAD:
        return f"device time {at:%Y-%m-%dT%H:%M:%SZ} is more than 2 days after the receive time"
    return None


def _remember(cache: dict[K, V], key: K, value: V) -> V:
    """Keep `value` under `key` in one of the parser's caches, emptied when it holds HEADER_CACHE_MAX
    (what a busy sink sees again soon comes back at once). Returns the value."""
    if len(cache) >= HEADER_CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value


def _line_of(data: bytes, base: int, offset: int) -> int:
    """The line number of the line starting at `offset` (only needed for quarantined lines)."""
    return base + 1 + data.count(b"\n", 0, offset)


def _template(text: str, spans: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> str:
    out, pos = [], 0
    for s, e in spans:
        out.append(text[pos:s])
        pos = e
    out.append(text[pos:])
    return "\x00".join(out)


def _decodes(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
