"""`show failover` polls over SSH (asyncssh), on a thread with its own event loop.

asyncssh rather than netmiko or scrapli: it is asyncio-native, so one thread polls every unit of
the fleet concurrently (netmiko is blocking, a thread per device), it needs no paramiko or system
ssh binary, and the same library gives the tests a real SSH server for the ASA simulator.

Each round, every unit listed under a pair's `poll:` in the inventory gets one session: an
interactive shell (ASAs do not run exec requests), `terminal pager 0`, then `show failover`,
`show failover history` and `show failover state`. Results become events (hamon.poll.events) on
the bus and a per-unit summary in the service status. Credentials come from the environment or a
secrets file and are never logged, counted or stored; a failed poll is counted with its reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from typing import Any

from hamon.bus import Bus
from hamon.bus.counters import Counters
from hamon.errors import ConfigError
from hamon.model import PolledEvents, iso
from hamon.poll.events import history_events, status_events, status_key
from hamon.poll.parse import CliParseError, FailoverStatus, parse_history, parse_show_failover, parse_state
from hamon.poll.runner import PollerThread, unit_addresses
from hamon.resolve.settings import load_mapping

PROMPT = re.compile(rb"(?:^|[\r\n])[\w\-./@]+(?:\([\w\-]+\))?[#>] ?$")
COMMANDS = ("show failover", "show failover history", "show failover state")
SECRET_KEYS = {"username", "password", "key_file", "passphrase", "enable_password", "known_hosts", "hosts"}


@dataclass(frozen=True)
class Credentials:
    """How to log in to a unit. repr() hides the secrets."""

    username: str
    password: str | None = field(default=None, repr=False)
    key_file: str | None = None
    passphrase: str | None = field(default=None, repr=False)
    enable_password: str | None = field(default=None, repr=False)
    known_hosts: str | None = None  # a known_hosts file; "ignore" skips host key checks


def load_credentials(secrets_file: str | None, env: dict[str, str] | None = None) -> dict[str, Credentials]:
    """Credentials per host ("" = the default) from HAMON_SSH_* variables and a secrets file.

    The file (YAML, readable by the service only) may hold username, password, key_file,
    passphrase, enable_password, known_hosts, and `hosts: {ADDRESS: {...}}` overrides; the
    environment (HAMON_SSH_USERNAME, HAMON_SSH_PASSWORD, HAMON_SSH_KEY, HAMON_SSH_KEY_PASSPHRASE,
    HAMON_SSH_ENABLE_PASSWORD, HAMON_SSH_KNOWN_HOSTS) fills what the file leaves out.
    """
    env = dict(os.environ) if env is None else env
    doc: dict[str, Any] = {}
    if secrets_file:
        doc = load_mapping(secrets_file, "SSH secrets", SECRET_KEYS)
    base = {
        "username": env.get("HAMON_SSH_USERNAME"),
        "password": env.get("HAMON_SSH_PASSWORD"),
        "key_file": env.get("HAMON_SSH_KEY"),
        "passphrase": env.get("HAMON_SSH_KEY_PASSPHRASE"),
        "enable_password": env.get("HAMON_SSH_ENABLE_PASSWORD"),
        "known_hosts": env.get("HAMON_SSH_KNOWN_HOSTS"),
    }
    base.update({k: str(v) for k, v in doc.items() if k != "hosts" and v is not None})
    result = {}
    hosts = doc.get("hosts") or {}
    if not isinstance(hosts, dict):
        raise ConfigError(f"{secrets_file}: 'hosts' must map addresses to settings")
    for host, over in [("", {}), *hosts.items()]:
        if not isinstance(over, dict) or set(over) - (SECRET_KEYS - {"hosts"}):
            raise ConfigError(
                f"{secrets_file}: hosts[{host!r}] must be a mapping of {', '.join(sorted(SECRET_KEYS - {'hosts'}))}"
            )
        merged = {**base, **{k: str(v) for k, v in over.items()}}
        if merged.get("username"):
            result[str(host)] = Credentials(**merged)  # type: ignore[arg-type]
    if "" not in result and not hosts:
        raise ConfigError("SSH polls need a username: set HAMON_SSH_USERNAME or give --ssh-secrets FILE")
    return result


@dataclass
class Target:
    """One unit to poll."""

    pair: str
    host: str
    port: int = 22
    tz: str | None = None  # the pair's clock zone, for the device's stamps
    previous: FailoverStatus | None = None
    previous_key: tuple[object, ...] | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)  # history rows already handed over


class PollError(Exception):
    """A poll that did not complete; the message is safe to show (no secrets)."""


class SshPoller(PollerThread):
    """Polls every target every `interval` seconds until stopped."""

    transport = "ssh"
    name = "hamon-ssh-poll"
    default_port = 22

    def __init__(
        self,
        targets: list[Target],
        credentials: dict[str, Credentials],
        interval: float,
        bus: Bus,
        counters: Counters,
        timeout: float = 20.0,
        concurrency: int = 50,
    ) -> None:
        super().__init__(interval, timeout)
        self.targets = targets
        self.credentials = credentials
        self.bus = bus
        self.counters = counters
        self.concurrency = concurrency

    async def poll_round(self) -> None:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(t: Target) -> None:
            async with limit:
                await self.poll(t)

        await asyncio.gather(*(one(t) for t in self.targets))

    async def poll(self, t: Target) -> None:
        at = dt.datetime.now(dt.UTC)
        summary = self.begin(t, at)
        label = summary["host"]
        try:
            outputs = await asyncio.wait_for(self._session(t), self.timeout)
            status = parse_show_failover(outputs["show failover"], t.tz)
            history = parse_history(outputs["show failover history"], t.tz)
            state = parse_state(outputs["show failover state"], t.tz)
        except (PollError, CliParseError) as exc:
            self.failed(t, summary, str(exc))
            return
        except TimeoutError:
            self.failed(t, summary, f"no complete answer within {self.timeout:g} s")
            return
        except Exception as exc:  # a key file asyncssh cannot read, an answer no template expected, …
            self.failed(t, summary, f"{type(exc).__name__}: {exc}")
            return
        self.counters.receive(self.transport, label)
        # Read in part (ntc-templates refused the layout, a stamp's zone unknown): counted, and
        # shown in the poll's summary (`hamon status`, `hamon pairs --json`).
        self.counters.add("poll_warnings", len(status.warnings))
        events = []
        if status.unit is not None:
            rows = history_events(history, status.unit, t.pair, at)
            # Each row once per run of the service: the history repeats at every poll.
            events += [e for e in rows if e.event_id not in t.sent]
            t.sent = {e.event_id for e in rows}
        key = status_key(status)
        if key != t.previous_key:
            events += status_events(status, t.previous, t.pair, at)
        t.previous, t.previous_key = status, key
        polled = (t.pair, status.unit, {**status.to_json(), "polled_at": iso(at)}) if status.unit else None
        self.bus.publish(PolledEvents(tuple(events), label, polled=polled), block=True)
        t.summary = summary  # whole: the status never shows a poll half done
        summary.update(
            ok=True,
            error=None,
            failover=status.to_json(),
            state=[{**s, "last_failure_at": s["last_failure_at"] and iso(s["last_failure_at"])} for s in state],
            history_rows=len(history),
        )

    async def _session(self, t: Target) -> dict[str, str]:
        import asyncssh

        cred = self.credentials.get(t.host) or self.credentials.get("")
        if cred is None:
            raise PollError("no SSH credentials for this host")
        options: dict[str, Any] = {
            "port": t.port,
            "username": cred.username,
            "password": cred.password,
            "client_keys": [cred.key_file] if cred.key_file else None,
            "passphrase": cred.passphrase,
            "known_hosts": None if cred.known_hosts == "ignore" else (cred.known_hosts or ()),
            "agent_path": None,
            "preferred_auth": "publickey,keyboard-interactive,password",
        }
        if not cred.key_file:
            options["client_keys"] = None
        try:
            async with (
                asyncssh.connect(t.host, **options) as conn,
                conn.create_process(term_type="vt100", term_size=(511, 24), encoding=None) as proc,
            ):
                shell = _Shell(proc)
                prompt = await shell.until_prompt()
                if prompt.rstrip().endswith(b">"):
                    if not cred.enable_password:
                        raise PollError("the login ends in user EXEC mode (>) and no enable password is set")
                    await shell.enable(cred.enable_password)
                await shell.run("terminal pager 0")
                result = {cmd: await shell.run(cmd) for cmd in COMMANDS}
                proc.stdin.write(b"exit\n")
                return result
        except asyncssh.PermissionDenied as exc:
            raise PollError("authentication failed") from exc
        except asyncssh.HostKeyNotVerifiable as exc:
            raise PollError("host key not verifiable (add it to known_hosts)") from exc
        except asyncssh.Error as exc:
            raise PollError(f"SSH error: {exc.reason}") from exc
        except OSError as exc:
            raise PollError(f"cannot connect: {exc.strerror or exc}") from exc


class _Shell:
    """An interactive ASA CLI session: send a line, read up to the next prompt."""

    def __init__(self, proc: Any) -> None:
        self.proc = proc
        self.buffer = b""

    async def until(self, pattern: re.Pattern[bytes], limit: int = 4 << 20) -> bytes:
        while not pattern.search(self.buffer):
            chunk = await self.proc.stdout.read(65536)
            if not chunk:
                raise PollError("the session closed before the prompt came back")
            self.buffer += chunk
            if len(self.buffer) > limit:
                raise PollError("output larger than 4 MiB")
        out, self.buffer = self.buffer, b""
        return out

    async def until_prompt(self) -> bytes:
        return await self.until(PROMPT)

    async def enable(self, password: str) -> None:
        self.proc.stdin.write(b"enable\n")
        await self.until(re.compile(rb"[Pp]assword: ?$"))
        self.proc.stdin.write(password.encode() + b"\n")
        if not (await self.until_prompt()).rstrip().endswith(b"#"):
            raise PollError("enable was refused")

    async def run(self, command: str) -> str:
        self.proc.stdin.write(command.encode() + b"\n")
        raw = (await self.until_prompt()).decode("utf-8", "replace").replace("\r", "")
        lines = raw.split("\n")
        if lines and lines[0].strip().endswith(command):  # the echo of the command
            lines = lines[1:]
        if lines and PROMPT.search(lines[-1].encode()):  # the prompt
            lines = lines[:-1]
        if any(line.lstrip().startswith("ERROR: % Invalid input") for line in lines):
            raise PollError(f"the unit refused {command!r}")
        return "\n".join(lines)


def targets_from(inventory: Any) -> list[Target]:
    """The units under each pair's `poll:` in the inventory."""
    return [
        Target(pair, host, port, tz=inventory.pair(pair).tz)
        for pair, host, port in unit_addresses(inventory, "poll", 22)
    ]
