"""SNMP traps as hamon reads them, live or from a file: one decoding for both.

A trap is its sender, the time it arrived and its varbinds (numeric OIDs without a leading dot, each
with an integer or a text value). `decode` gives what it means to hamon:

- CISCO-SYSLOG-MIB clogMessageGenerated: the syslog message it carries, `%ASA-<sev>-<id>: <text>`
  (clogHistSeverity is the syslog level plus one), parsed like the syslog line it is;
- CISCO-UNIFIED-FIREWALL-MIB cufwFailoverStateChanged: a failover group's HA state on the sender;
- any other trap: counted, not hamon's.

Files come in two formats, told apart by their first character:

- hamon's trap capture, one JSON object a line, what `hamon serve` writes for every trap it accepts
  (`{"at": "2026-12-07T14:24:55.123456Z", "source": "10.0.0.1", "binds": [["1.3.6…", "text"], …]}`);
- snmptrapd's log (`snmptrapd -f -Lf FILE`, its default output format, or `-F` left unset): a line
  `YYYY-MM-DD HH:MM:SS host [UDP: [addr]:port->[addr]:port]:` and the varbinds on the next, tab
  separated (SNMPv2c and v3), or for SNMPv1 `… host [agent] (via UDP: …) TRAP, SNMP v1, community C`,
  a tab and `<enterprise> Enterprise Specific Trap (N) Uptime: …`, a tab and the varbinds. OIDs may be
  numeric (`-On`), `iso.3.6.1…` (no MIBs loaded) or named by the MIBs hamon reads. snmptrapd stamps
  the receiving host's local time without a zone: `--tz` says which.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hamon.parse import mibs

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
CLOG_MESSAGE_GENERATED = "1.3.6.1.4.1.9.9.41.2.0.1"
CLOG_HIST = "1.3.6.1.4.1.9.9.41.1.2.3.1"  # .2 facility, .3 severity, .4 msg name (the id), .5 text
UTC = dt.UTC

# MIB object names snmptrapd prints when the MIBs are loaded, as OID prefixes.
NAMES = {
    "iso": "1",
    "SNMPv2-SMI::enterprises": "1.3.6.1.4.1",
    "SNMPv2-SMI::mib-2": "1.3.6.1.2.1",
    "SNMPv2-SMI::internet": "1.3.6.1",
    "SNMPv2-MIB::snmpTrapOID": "1.3.6.1.6.3.1.1.4.1",
    "SNMPv2-MIB::sysUpTime": "1.3.6.1.2.1.1.3",
    "DISMAN-EVENT-MIB::sysUpTimeInstance": SYS_UPTIME,
    "CISCO-SYSLOG-MIB::clogMessageGenerated": CLOG_MESSAGE_GENERATED,
    "CISCO-SYSLOG-MIB::clogHistFacility": CLOG_HIST + ".2",
    "CISCO-SYSLOG-MIB::clogHistSeverity": CLOG_HIST + ".3",
    "CISCO-SYSLOG-MIB::clogHistMsgName": CLOG_HIST + ".4",
    "CISCO-SYSLOG-MIB::clogHistMsgText": CLOG_HIST + ".5",
    "CISCO-SYSLOG-MIB::clogHistTimestamp": CLOG_HIST + ".6",
    "CISCO-UNIFIED-FIREWALL-MIB::cufwFailoverStateChanged": mibs.CUFW_FAILOVER_STATE_CHANGED,
    "CISCO-UNIFIED-FIREWALL-MIB::cufwFOGroupIndex": mibs.CUFW_FO_GROUP_INDEX,
    "CISCO-UNIFIED-FIREWALL-MIB::cufwFOGrpHAstate": mibs.CUFW_FO_GRP_HA_STATE,
}
MAX_BINDS = 64  # a trap hamon reads has a handful; more is not a trap of these MIBs
MAX_TEXT = 4096  # characters of one value kept


@dataclass(frozen=True, slots=True)
class Trap:
    """One trap as it arrived: when, from whom, and its varbinds (numeric OID, value)."""

    at: dt.datetime
    source: str
    binds: tuple[tuple[str, int | str], ...]

    def get(self, oid: str) -> int | str | None:
        return next((v for o, v in self.binds if o == oid), None)

    def column(self, column: str) -> tuple[str, int | str] | None:
        """(instance index, value) of the first varbind of a table column."""
        for oid, value in self.binds:
            if oid.startswith(column + "."):
                return oid[len(column) + 1 :], value
        return None

    def to_line(self) -> bytes:
        """The trap in hamon's capture format: one JSON object, one line (no newline)."""
        at = self.at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        doc = {"at": at, "source": self.source, "binds": [list(b) for b in self.binds]}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Syslog:
    """clogMessageGenerated: the syslog message the trap carries."""

    line: bytes


