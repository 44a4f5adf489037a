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

from hamon.parse.timestamps import zone

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


def device_time(stamp: str, default_zone: str = "UTC") -> dt.datetime:
    """`03:11:52 UTC Nov 24 2026` as UTC; a zone abbreviation hamon does not know uses `default_zone`."""
    m = re.fullmatch(r"(\d+):(\d+):(\d+)\s+(\S+)\s+(\w{3})\s+(\d+)\s+(\d{4})", stamp.strip())
    if not m or m.group(5) not in MONTHS:
        raise CliParseError(f"not a device time: {stamp!r}")
    hh, mm, ss, tzname, mon, day, year = m.groups()
    try:
        tz = zone(tzname)
    except Exception:
        tz = zone(default_zone)
    local = dt.datetime(int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    return local.astimezone(dt.UTC)


def parse_show_failover(text: str) -> FailoverStatus:
    """`show failover` of one unit; raises CliParseError on output that is not it."""
    if not re.search(r"^\s*Failover\s+(On|Off)\b", text, re.M):
        raise CliParseError("not `show failover` output (no `Failover On|Off` line)")
    enabled = bool(re.search(r"^\s*Failover\s+On\b", text, re.M))
    ntc: dict[str, Any] = {}
    try:
        from ntc_templates.parse import parse_output

        found = parse_output(platform="cisco_asa", command="show failover", data=text)
        ntc = found[0] if found else {}
    except Exception:  # ntc's template refuses Active/Active's indented group layout
        ntc = {}
    own = [r for r in _rows("cisco_asa_show_failover_hamon", text)]
    first = own[0] if own else {}
    hosts = tuple(
        HostState(r["HOST_UNIT"].lower(), r["HOST"] == "This", int(r["GROUP"]) if r["GROUP"] else None, r["STATE"])
        for r in own
        if r["STATE"] and r["HOST_UNIT"]
    )
    interfaces: dict[str, str] = {}
    for ctx, name, status in zip(
        ntc.get("interfaces_context", []), ntc.get("interfaces", []), ntc.get("interfaces_status", []), strict=False
    ):
        interfaces[name if ctx in ("None", "", None) else f"{ctx}/{name}"] = status
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
    )


def _version(text: str, whose: str) -> str | None:
    m = re.search(rf"^\s*Version:.*?{whose}\s+([^,\s]+)", text, re.M)
    return m.group(1) if m else None


def parse_history(text: str, default_zone: str = "UTC") -> list[HistoryRow]:
    """`show failover history`, oldest first as the device prints it."""
    rows = []
    for r in _rows("cisco_asa_show_failover_history", text):
        if not r["TIME"]:
            continue
        stamp = f"{r['TIME']} {r['ZONE']} {r['MONTH']} {r['DAY']} {r['YEAR']}"
        rows.append(
            HistoryRow(
                at=device_time(stamp, default_zone),
                peer=r["SECTION"] == "PEER",
                group=int(r["GROUP"]) if r["GROUP"] else None,
                from_state=r["FROM"],
                to_state=r["TO"],
                reason=r["REASON"],
            )
        )
    return rows


def parse_state(text: str, default_zone: str = "UTC") -> list[dict[str, Any]]:
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
                "last_failure_at": device_time(r["STAMP"], default_zone) if r["STAMP"] else None,
            }
        )
    return out
