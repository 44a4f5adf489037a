"""`show failover`, `show failover history` and `show failover state` parsed with TextFSM.

ntc-templates' `cisco_asa_show_failover` gives what it covers (failover on/off, the unit, the
failover link, versions, each host's state and its interfaces' statuses in Active/Standby). It has
no poll or hold times, interface policy, monitored interface count or state link, and it stops
with an error on the indented per-group layout that Active/Active units print; hamon's own
template (`templates/cisco_asa_show_failover_hamon.textfsm`) reads those, and the two are merged.
`show failover history` and `show failover state` have no ntc template: hamon's own read them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import textfsm

from hamon.model import iso
from hamon.poll.zones import ZoneError, device_zone

TEMPLATES = Path(__file__).with_name("templates")
MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}


class CliParseError(ValueError):
    """Output that the templates cannot read (not an ASA, or not the command's output)."""


@dataclass(frozen=True)
class HostState:
    """One unit's state as a `show failover` sees it, per failover group in Active/Active."""

    unit: str  # "primary" | "secondary"
    this: bool  # the polled unit itself
    group: int | None
    state: str  # the device's words: "Active", "Standby Ready", "Failed", "Cold Standby", ...


@dataclass(frozen=True)
class FailoverStatus:
    """`show failover` of one unit."""

    enabled: bool
    unit: str | None  # the polled unit: "primary" | "secondary"
    failover_link: str | None  # "up" | "down" | ...
    failover_link_name: str | None
    state_link: str | None
    our_version: str | None
    mate_version: str | None
    unit_polltime: float | None
    unit_holdtime: float | None
    interface_polltime: float | None
    interface_holdtime: float | None
    interface_policy: str | None
    monitored_interfaces: int | None
    hosts: tuple[HostState, ...] = ()
    interfaces: dict[str, str] = field(default_factory=dict)  # this host's "ctx/name" -> status
    # unit -> "ctx/name" -> {"status": ..., "monitoring": ...} for both hosts (why the peer failed)
    host_interfaces: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    last_failover_at: dict[str, dt.datetime] = field(default_factory=dict)  # "unit" or "group N"
    warnings: tuple[str, ...] = ()  # what could not be read (counted on the poll, shown to the user)

    @property
    def mode(self) -> str:
        return "active-active" if any(h.group for h in self.hosts) else "active-standby"

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "unit": self.unit,
            "mode": self.mode,
            "failover_link": self.failover_link,
            "failover_link_name": self.failover_link_name,
            "state_link": self.state_link,
            "our_version": self.our_version,
            "mate_version": self.mate_version,
            "unit_polltime": self.unit_polltime,
            "unit_holdtime": self.unit_holdtime,
            "interface_polltime": self.interface_polltime,
            "interface_holdtime": self.interface_holdtime,
            "interface_policy": self.interface_policy,
            "monitored_interfaces": self.monitored_interfaces,
            "hosts": [{"unit": h.unit, "this": h.this, "group": h.group, "state": h.state} for h in self.hosts],
            "interfaces": self.interfaces,
            "host_interfaces": self.host_interfaces,
            "last_failover_at": {k: iso(v) for k, v in sorted(self.last_failover_at.items())},
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class HistoryRow:
    """One row of `show failover history`, with the device's own time (UTC)."""

    at: dt.datetime
    peer: bool  # from the peer's history (newer releases print it after this unit's)
    group: int | None
    from_state: str
    to_state: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "peer": self.peer,
            "group": self.group,
            "from": self.from_state,
            "to": self.to_state,
            "reason": self.reason,
        }


@cache
def _template(name: str) -> str:
    return (TEMPLATES / f"{name}.textfsm").read_text()


def _rows(name: str, text: str) -> list[dict[str, Any]]:
    import io

    try:
        fsm = textfsm.TextFSM(io.StringIO(_template(name)))
        return [dict(r) for r in fsm.ParseTextToDicts(text)]
    except textfsm.TextFSMError as exc:
        raise CliParseError(f"{name}: {exc}") from exc


def _seconds(value: str | None, unit: str | None) -> float | None:
    if not value:
        return None
    return int(value) / 1000 if unit in ("milliseconds", "msec") else float(int(value))