@dataclass(frozen=True, slots=True)
class GroupState:
    """cufwFailoverStateChanged: group (None in Active/Standby) now in `state` on the sender."""

    group: int | None
    state: str


@dataclass(frozen=True, slots=True)
class Other:
    """A trap of another MIB (counted, not hamon's)."""

    oid: str


@dataclass(frozen=True, slots=True)
class Bad:
    """A trap of the MIBs hamon reads without what they define (the reason is counted per sender)."""

    reason: str


Meaning = Syslog | GroupState | Other | Bad


def decode(trap: Trap) -> Meaning:
    """What a trap means to hamon (never raises)."""
    oid = str(trap.get(SNMP_TRAP_OID) or "")
    if oid == mibs.CUFW_FAILOVER_STATE_CHANGED:
        return _group_state(trap)
    if oid != CLOG_MESSAGE_GENERATED:
        return Other(oid)
    found = trap.column(CLOG_HIST + ".4")
    row = found[0] if found else None
    try:
        severity = int(trap.get(f"{CLOG_HIST}.3.{row}"))  # type: ignore[arg-type]
        msg_id = trap.get(f"{CLOG_HIST}.4.{row}")
        text = trap.get(f"{CLOG_HIST}.5.{row}")
    except (TypeError, ValueError):
        return Bad("clogMessageGenerated without severity, name or text")
    if row is None or msg_id is None or text is None:
        return Bad("clogMessageGenerated without severity, name or text")
    line = f"%ASA-{min(max(severity - 1, 0), 7)}-{msg_id}: {text}".replace("\n", " ")
    return Syslog(line.encode("utf-8", "replace"))


def _group_state(trap: Trap) -> Meaning:
    group = trap.column(mibs.CUFW_FO_GROUP_INDEX)
    state = trap.column(mibs.CUFW_FO_GRP_HA_STATE)
    if state is None:
        return Bad("cufwFailoverStateChanged without cufwFOGrpHAstate")
    try:
        index = int(group[1]) if group is not None else int(state[0])
        value = int(state[1])
    except (TypeError, ValueError):
        return Bad("cufwFailoverStateChanged with values out of its MIB")
    if index not in mibs.CUFW_FO_GROUP_ID or value not in mibs.HARDWARE_STATUS:
        return Bad("cufwFailoverStateChanged with values out of its MIB")
    return GroupState(index or None, mibs.HARDWARE_STATUS[value])


def plain(value: Any) -> int | str:
    """A pysnmp value as the capture keeps it: integers as int, OIDs dotted, octets as text."""
    from pyasn1.type import univ

    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    if isinstance(value, univ.OctetString):
        return str(value.asOctets().decode("utf-8", "replace"))[:MAX_TEXT]
    return str(value)[:MAX_TEXT]


# -- files -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A line or block of a trap file that is not a trap in either format, with its line number."""

    line_no: int
    raw: bytes
    reason: str


V2_HEAD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S*) \[(?P<transport>.*)\]:\s*$")
V1_HEAD = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S*) \[(?P<agent>[^\]]*)\] \(via (?P<transport>.*)\) TRAP, SNMP v1\b.*$"
)
V1_TRAP = re.compile(r"^\t?(?P<enterprise>\S+) (?P<what>.*?) Trap \((?P<specific>\d+)\) Uptime:")
ADDRESS = re.compile(r"\[([0-9A-Fa-f:.]+)\]")
BIND = re.compile(r'\t?(?P<oid>[^\s=]+) = (?:(?P<type>[A-Za-z0-9-]+): ?)?(?P<value>"(?:[^"\\]|\\.)*"|[^\t]*)')
GENERIC = {"Cold Start": 0, "Warm Start": 1, "Link Down": 2, "Link Up": 3, "Authentication Failure": 4}


