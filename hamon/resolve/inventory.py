"""The inventory: which hostnames, device-ids and addresses make up each failover pair.

```yaml
pairs:
  - name: edge
    match: [fw-edge, 192.0.2.10, 192.0.2.11, 198.51.100.0/30]
    mode: active-standby          # or active-active
    unit_polltime: 1              # seconds, or "200ms"
    unit_holdtime: 15
    interface_polltime: 5
    interface_holdtime: 25
    interface_policy: 1           # a number of interfaces, or "20%"
    monitored_interfaces: 6       # how many interfaces the units monitor (for a percentage policy)
    failover_interface: failover  # names of the failover and state links, to recognize their messages
    state_interface: state
    slow_failover_margin: 5       # seconds a takeover may exceed its hold time before slow_failover
    flap_count: 3                 # failovers within flap_window that are flapping
    flap_window: 600
    tz: Europe/Berlin             # the units' clock zone (IANA): device times without an offset
    senders: [192.0.2.10, 192.0.2.11]  # only these may speak for the pair (others quarantined)
    tls_peers: ["CN=fw-edge"]     # only these TLS client certificates (sha256:FINGERPRINT or CN=NAME)
    runbook: https://wiki.example/fw-edge   # linked from every notification about the pair
    silent_after: 900             # seconds without a message before pair_silent (60 s-7 days; 0: off)
```
Ranges are the device's own (failover chapter); an unknown key or a bad value is an error
naming the file, the pair and the key.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hamon.errors import InventoryError

MODES = ("active-standby", "active-active")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PAIR_KEYS = frozenset(
    {
        "name",
        "match",
        "mode",
        "poll",
        "snmp_poll",
        "unit_polltime",
        "unit_holdtime",
        "interface_polltime",
        "interface_holdtime",
        "interface_policy",
        "monitored_interfaces",
        "failover_interface",
        "state_interface",
        "slow_failover_margin",
        "flap_count",
        "flap_window",
        "tz",
        "senders",
        "tls_peers",
        "runbook",
        "silent_after",
    }
)
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
# Valid ranges in seconds (failover chapter: Failover Poll Times, Interface Poll Time).
RANGES = {
    "unit_polltime": (0.2, 15.0),
    "unit_holdtime": (0.8, 45.0),
    "interface_polltime": (0.5, 15.0),
    "interface_holdtime": (5.0, 75.0),
}


@dataclass(frozen=True, slots=True)
class InterfacePolicy:
    """How many failed monitored interfaces make a unit fail: a count or a percentage."""

    value: int
    percent: bool

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


@dataclass(frozen=True, slots=True)
class PairConfig:
    """One failover pair; timing defaults are the device's (failover chapter, Defaults)."""

    name: str
    match: tuple[str, ...] = ()
    mode: str | None = None
    unit_polltime: float = 1.0
    unit_holdtime: float = 15.0
    interface_polltime: float = 5.0
    interface_holdtime: float = 25.0
    interface_policy: InterfacePolicy = InterfacePolicy(1, False)
    monitored_interfaces: int | None = None
    failover_interface: str | None = None
    state_interface: str | None = None
    slow_failover_margin: float = 5.0
    flap_count: int = 3
    flap_window: float = 600.0
    poll: tuple[str, ...] = ()  # the units' management addresses (HOST or HOST:PORT) for SSH polls
    snmp_poll: tuple[str, ...] = ()  # the units' addresses for cfwHardwareStatusTable polls
    tz: str | None = None  # the units' clock zone (IANA name), for device times without an offset
    senders: tuple[str, ...] = ()  # addresses or networks allowed to speak for the pair (empty: any)
    tls_peers: tuple[str, ...] = ()  # TLS client certificates that may speak for it: sha256:FP or CN=NAME
    runbook: str | None = None  # what to do when it pages: linked from its notifications
    silent_after: float = 900.0  # pair_silent when a pair that normally talks is not heard this long (0: off)