def device_time(stamp: str, tz: str | None = None) -> dt.datetime:
    """`03:11:52 UTC Nov 24 2026` as UTC. The zone abbreviation is read as the device meant it
    (`hamon.poll.zones`); one that cannot be read without guessing is a CliParseError."""
    m = re.fullmatch(r"(\d+):(\d+):(\d+)\s+(\S+)\s+(\w{3})\s+(\d+)\s+(\d{4})", stamp.strip())
    if not m or m.group(5) not in MONTHS:
        raise CliParseError(f"not a device time: {stamp!r}")
    hh, mm, ss, tzname, mon, day, year = m.groups()
    try:
        local = dt.datetime(int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss))
        return local.replace(tzinfo=device_zone(tzname, local, tz)).astimezone(dt.UTC)
    except ZoneError as exc:
        raise CliParseError(f"{stamp!r}: {exc}") from exc
    except ValueError as exc:
        raise CliParseError(f"not a device time: {stamp!r} ({exc})") from exc


LAST_FAILOVER_RE = re.compile(
    r"^\s*(?:Group\s+(?P<group>\d+)\s+)?last\s+failover\s+at:\s+(?P<stamp>\d+:\d+:\d+\s+\S+\s+\w{3}\s+\d+\s+\d{4})",
    re.M | re.I,
)


def parse_show_failover(text: str, tz: str | None = None) -> FailoverStatus:
    """`show failover` of one unit; raises CliParseError on output that is not it."""
    if not re.search(r"^\s*Failover\s+(On|Off)\b", text, re.M):
        raise CliParseError("not `show failover` output (no `Failover On|Off` line)")
    enabled = bool(re.search(r"^\s*Failover\s+On\b", text, re.M))
    warnings: list[str] = []
    ntc: dict[str, Any] = {}
    try:
        from ntc_templates.parse import parse_output

        found = parse_output(platform="cisco_asa", command="show failover", data=text)
        ntc = found[0] if found else {}
    except Exception as exc:  # ntc's template stops on layouts it does not know (Active/Active's indent)
        warnings.append(f"ntc-templates cisco_asa_show_failover: {str(exc).splitlines()[0][:200]}")
    own = _rows("cisco_asa_show_failover_hamon", text)
    first = own[0] if own else {}
    hosts = tuple(
        HostState(r["HOST_UNIT"].lower(), r["HOST"] == "This", int(r["GROUP"]) if r["GROUP"] else None, r["STATE"])
        for r in own
        if r["STATE"] and r["HOST_UNIT"]
    )
    host_interfaces: dict[str, dict[str, dict[str, str | None]]] = {}
    interfaces: dict[str, str] = {}
    for r in _rows("cisco_asa_show_failover_interfaces", text):
        if not r["NAME"] or not r["HOST_UNIT"]:
            continue
        name = f"{r['CONTEXT']}/{r['NAME']}" if r["CONTEXT"] else r["NAME"]
        status = r["STATUS"].strip()
        host_interfaces.setdefault(r["HOST_UNIT"].lower(), {})[name] = {
            "status": status,
            "monitoring": r["MONITORING"] or None,
        }
        if r["HOST"] == "This":
            interfaces[name] = status
    if re.search(r"^\s*(?:\S+\s+)?Interface\s+\S+\s+\(", text, re.M) and not host_interfaces:
        warnings.append("interface lines present but none read")
    last: dict[str, dt.datetime] = {}
    for m in LAST_FAILOVER_RE.finditer(text):
        key = f"group {m.group('group')}" if m.group("group") else "unit"
        try:
            last[key] = device_time(m.group("stamp"), tz)
        except CliParseError as exc:
            warnings.append(f"last failover time: {exc}")
    unit = (first.get("UNIT") or ntc.get("role") or "").lower() or None
    return FailoverStatus(
        enabled=enabled,
        unit=unit,
        failover_link=(ntc.get("lan_intf_state") or first.get("LAN_STATE") or None),
        failover_link_name=(ntc.get("lan_intf_name") or first.get("LAN_NAME") or None),
        state_link=next((r["STATE_LINK_STATE"] for r in reversed(own) if r["STATE_LINK_STATE"]), None),
        our_version=ntc.get("sw_version") or _version(text, "Ours"),
        mate_version=ntc.get("sw_version_mate") or _version(text, "Mate"),
        unit_polltime=_seconds(first.get("UNIT_POLL"), first.get("UNIT_POLL_UNIT")),
        unit_holdtime=_seconds(first.get("UNIT_HOLD"), first.get("UNIT_HOLD_UNIT")),
        interface_polltime=_seconds(first.get("IF_POLL"), first.get("IF_POLL_UNIT")),
        interface_holdtime=_seconds(first.get("IF_HOLD"), first.get("IF_HOLD_UNIT")),
        interface_policy=first.get("IF_POLICY") or None,
        monitored_interfaces=int(first["MONITORED"]) if first.get("MONITORED") else None,
        hosts=hosts,
        interfaces=interfaces,
        host_interfaces=host_interfaces,
        last_failover_at=last,
        warnings=tuple(warnings),
    )


