"""SNMP traps (pysnmp 7): v2c communities and SNMPv3 users, on a thread with its own event loop.

A trap is decoded by `hamon.parse.traps`, as a trap from a file is: CISCO-SYSLOG-MIB
clogMessageGenerated becomes the same message as the syslog line, `%ASA-<sev>-<id>: <text>`;
cufwFailoverStateChanged a group's HA state. Each accepted trap is also kept raw (`TrapCapture`), so
that `hamon replay --traps` can derive it again. Security is enforced here as well as by
pysnmp: pysnmp 7 hands the receiver a trap that names an authPriv user but came with less
(noAuthNoPriv, authNoPriv), so the message's security model and level are checked against the
user's before anything is accepted. Traps pysnmp itself refuses (wrong community, unknown user,
wrong key, unknown engine id) are counted from its statistics.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hamon.bus import Bus
from hamon.bus.counters import Counters
from hamon.errors import ConfigError
from hamon.model import PolledEvents, RawBatch
from hamon.parse import traps
from hamon.poll.events import ha_state_event

LEVELS = {1: "noAuthNoPriv", 2: "authNoPriv", 3: "authPriv"}
LOG_EVERY = 60.0  # seconds between two log lines of one sender and reason
log = logging.getLogger("hamon.serve")
STATS = {  # pysnmp's own counters of what it refused
    ("__SNMPv2-MIB", "snmpInBadCommunityNames"): "unknown community",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames"): "unknown user",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests"): "wrong authentication key",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors"): "wrong privacy key",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownEngineIDs"): "unknown engine id",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsNotInTimeWindows"): "not in time window",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnsupportedSecLevels"): "unsupported security level",
}


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 user as the firewall sends with it; the level follows from the keys given."""

    name: str
    engine_id: str  # the sender's engine id, hex (traps are sent with the agent's own engine id)
    auth: str | None = None  # MD5, SHA, SHA224, SHA256, SHA384, SHA512
    auth_key: str | None = None
    priv: str | None = None  # DES, 3DES, AES, AES192, AES256
    priv_key: str | None = None

    @property
    def level(self) -> int:
        return 3 if self.priv else 2 if self.auth else 1


def protocols() -> tuple[dict[str, Any], dict[str, Any]]:
    from pysnmp.entity import config

    auth = {
        "MD5": config.USM_AUTH_HMAC96_MD5,
        "SHA": config.USM_AUTH_HMAC96_SHA,
        "SHA224": config.USM_AUTH_HMAC128_SHA224,
        "SHA256": config.USM_AUTH_HMAC192_SHA256,
        "SHA384": config.USM_AUTH_HMAC256_SHA384,
        "SHA512": config.USM_AUTH_HMAC384_SHA512,
    }
    priv = {
        "DES": config.USM_PRIV_CBC56_DES,
        "3DES": config.USM_PRIV_CBC168_3DES,
        "AES": config.USM_PRIV_CFB128_AES,
        "AES128": config.USM_PRIV_CFB128_AES,
        "AES192": config.USM_PRIV_CFB192_AES,
        "AES256": config.USM_PRIV_CFB256_AES,
    }
    return auth, priv