@dataclass(frozen=True)
class Inventory:
    """All configured pairs, and where they came from."""

    pairs: tuple[PairConfig, ...] = ()
    path: str | None = None

    def senders(self) -> dict[str, tuple[Network, ...]]:
        """The pairs that only listed addresses may speak for (inventory `senders:`)."""
        return {
            p.name: tuple(ipaddress.ip_network(x, strict=False) for x in p.senders) for p in self.pairs if p.senders
        }

    def tls_peers(self) -> dict[str, frozenset[str]]:
        """The pairs only listed TLS client certificates may speak for (inventory `tls_peers:`)."""
        return {p.name: frozenset(p.tls_peers) for p in self.pairs if p.tls_peers}

    def zones(self) -> dict[str, dt.tzinfo]:
        """The pairs whose units' clocks run in a named zone (`tz:`), for zone-less device stamps."""
        from zoneinfo import ZoneInfo

        return {p.name: dt.UTC if p.tz == "UTC" else ZoneInfo(p.tz) for p in self.pairs if p.tz}

    def names(self) -> frozenset[str]:
        """The listed pairs' names."""
        return frozenset(self._by_name)

    def pair(self, name: str) -> PairConfig:
        """The configuration of a pair; an unlisted pair gets the device defaults."""
        found = self._by_name.get(name)
        return found if found is not None else PairConfig(name=name)

    @functools.cached_property
    def _by_name(self) -> dict[str, PairConfig]:
        return {p.name: p for p in self.pairs}