def _version(text: str, whose: str) -> str | None:
    m = re.search(rf"^\s*Version:.*?{whose}\s+([^,\s]+)", text, re.M)
    return m.group(1) if m else None


STAMP_LINE_RE = re.compile(r"^\s*\d+:\d+:\d+\s+\S+\s+\w{3}\s+\d+\s+\d{4}\s*$", re.M)


def parse_history(text: str, tz: str | None = None) -> list[HistoryRow]:
    """`show failover history`, oldest first as the device prints it.

    Every stamp the output holds must give a row: a stamp whose row the template cannot read is
    an error (a layout hamon does not know yet), never a silently shorter history.
    """
    rows = []
    for r in _rows("cisco_asa_show_failover_history", text):
        if not (r["TIME"] and r["FROM"] and r["TO"]):
            continue
        stamp = f"{r['TIME']} {r['ZONE']} {r['MONTH']} {r['DAY']} {r['YEAR']}"
        rows.append(
            HistoryRow(
                at=device_time(stamp, tz),
                peer=r["SECTION"] == "PEER",
                group=int(r["GROUP"]) if r["GROUP"] else None,
                from_state=r["FROM"],
                to_state=r["TO"],
                reason=r["REASON"],
            )
        )
    stamps = len(STAMP_LINE_RE.findall(text))
    if stamps != len(rows):
        raise CliParseError(
            f"show failover history: {stamps} stamped rows, {len(rows)} read (a layout hamon does not know)"
        )
    return rows


def parse_state(text: str, tz: str | None = None) -> list[dict[str, Any]]:
    """`show failover state`: per host (and group) the state and the last failure with its time."""
    out = []
    for r in _rows("cisco_asa_show_failover_state", text):
        if not r["STATE"]:
            continue
        reason = None if r["REASON"] in ("None", "") else r["REASON"]
        out.append(
            {
                "unit": r["HOST_UNIT"].lower(),
                "this": r["HOST"] == "This",
                "group": int(r["GROUP"]) if r["GROUP"] else None,
                "state": r["STATE"],
                "last_failure": reason,
                "last_failure_at": device_time(r["STAMP"], tz) if r["STAMP"] else None,
            }
        )
    if re.search(r"^\s*(This|Other)\s+host\s+-", text, re.M) and not out:
        raise CliParseError("show failover state: hosts listed but no state read (a layout hamon does not know)")
    return out


def parse_interfaces(text: str) -> list[dict[str, Any]]:
    """`show failover interface`: the failover and state links and their addresses."""
    out = [
        {
            "name": r["NAME"],
            "physical": r["PHYSICAL"],
            "system_ip": r["SYSTEM_IP"] or None,
            "system_mask": r["SYSTEM_MASK"] or None,
            "my_ip": r["MY_IP"] or None,
            "other_ip": r["OTHER_IP"] or None,
        }
        for r in _rows("cisco_asa_show_failover_interface", text)
        if r["NAME"]
    ]
    if not out:
        raise CliParseError("show failover interface: no interface read")
    return out