class SnmpTrapReceiver:
    """One trap listener (UDP)."""

    transport = "snmp"

    def __init__(
        self,
        host: str,
        port: int,
        bus: Bus,
        counters: Counters,
        communities: list[str],
        users: list[V3User],
        resolve: Callable[[str | None, str], str] | None = None,
        capture: TrapCapture | None = None,
    ) -> None:
        if not communities and not users:
            raise ConfigError("--snmp-trap needs --snmp-community or an SNMPv3 user")
        self.resolve = resolve or (lambda device_id, source: device_id or source)  # the pair of a sender
        self.bus = bus
        self.counters = counters
        self.capture = capture  # every accepted trap, raw, for `hamon replay --traps`
        self.users = {u.name: u for u in users}
        self._seen_stats: dict[str, int] = {}
        self._outcome: str | None = None  # what became of the datagram being handled
        self._logged: dict[tuple[str, str], float] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(
            target=self._run, args=(host, port, communities, users), name="snmp-trap", daemon=True
        )
        self.address: tuple[str, int] = (host, port)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        self._stop.set()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(lambda: None)
        self._thread.join(timeout=5)
        if self.capture is not None:
            self.capture.close()

    def _run(self, host: str, port: int, communities: list[str], users: list[V3User]) -> None:
        from pysnmp.carrier.asyncio.dgram import udp, udp6
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv
        from pysnmp.proto.api import v2c

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            eng = engine.SnmpEngine()
            # Bound here, so that the address (an ephemeral port too) is known and errors are ours.
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((host, port))
            sock.setblocking(False)
            self.address = sock.getsockname()[:2]
            carrier = udp6 if ":" in host else udp
            transport = (udp6.Udp6Transport() if ":" in host else udp.UdpTransport()).open_server_mode(sock=sock)
            config.add_transport(eng, carrier.DOMAIN_NAME, transport)
            for i, community in enumerate(communities):
                config.add_v1_system(eng, f"hamon-area-{i}", community)
            auth_protos, priv_protos = protocols()
            for u in users:
                try:
                    auth = auth_protos[u.auth.upper()] if u.auth else config.USM_AUTH_NONE
                    priv = priv_protos[u.priv.upper()] if u.priv else config.USM_PRIV_NONE
                except KeyError as exc:
                    raise ConfigError(f"SNMPv3 user {u.name}: unknown protocol {exc.args[0]}") from exc
                config.add_v3_user(
                    eng,
                    u.name,
                    auth,
                    u.auth_key,
                    priv,
                    u.priv_key,
                    securityEngineId=v2c.OctetString(hexValue=u.engine_id.removeprefix("0x")),
                )
            ntfrcv.NotificationReceiver(eng, self._on_trap)
            self._engine = eng
            self._count_refusals()  # the baseline of pysnmp's own counters
            inner = transport._callback_function  # the dispatcher's, set by add_transport
            transport._callback_function = lambda t, address, datagram: self._datagram(inner, t, address, datagram)
        except BaseException as exc:  # handed to start()
            self._error = exc if isinstance(exc, ConfigError) else ConfigError(f"SNMP trap listener: {exc}")
            self._ready.set()
            return
        self._engine = eng
        self._ready.set()

        async def watch() -> None:
            while not self._stop.is_set():
                await asyncio.sleep(0.2)

        try:
            loop.run_until_complete(watch())
        finally:
            eng.transport_dispatcher.close_dispatcher()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _datagram(self, inner: Callable[..., Any], transport: Any, address: Any, datagram: bytes) -> None:
        """Every datagram is accounted for with its sender: taken, refused (and why), or not a trap."""
        source = str(address[0])
        self._outcome = None
        try:
            inner(transport, address, datagram)
        except Exception as exc:  # pysnmp raising on what it cannot read: counted, logged once a minute
            self._outcome = f"malformed ({type(exc).__name__})"
        refused = self._count_refusals(source, datagram)
        if self._outcome is None and not refused:
            self._outcome = "not an SNMP message hamon reads"
        if self._outcome not in (None, "taken"):
            self.counters.reject(self.transport, source, self._outcome)
        if self._outcome not in (None, "taken") or refused:
            self._log_once(source, self._outcome or refused)

    def _log_once(self, source: str, reason: str) -> None:
        """One log line per sender and reason a minute: a flood of junk does not flood the log."""
        now = time.monotonic()
        key = (source, reason)
        if now - self._logged.get(key, -LOG_EVERY) >= LOG_EVERY:
            if len(self._logged) > 10_000:
                self._logged.clear()
            self._logged[key] = now
            log.warning("snmp trap from %s refused: %s", source, reason)

    def _count_refusals(self, source: str = "*", datagram: bytes = b"") -> str:
        """pysnmp's own refusal counters since the last look, counted for `source`; the last reason."""
        mib = self._engine.get_mib_builder()
        last = ""
        for (module, name), reason in STATS.items():
            (sym,) = mib.import_symbols(module, name)
            value = int(sym.syntax)
            delta = value - self._seen_stats.get(name, 0)
            if delta > 0 and name in self._seen_stats:
                if reason == "unknown user":
                    reason = self._unknown_user(datagram)
                self.counters.reject(self.transport, source, reason, delta)
                last = reason
            self._seen_stats[name] = value
        return last

    def _unknown_user(self, datagram: bytes) -> str:
        """pysnmp counts a user it has under another engine id as unknown: named by its cause."""
        found = v3_identity(datagram)
        if found is None:
            return "unknown user"
        engine_id, name = found
        user = self.users.get(name)
        if user is None:
            return "unknown user"
        want = user.engine_id.lower().removeprefix("0x")
        if want != engine_id:
            return f"unknown engine id 0x{engine_id} for user {name} (configured: 0x{want})"
        return "unknown user"

    def _on_trap(
        self, snmp_engine: Any, state: Any, context_engine: Any, context: Any, var_binds: Any, cb_ctx: Any
    ) -> None:
        ctx = snmp_engine.observer.get_execution_context("rfc3412.receiveMessage:request")
        source = str(ctx["transportAddress"][0])
        model, level, name = int(ctx["securityModel"]), int(ctx["securityLevel"]), str(ctx["securityName"])
        if model == 3:
            user = self.users.get(name)
            if user is None or level < user.level:
                need = LEVELS[user.level] if user else "a configured user"
                self._outcome = f"security level {LEVELS.get(level, level)} below {need}"
                return
        trap = traps.Trap(
            dt.datetime.now(dt.UTC),
            source,
            tuple((str(oid), traps.plain(v)) for oid, v in var_binds)[: traps.MAX_BINDS],
        )
        meaning = traps.decode(trap)
        if isinstance(meaning, traps.Bad):
            self._outcome = meaning.reason
            return
        self._outcome = "taken"
        self.counters.receive(self.transport, source)
        if isinstance(meaning, traps.Other):
            self.counters.add("snmp_other_traps")
            return
        if not self.bus.publish(as_batch(trap, meaning, self.resolve), block=False):
            self.counters.drop(self.transport, source)
            return
        if self.capture is not None:
            self.capture.write(trap)