def unit_address(spec: str) -> tuple[str, int | None]:
    """A unit's address as the inventory's `poll:` lists it: HOST, HOST:PORT, IPv6 or [IPv6]:PORT."""
    host, port = spec, ""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.removeprefix(":")
    elif spec.count(":") == 1:
        host, _, port = spec.partition(":")
    if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise ValueError(f"{spec!r} is not HOST or HOST:PORT")
    return host, int(port) if port else None


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(f"{p}: cannot read inventory: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InventoryError(f"{p}: inventory is not UTF-8 text") from exc
    try:
        # libyaml's loader where PyYAML has it (20,000 pairs: seconds less); the same documents.
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InventoryError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    return parse_inventory(doc, str(p))


def parse_inventory(doc: Any, where: str = "<inventory>") -> Inventory:
    """Validate an already-loaded inventory document."""
    if doc is None:
        raise InventoryError(f"{where}: the inventory is empty (write 'pairs: []' for one that is empty on purpose)")
    if not isinstance(doc, dict):
        raise InventoryError(f"{where}: expected a mapping with a 'pairs:' list")
    unknown = sorted(set(doc) - {"pairs"})
    if unknown:
        raise InventoryError(f"{where}: unknown key {unknown[0]!r} (the inventory has only 'pairs')")
    raw_pairs = doc.get("pairs")
    if raw_pairs is None:
        raise InventoryError(f"{where}: no 'pairs:' list (write 'pairs: []' for an inventory that is empty on purpose)")
    if not isinstance(raw_pairs, list):
        raise InventoryError(f"{where}: 'pairs' must be a list")
    pairs: list[PairConfig] = []
    names: set[str] = set()
    owners: dict[str, str] = {}
    for i, raw in enumerate(raw_pairs):
        pair = _pair(raw, where, i)
        for m in pair.match:
            key = m.lower()
            if key in owners and owners[key] != pair.name:
                raise InventoryError(
                    f"{where}: pair {pair.name!r}: match {m!r} is already used by pair {owners[key]!r}"
                )
            owners[key] = pair.name
        if pair.name in names:
            raise InventoryError(f"{where}: pair {pair.name!r} is listed twice")
        names.add(pair.name)
        pairs.append(pair)
    return Inventory(tuple(pairs), where)


def _pair(raw: Any, where: str, index: int) -> PairConfig:
    """One pair, validated by its typed model (PairModel); a mistake names the file, pair and key."""
    from pydantic import ValidationError

    if not isinstance(raw, dict):
        raise InventoryError(f"{where}: pairs[{index}] must be a mapping with name and match")
    name = raw.get("name")
    label = f"pair {name!r}" if isinstance(name, str) else f"pairs[{index}]"
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InventoryError(f"{where}: {label}: key 'name' must be a word of letters, digits and . _ : -")
    try:
        model = _pair_model().model_validate({"match": [], **raw})
    except ValidationError as exc:
        raise InventoryError(f"{where}: {label}: {_explain(exc)}") from exc
    values = {k: v for k, v in model.__dict__.items() if k in raw and k != "name"}
    return PairConfig(name=name, **values)


def _explain(exc: Any) -> str:
    """The first of a pydantic ValidationError's errors, in the inventory's words."""
    err = exc.errors()[0]
    key = str(err["loc"][0]) if err["loc"] else ""
    if err["type"] == "extra_forbidden":
        return f"unknown key {key!r} (known: {', '.join(sorted(PAIR_KEYS))})"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if not key:  # a rule across keys (hold time against poll time)
        return msg
    return f"key {key!r}{'' if msg.startswith(':') else ' '}{msg}"


def _reader(read: Callable[[Any, str], Any]) -> Any:
    """A reader of one key as a pydantic validator: its InventoryError becomes the field's error."""
    from pydantic import BeforeValidator

    def validate(value: Any) -> Any:
        try:
            return read(value, "")
        except InventoryError as exc:
            raise ValueError(str(exc).strip()) from exc

    return BeforeValidator(validate)


@functools.cache
def _pair_model() -> Any:
    """The typed model of a pair (pydantic): fields, types and defaults from PairConfig, each key read
    by its reader in READERS (the device's ranges, in the device's words), unknown keys refused."""
    from typing import Annotated

    from pydantic import ConfigDict, create_model, model_validator

    defaults = PairConfig(name="-")
    fields: dict[str, Any] = {
        "name": (str, ...),
        "match": (Annotated[tuple[str, ...], _reader(_match)], ...),
    }
    for key, read in READERS.items():
        fields[key] = (Annotated[Any, _reader(read)], getattr(defaults, key))

    def ratios(model: Any) -> Any:
        for hold, poll, times in (
            ("unit_holdtime", "unit_polltime", 3),
            ("interface_holdtime", "interface_polltime", 5),
        ):
            if getattr(model, hold) < times * getattr(model, poll):
                raise ValueError(
                    f"key {hold!r} ({getattr(model, hold):g}s) must be at least {times} times "
                    f"{poll} ({getattr(model, poll):g}s)"
                )
        return model

    return create_model(
        "PairModel",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        __validators__={"ratios": model_validator(mode="after")(ratios)},  # type: ignore[dict-item]
        **fields,
    )


def _match(value: Any, where: str) -> tuple[str, ...]:
    match = [value] if isinstance(value, str) else value
    if not isinstance(match, list) or not all(isinstance(m, str | int) for m in match) or not match:
        raise InventoryError(f"{where} must be a non-empty list of hostnames or addresses")
    entries = tuple(str(m).strip() for m in match)
    for m in entries:
        if "/" in m:
            try:
                ipaddress.ip_network(m, strict=False)
            except ValueError as exc:
                raise InventoryError(f"{where}: {m!r} is not a network") from exc
    return entries


def _mode(value: Any, where: str) -> str:
    if value not in MODES:
        raise InventoryError(f"{where} must be one of {', '.join(MODES)}, not {value!r}")
    return str(value)


def _interface_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InventoryError(f"{where} must be an interface name")
    return value.strip()


def _unit_addresses(value: Any, where: str) -> tuple[str, ...]:
    polls = value if isinstance(value, list) else [value]
    if not polls or len(polls) > 2 or not all(isinstance(x, str) and x.strip() for x in polls):
        raise InventoryError(f"{where} must list one or two unit addresses (HOST or HOST:PORT)")
    for spec in polls:
        try:
            unit_address(spec.strip())
        except ValueError as exc:
            raise InventoryError(f"{where}: {exc}") from exc
    return tuple(x.strip() for x in polls)


def _seconds_in(lo: float, hi: float) -> Callable[[Any, str], float]:
    return lambda value, where: _seconds(value, lo, hi, where)


def _count_in(lo: int, hi: int) -> Callable[[Any, str], int]:
    return lambda value, where: _count(value, lo, hi, where)


# How each optional key of a pair is read (and its range checked), as data: one reader per key.
READERS: dict[str, Callable[[Any, str], Any]] = {
    "mode": _mode,
    **{key: _seconds_in(lo, hi) for key, (lo, hi) in RANGES.items()},
    "interface_policy": lambda value, where: _policy(value, where),
    "monitored_interfaces": _count_in(1, 1025),
    "failover_interface": _interface_name,
    "state_interface": _interface_name,
    "slow_failover_margin": _seconds_in(0.0, 600.0),
    "flap_count": _count_in(2, 100),
    "flap_window": _seconds_in(10.0, 86400.0),
    "poll": _unit_addresses,
    "snmp_poll": _unit_addresses,
    "tz": lambda value, where: _zone_name(value, where),
    "senders": lambda value, where: _networks(value, where),
    "tls_peers": lambda value, where: _peers(value, where),
    "runbook": lambda value, where: _runbook(value, where),
    "silent_after": lambda value, where: _silent_after(value, where),
}


def _silent_after(value: Any, where: str) -> float:
    if value in (0, "0", "off", False):
        return 0.0
    return _seconds(value, 60.0, 7 * 86400.0, where)


def _runbook(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
        raise InventoryError(f"{where} must be an http(s) URL without spaces, not {value!r}")
    return value


def _seconds(value: Any, lo: float, hi: float, label: str) -> float:
    if isinstance(value, bool):
        raise InventoryError(f"{label} must be a duration such as 15, 15s or 500ms")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := DURATION_RE.match(value)):
        seconds = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
    else:
        raise InventoryError(f"{label} must be a duration such as 15, 15s or 500ms, not {value!r}")
    if not lo <= seconds <= hi:
        raise InventoryError(f"{label} must be between {lo:g}s and {hi:g}s, not {seconds:g}s")
    return seconds


def _count(value: Any, lo: int, hi: int, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InventoryError(f"{label} must be a whole number from {lo} to {hi}, not {value!r}")
    return value


def _policy(value: Any, label: str) -> InterfacePolicy:
    if isinstance(value, bool):
        raise InventoryError(f"{label} must be a number of interfaces (1-250) or a percentage (1%-100%)")
    if isinstance(value, int) and 1 <= value <= 250:
        return InterfacePolicy(value, False)
    if isinstance(value, str):
        v = value.strip()
        if v.endswith("%") and v[:-1].strip().isdigit() and 1 <= int(v[:-1]) <= 100:
            return InterfacePolicy(int(v[:-1]), True)
        if v.isdigit() and 1 <= int(v) <= 250:
            return InterfacePolicy(int(v), False)
    raise InventoryError(f"{label} must be a number of interfaces (1-250) or a percentage (1%-100%), not {value!r}")


def _networks(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(x, str) and x.strip() for x in items):
        raise InventoryError(f"{where} must list the addresses or networks that may speak for the pair")
    for x in items:
        try:
            ipaddress.ip_network(x.strip(), strict=False)
        except ValueError as exc:
            raise InventoryError(f"{where}: {x!r} is not an address or network") from exc
    return tuple(x.strip() for x in items)


PEER_RE = re.compile(r"^(sha256:[0-9a-f]{64}|CN=.+)$")


def _peers(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for x in items:
        text = str(x).strip()
        if text.lower().startswith("sha256:"):  # fingerprints as openssl prints them, or plain hex
            text = "sha256:" + text[7:].replace(":", "").lower()
        if not PEER_RE.match(text):
            raise InventoryError(f"{where}: {x!r} is neither sha256:FINGERPRINT nor CN=NAME")
        out.append(text)
    if not out:
        raise InventoryError(f"{where} must list sha256:FINGERPRINT or CN=NAME entries")
    return tuple(out)


def _zone_name(value: Any, where: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not value.strip():
        raise InventoryError(f"{where} must be a time zone name such as Europe/Berlin")
    name = value.strip()
    if name.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InventoryError(f"{where}: unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc
    return name
