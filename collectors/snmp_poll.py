"""CISCO-FIREWALL-MIB cfwHardwareStatusTable polls (pysnmp 7), on a thread with its own event loop.

The table (1.3.6.1.4.1.9.9.147.1.2.1.1.1; columns .2 information, .3 status value, .4 detail) has a
row for the failover LAN interface (.4: up 2 / down 3; 3 with `not Configured` when failover is off,
which is no link to watch rather than a failed one) and one per unit (.6 primary, .7 secondary:
active 9 / standby 10, 3 with `Failover Off`); the unit that answers names itself `(this device)`.
It is another witness of each unit's role and of the failover link: a change since the unit's
previous poll becomes events for the correlator (kind `polled_state`, and the failover link as
105031/105032), as `show failover` polls do. The table cannot tell Standby Ready from a unit still
syncing, so its `standby` does not end a sync the correlator knows of; it carries no reason and no
time (the poll's time is used). Polls that fail are counted per unit with the reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hamon.bus import Bus
from hamon.bus.counters import Counters
from hamon.errors import ConfigError
from hamon.model import PolledEvents
from hamon.poll.events import snmp_hardware_events
from hamon.poll.runner import PollerThread, unit_addresses

TABLE = "1.3.6.1.4.1.9.9.147.1.2.1.1.1"
STATUS = {1: "other", 2: "up", 3: "down", 4: "error", 5: "overTemp", 6: "busy", 7: "noMedia", 8: "backup", 9: "active", 10: "standby"}  # fmt: skip


@dataclass(frozen=True)
class HardwareStatus:
    """cfwHardwareStatusTable as one unit answered it."""

    this_unit: str | None  # the unit that answered ("(this device)")
    roles: dict[str, str]  # unit -> "active" | "standby" | "failover off" | other status name
    failover_link: str | None  # "up" | "down" | ...
    rows: dict[int, tuple[str, int, str]]  # row -> (information, status value, detail)

    def to_json(self) -> dict[str, Any]:
        return {
            "this_unit": self.this_unit,
            "roles": self.roles,
            "failover_link": self.failover_link,
            "rows": {
                str(k): {"information": i, "status": s, "detail": d} for k, (i, s, d) in sorted(self.rows.items())
            },
        }


def read_table(cells: dict[tuple[int, int], Any]) -> HardwareStatus:
    """The table from (column, row) -> value, as a walk returned it."""
    rows: dict[int, tuple[str, int, str]] = {}
    for row in sorted({r for _, r in cells}):
        info = str(cells.get((2, row), ""))
        value = int(cells[(3, row)]) if (3, row) in cells else 0
        detail = str(cells.get((4, row), ""))
        rows[row] = (info, value, detail)
    this_unit = None
    roles: dict[str, str] = {}
    for row, unit in ((6, "primary"), (7, "secondary")):
        if row not in rows:
            continue
        info, value, detail = rows[row]
        if "this device" in info.lower():
            this_unit = unit
        roles[unit] = "failover off" if "failover off" in detail.lower() else STATUS.get(value, str(value))
    link = STATUS.get(rows[4][1]) if 4 in rows else None
    if 4 in rows and "not configured" in rows[4][2].lower():
        link = None  # failover is off: the row's `down` (3) says there is no failover link, not a failed one
    return HardwareStatus(this_unit, roles, link, rows)


@dataclass
class SnmpTarget:
    pair: str
    host: str
    port: int = 161
    previous: HardwareStatus | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def auth_data(settings: dict[str, str]) -> Any:
    """pysnmp credentials from `snmp_poll` settings: {community} or {user, auth, auth_key, priv, priv_key}."""
    from pysnmp.hlapi.v3arch.asyncio import CommunityData, UsmUserData

    if settings.get("community"):
        return CommunityData(settings["community"], mpModel=1)
    if settings.get("user"):
        from hamon.collectors.snmp_trap import protocols

        auths, privs = protocols()
        auth, priv = (settings.get("auth") or "").upper(), (settings.get("priv") or "").upper()
        if (auth and auth not in auths) or (priv and priv not in privs):
            raise ConfigError(f"snmp_poll: unknown protocol {auth if auth not in auths else priv!r}")
        return UsmUserData(
            settings["user"],
            authKey=settings.get("auth_key") if auth else None,
            privKey=settings.get("priv_key") if priv else None,
            authProtocol=auths[auth] if auth else None,
            privProtocol=privs[priv] if priv else None,
        )
    raise ConfigError("SNMP polls need a community (--snmp-poll-community) or an SNMPv3 user (snmp_poll.user)")


class SnmpPoller(PollerThread):
    """Walks cfwHardwareStatusTable on every target every `interval` seconds until stopped."""

    transport = "snmp-poll"
    name = "hamon-snmp-poll"
    default_port = 161

    def __init__(
        self, targets: list[SnmpTarget], auth: Any, interval: float, bus: Bus, counters: Counters, timeout: float = 5.0
    ) -> None:
        super().__init__(interval, timeout)
        self.targets = targets
        self.auth = auth
        self.bus = bus
        self.counters = counters
        self.engine: Any = None

    async def setup(self) -> None:
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

        self.engine = SnmpEngine()

    async def teardown(self) -> None:
        self.engine.close_dispatcher()

    async def poll_round(self) -> None:
        await asyncio.gather(*(self.poll(self.engine, t) for t in self.targets))

    async def poll(self, engine: Any, t: SnmpTarget) -> None:
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, UdpTransportTarget, walk_cmd

        at = dt.datetime.now(dt.UTC)
        summary = self.begin(t, at)
        label = summary["host"]
        cells: dict[tuple[int, int], Any] = {}
        prefix = tuple(int(x) for x in TABLE.split("."))
        try:
            target = await UdpTransportTarget.create((t.host, t.port), timeout=self.timeout, retries=1)
            async for err, status, _index, binds in walk_cmd(
                engine, self.auth, target, ContextData(), ObjectType(ObjectIdentity(TABLE)), lexicographicMode=False
            ):
                if err or status:
                    raise RuntimeError(str(err or status.prettyPrint()))
                for oid, value in binds:
                    name = tuple(oid)
                    if name[: len(prefix)] == prefix and len(name) == len(prefix) + 2:
                        cells[(name[-2], name[-1])] = value.prettyPrint() if name[-2] != 3 else int(value)
        except Exception as exc:  # a timeout, an unknown user, a refused request: counted, shown, survived
            self.failed(t, summary, str(exc) or type(exc).__name__)
            return
        if not cells:
            self.failed(t, summary, "cfwHardwareStatusTable is empty")
            return
        hw = read_table(cells)
        self.counters.receive(self.transport, label)
        before = (t.previous.roles, t.previous.failover_link) if t.previous else None
        events = snmp_hardware_events(hw.this_unit, hw.roles, hw.failover_link, before, t.pair, at)
        t.previous = hw
        if events:
            self.bus.publish(PolledEvents(tuple(events), label, self.transport), block=True)
        t.summary = {**summary, "ok": True, "error": None, "hardware": hw.to_json()}


def snmp_targets_from(inventory: Any) -> list[SnmpTarget]:
    """The units under each pair's `snmp_poll:` in the inventory."""
    return [SnmpTarget(pair, host, port) for pair, host, port in unit_addresses(inventory, "snmp_poll", 161)]
