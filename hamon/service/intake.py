"""What takes messages in, the first stages of a role: the listeners of `hamon serve` (each
appending what it takes to the journal) or a Kafka topic (`hamon worker`, `hamon consume`; Kafka is
their journal: offsets are committed once stored)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hamon.bus import Bus, Collector
from hamon.bus.counters import Counters
from hamon.bus.kafka import KafkaAddress
from hamon.errors import ConfigError


def snmp_user(spec: dict[str, str]) -> Any:
    """An SNMPv3 user from `{name, engine_id, auth?, priv?, auth_key?, priv_key?}`; keys missing there
    come from HAMON_SNMP_AUTH_KEY_<NAME> and HAMON_SNMP_PRIV_KEY_<NAME> (never logged or stored)."""
    from hamon.collectors import snmp_trap as snmp

    unknown = set(spec) - {"name", "engine_id", "auth", "priv", "auth_key", "priv_key"}
    if unknown or "name" not in spec or "engine_id" not in spec:
        raise ConfigError(f"SNMPv3 user needs name and engine_id (and auth, priv); not {sorted(unknown)}")
    env = "".join(ch if ch.isalnum() else "_" for ch in spec["name"]).upper()
    auth_key = spec.get("auth_key") or os.environ.get(f"HAMON_SNMP_AUTH_KEY_{env}")
    priv_key = spec.get("priv_key") or os.environ.get(f"HAMON_SNMP_PRIV_KEY_{env}")
    if spec.get("auth") and not auth_key:
        raise ConfigError(f"SNMPv3 user {spec['name']}: no authentication key (set HAMON_SNMP_AUTH_KEY_{env})")
    if spec.get("priv") and not priv_key:
        raise ConfigError(f"SNMPv3 user {spec['name']}: no privacy key (set HAMON_SNMP_PRIV_KEY_{env})")
    if spec.get("priv") and not spec.get("auth"):
        raise ConfigError(f"SNMPv3 user {spec['name']}: privacy needs authentication")
    return snmp.V3User(spec["name"], spec["engine_id"], spec.get("auth"), auth_key, spec.get("priv"), priv_key)


def address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:5514`) into a bind address."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"not HOST:PORT: {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class Listeners:
    """listen → journal: syslog over UDP, TCP and TLS and SNMP traps on the configured addresses
    (the inventory's pollers are added by the service); each collector appends what it takes to the
    journal before it reads on. They read from the start, while the correlator catches up."""

    journaled = True  # collectors append to the journal
    polls = True  # the inventory's SSH and SNMP polls run beside the listeners
    read_first = True  # listening starts before the catch-up: what arrives waits in the journal

    def __init__(self, cfg: Any, resolve: Callable[[str | None, str], str]) -> None:
        self.cfg = cfg
        self.resolve = resolve  # device id and sender to pair (traps)
        self.collectors: list[Collector] = []
        self.trap_dir: Path | None = None  # where accepted traps are kept unless `trap_capture` says

    def open(self, bus: Bus, counters: Counters) -> list[Collector]:
        """Bind every listener (errors here are configuration errors); trap receivers run at once."""
        from hamon.collectors import syslog_tcp as tcp
        from hamon.collectors import syslog_udp as udp

        cfg = self.cfg
        out: list[Collector] = []
        trying = ""  # the listener being opened, named in an error
        try:
            for a in cfg.syslog_udp:
                trying = f"udp {a}"
                out.append(udp.UdpSyslog(*address(a), bus, counters))
            for a in cfg.syslog_tcp:
                trying = f"tcp {a}"
                out.append(tcp.TcpSyslog(*address(a), bus, counters, receive_buffer=cfg.tcp_receive_buffer))
            if cfg.syslog_tls:
                if not (cfg.tls_cert and cfg.tls_key):
                    raise ConfigError("--syslog-tls needs --tls-cert and --tls-key")
                ctx = tcp.tls_context(cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca)
                for a in cfg.syslog_tls:
                    trying = f"tls {a}"
                    out.append(
                        tcp.TcpSyslog(*address(a), bus, counters, tls=ctx, receive_buffer=cfg.tcp_receive_buffer)
                    )
            if cfg.snmp_trap:
                from hamon.collectors import snmp_trap as snmp

                users = [snmp_user(u) for u in cfg.snmp_users]
                where = cfg.trap_capture or self.trap_dir
                capture = None  # one for every trap listener
                if where is not None and cfg.trap_capture_days > 0:
                    try:
                        capture = snmp.TrapCapture(where, counters, cfg.trap_capture_days)
                    except OSError as exc:
                        raise ConfigError(f"trap capture {where}: {exc.strerror or exc}") from exc
                for a in cfg.snmp_trap:
                    trying = f"snmp {a}"
                    receiver = snmp.SnmpTrapReceiver(
                        *address(a), bus, counters, cfg.snmp_community, users, self.resolve, capture
                    )
                    receiver.start()  # binds and configures on its own thread; errors come back here
                    out.append(receiver)
        except ConfigError:
            _close(out)
            raise
        except PermissionError as exc:
            _close(out)
            raise ConfigError(
                f"cannot listen on {trying}: {exc.strerror} (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            ) from exc
        except OSError as exc:
            _close(out)
            raise ConfigError(f"cannot listen on {trying}: {(exc.strerror or str(exc)).lower()}") from exc
        self.collectors = out
        return out

    def go(self) -> None:
        """Start reading (trap receivers run already)."""
        for c in self.collectors:
            if c.transport != "snmp":
                c.start()

    def halt(self) -> None:
        """Stop listening (what was read is in the journal)."""
        _close(self.collectors)
        self.collectors = []

    def close(self) -> None:
        """Nothing is left open once halted."""

    def ack(self, offsets: dict[int, int]) -> None:
        """Listeners have no offsets: their journal is committed by position."""

    def status(self) -> dict[str, Any] | None:
        return None


class KafkaIntake:
    """kafka: one topic read as a member of a consumer group — raw syslog lines from every
    partition (`hamon consume`), or the events topic's partitions the group gives (`hamon worker`)."""

    journaled = False  # Kafka is the journal: offsets are committed once stored
    polls = False
    read_first = False  # the correlator catches up with the store before the first message is read

    def __init__(self, address: KafkaAddress, topic: str, group: str, *, raw: bool, name: str) -> None:
        self.address, self.topic, self.group, self.raw, self.name = address, topic, group, raw, name
        self.source: Any = None  # the KafkaSource, once open

    def open(self, bus: Bus, counters: Counters) -> list[Collector]:
        from hamon.collectors.kafka_source import KafkaSource

        self.source = KafkaSource(
            self.address, self.topic, self.group, bus, counters, raw=self.raw, client_id=self.name
        )
        return [self.source]

    def go(self) -> None:
        self.source.start()

    def halt(self) -> None:
        """Stop reading (what was read is on the bus; the service stores it before leaving the group)."""
        if self.source is not None:
            self.source.halt()

    def close(self) -> None:
        """Commit what the service acknowledged and leave the group."""
        if self.source is not None:
            self.source.stop()

    def ack(self, offsets: dict[int, int]) -> None:
        self.source.ack(offsets)

    def status(self) -> dict[str, Any] | None:
        return None if self.source is None else {"bus": str(self.source.broker), **self.source.status()}


def _close(collectors: list[Collector]) -> None:
    for c in collectors:
        with contextlib.suppress(OSError):
            c.stop()