def as_batch(
    trap: traps.Trap, meaning: traps.Syslog | traps.GroupState, resolve: Callable[[str | None, str], str]
) -> RawBatch | PolledEvents:
    """What a trap of hamon's MIBs becomes, live and from a file alike: the syslog line it carries
    (parsed like any line from its sender), or a group's HA state event at the sender's pair."""
    if isinstance(meaning, traps.Syslog):
        return RawBatch(meaning.line + b"\n", trap.at, trap.source, "snmp", "snmp-trap", f"snmp:{trap.source}")
    event = ha_state_event(resolve(None, trap.source), trap.source, trap.at, meaning.group, meaning.state)
    return PolledEvents((event,), trap.source, "snmp")


class TrapCapture:
    """Every accepted trap, raw, in hamon's trap capture format: a file a day (`traps-YYYY-MM-DD.jsonl`)
    in one folder, kept `keep_days`; `hamon replay --traps` reads them back. A write that fails (a full
    disk) is counted (`trap_capture_errors`) and logged once a minute; the trap itself is not lost (it
    went to the journal first)."""

    def __init__(self, directory: str | os.PathLike[str], counters: Counters, keep_days: int = 30) -> None:
        self.directory = Path(directory)
        self.counters = counters
        self.keep_days = keep_days
        self._day: dt.date | None = None
        self._file: Any = None
        self._logged = -LOG_EVERY
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def write(self, trap: traps.Trap) -> None:
        try:
            day = trap.at.astimezone(dt.UTC).date()
            if day != self._day:
                self._roll(day)
            self._file.write(trap.to_line() + b"\n")
            self._file.flush()
        except OSError as exc:
            self.counters.add("trap_capture_errors")
            now = time.monotonic()
            if now - self._logged >= LOG_EVERY:
                self._logged = now
                log.warning("trap capture %s: %s (traps are still taken)", self.directory, exc.strerror or exc)

    def _roll(self, day: dt.date) -> None:
        self.close()
        self._file = open(self.directory / f"traps-{day.isoformat()}.jsonl", "ab")  # noqa: SIM115
        self._day = day
        cutoff = day - dt.timedelta(days=self.keep_days)
        for old in self.directory.glob("traps-*.jsonl"):
            with contextlib.suppress(ValueError, OSError):
                if dt.date.fromisoformat(old.name[6:16]) < cutoff:
                    old.unlink()

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
            self._day = None


def v3_identity(datagram: bytes) -> tuple[str, str] | None:
    """An SNMPv3 message's authoritative engine id (hex) and user name, or None when it is not one."""
    try:
        from pyasn1.codec.ber import decoder
        from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
        from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

        msg, _ = decoder.decode(datagram, asn1Spec=SNMPv3Message())
        params, _ = decoder.decode(bytes(msg["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
        return bytes(params["msgAuthoritativeEngineId"]).hex(), bytes(params["msgUserName"]).decode("utf-8", "replace")
    except Exception:  # not SNMPv3, or not readable: pysnmp's own word stands
        return None