def read(data: bytes, tz: dt.tzinfo = UTC) -> Iterator[Trap | Unreadable]:
    """The traps of a file in either format, in file order; what is neither is Unreadable (lines
    snmptrapd writes about itself, its version or missing MIBs, are skipped: they are not traps)."""
    if data.lstrip()[:1] == b"{":
        yield from _capture(data)
    else:
        yield from _snmptrapd(data, tz)


def _capture(data: bytes) -> Iterator[Trap | Unreadable]:
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
            at = dt.datetime.fromisoformat(doc["at"].replace("Z", "+00:00"))
            if at.tzinfo is None:
                raise ValueError("a time without a zone")
            binds = tuple((str(o), v if isinstance(v, int) else str(v)) for o, v in doc["binds"][:MAX_BINDS])
            yield Trap(at, str(doc["source"]), binds)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            yield Unreadable(n, raw, f"not a trap capture line: {exc}")


def _snmptrapd(data: bytes, tz: dt.tzinfo) -> Iterator[Trap | Unreadable]:
    lines = data.decode("utf-8", "replace").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        head = V1_HEAD.match(line) or V2_HEAD.match(line)
        if head is None:
            i += 1  # snmptrapd's words about itself (version, MIB search path, stopping)
            continue
        start = i + 1
        try:
            at = dt.datetime.strptime(head.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz).astimezone(UTC)
        except (ValueError, OverflowError):
            i += 1
            yield Unreadable(start, line.encode(), f"snmptrapd trap with an impossible time {head.group(1)!r}")
            continue
        if "agent" in head.groupdict():
            found = ADDRESS.search(f"[{head.group('agent')}]")
            trap_line = lines[i + 1] if i + 1 < len(lines) else ""
            v1 = V1_TRAP.match(trap_line)
            binds_line = lines[i + 2] if i + 2 < len(lines) else ""
            i += 3
            if v1 is None:
                yield Unreadable(start, line.encode(), "snmptrapd SNMPv1 trap without its trap line")
                continue
            enterprise = _oid(v1.group("enterprise"))
            if v1.group("what") == "Enterprise Specific":
                trap_oid = f"{enterprise}.0.{v1.group('specific')}"
            else:
                trap_oid = f"1.3.6.1.6.3.1.1.5.{GENERIC.get(v1.group('what'), 0) + 1}"
            prefix: tuple[tuple[str, int | str], ...] = ((SNMP_TRAP_OID, trap_oid),)
        else:
            found = ADDRESS.search(head.group("transport"))
            binds_line = lines[i + 1] if i + 1 < len(lines) else ""
            i += 2
            prefix = ()
        source = found.group(1) if found else head.group(2)
        binds = _binds(binds_line)
        if binds is None or not (prefix or binds):
            yield Unreadable(start, line.encode(), "snmptrapd trap without readable varbinds")
            continue
        yield Trap(at, source, prefix + binds)


def _binds(line: str) -> tuple[tuple[str, int | str], ...] | None:
    out: list[tuple[str, int | str]] = []
    pos = 0
    line = line.rstrip("\r")
    if not line.strip():
        return ()  # an SNMPv1 trap may carry no varbinds
    while pos < len(line) and len(out) < MAX_BINDS:
        m = BIND.match(line, pos)
        if m is None:
            return None
        out.append((_oid(m.group("oid")), _value(m.group("type") or "", m.group("value"))))
        pos = m.end()
    return tuple(out)


def _oid(text: str) -> str:
    text = text.strip().lstrip(".")
    name, _, rest = text.partition(".")
    for candidate in (text, name):
        if candidate in NAMES:
            base = NAMES[candidate]
            tail = "" if candidate == text else rest
            return f"{base}.{tail}" if tail else base
    return text


def _value(kind: str, value: str) -> int | str:
    value = value.strip()
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        return re.sub(r"\\(.)", r"\1", value[1:-1])[:MAX_TEXT]
    if kind == "Hex-STRING":
        try:
            return bytes.fromhex(value).decode("utf-8", "replace")[:MAX_TEXT]
        except ValueError:
            return value[:MAX_TEXT]
    if kind == "OID":
        return _oid(value)
    if kind in ("INTEGER", "Gauge32", "Counter32", "Counter64", "Unsigned32", "Timeticks"):
        m = re.search(r"\((-?\d+)\)", value) or re.match(r"-?\d+", value)  # `active(9)`, `(4640938) 12:53…`
        if m:
            return int(m.group(1) if m.groups() else m.group(0))
    return value[:MAX_TEXT]
