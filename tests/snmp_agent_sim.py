"""An ASA's SNMP agent, simulated: pysnmp 7's command responder on 127.0.0.1 answering GET/GETNEXT/
GETBULK for CISCO-FIREWALL-MIB cfwHardwareStatusTable from `rows` (tests change them as the unit's
role changes). v2c community `public-ro` and an SNMPv3 authPriv user `hamon-v3`."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

TABLE = (1, 3, 6, 1, 4, 1, 9, 9, 147, 1, 2, 1, 1, 1)
COMMUNITY = "public-ro"
V3_USER, V3_AUTH_KEY, V3_PRIV_KEY = "hamon-v3", "auth-key-123", "priv-key-456"


def primary_active() -> dict[int, list[Any]]:
    """The rows an active primary answers (row -> [information, status value, detail])."""
    return {
        4: ["LAN_FO GigabitEthernet0/3", 2, "LAN_FO GigabitEthernet0/3"],
        6: ["Primary unit (this device)", 9, "Active unit"],
        7: ["Secondary unit", 10, "Standby unit"],
    }


class SnmpAgentSimulator:
    def __init__(self, rows: dict[int, list[Any]]) -> None:
        self.rows = rows
        self.port = 0
        self.requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SnmpAgentSimulator:
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._engine = self._loop.run_until_complete(self._started())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        assert ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None

        def stop() -> None:
            self._engine.transport_dispatcher.job_finished(1)
            self._engine.close_dispatcher()
            assert self._loop is not None
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        assert self._thread is not None
        self._thread.join(10)

    async def _started(self) -> Any:
        return self._start()  # inside the running loop: opening the dispatcher then does not block

    def _start(self) -> Any:
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import cmdrsp, context
        from pysnmp.proto.api import v2c

        snmp = engine.SnmpEngine()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config.add_transport(snmp, udp.DOMAIN_NAME, udp.UdpTransport().open_server_mode(sock=sock))
        config.add_v1_system(snmp, "ro-area", COMMUNITY)
        config.add_v3_user(
            snmp, V3_USER, config.USM_AUTH_HMAC128_SHA224, V3_AUTH_KEY, config.USM_PRIV_CFB128_AES, V3_PRIV_KEY
        )
        config.add_vacm_user(snmp, 2, "ro-area", "noAuthNoPriv", (1, 3, 6))
        config.add_vacm_user(snmp, 3, V3_USER, "authPriv", (1, 3, 6))
        ctx = context.SnmpContext(snmp)
        builder = ctx.get_mib_instrum().get_mib_builder()
        mib_scalar, mib_instance = builder.import_symbols("SNMPv2-SMI", "MibScalar", "MibScalarInstance")
        sim = self

        class Cell(mib_instance):  # type: ignore[misc, valid-type]
            def getValue(self, name: Any, **context: Any) -> Any:
                column, row = self.name[-2], self.name[-1]
                sim.requests += 1
                return self.getSyntax().clone(sim.rows[row][column - 2])

        symbols = []
        for column, syntax in ((2, v2c.OctetString()), (3, v2c.Integer32()), (4, v2c.OctetString())):
            symbols.append(mib_scalar((*TABLE, column), syntax).setMaxAccess("read-only"))
            # A value in the syntax makes the instance exist; getValue reads the current row.
            symbols += [
                Cell((*TABLE, column), (row,), syntax.clone(self.rows[row][column - 2])) for row in sorted(self.rows)
            ]
        builder.export_symbols("__ASA_SIM_FIREWALL_MIB", *symbols)
        cmdrsp.GetCommandResponder(snmp, ctx)
        cmdrsp.NextCommandResponder(snmp, ctx)
        cmdrsp.BulkCommandResponder(snmp, ctx)
        snmp.transport_dispatcher.job_started(1)
        snmp.open_dispatcher()
        return snmp
