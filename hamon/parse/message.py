"""The message layer: `%ASA-<sev>-<id>: <text>` into a kind and typed fields."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from hamon.model import Cause, Unit
from hamon.parse.catalog import CATALOG
from hamon.parse.causes import normalize

# `%ASA-1-104001: `, also `%FTD-` and `%PIX-`, and the class-tagged form of `logging class`/
# `logging device-id ... ` setups (`%ASA-ha-1-104001: `, `%ASA-auth-4-113004: `); a missing colon
# is tolerated. (The C scanner's fast path knows only the classless form: class-tagged batches are
# walked line by line, with the same result.)
TAG_RE = re.compile(r"%(?:ASA|FTD|PIX)-(?:[a-z][a-z0-9]{0,15}-)?([0-7])-(\d{6}):?[ \t]?")
LOOSE_TAG_RE = re.compile(r"%(?:ASA|FTD|PIX)-", re.IGNORECASE)
# `(Primary)`, `(Secondary_group_2)`, `(VPN-Secondary)`, `(WebVPN-Primary)`, `(Primary and Standby)`
UNIT_RE = re.compile(
    r"\s*\((?:vpn-|webvpn-)?(?P<unit>primary|secondary)(?:_group_(?P<group>\d+))?[^)]*\)\s*", re.IGNORECASE
)
GROUP_RE = re.compile(r"_group_(\d+)", re.IGNORECASE)
INT_FIELDS = ("reason_code", "value")
INT_LIMITS = {"reason_code": 2**31 - 1, "value": 2**63 - 1}  # the store's INTEGER and BIGINTEGER columns
GROUPS = (1, 2)  # an ASA has failover groups 1 and 2
STR_FIELDS = ("interface", "mate_version", "our_version", "command", "status", "my_state", "peer_state")


@dataclass(frozen=True, slots=True)
class Message:
    """What a message's text says, apart from its framing."""

    kind: str
    unit: Unit | None
    group: int | None
    cause: Cause | None
    cause_text: str | None
    interface: str | None
    reason_code: int | None
    value: int | None
    mate_version: str | None
    our_version: str | None
    command: str | None
    status: str | None
    my_state: str | None
    peer_state: str | None


class MalformedMessage(ValueError):
    """A known id whose text does not have the catalog's shape (truncated or garbled)."""


@lru_cache(maxsize=16384)
def parse_message(msg_id: int, text: str) -> Message:
    """Parse the text after the tag; raises MalformedMessage for a known id with a wrong shape.

    Cached: the same failover texts recur all day (a Message is immutable).
    """
    unit: Unit | None = None
    group: int | None = None
    body = text
    m = UNIT_RE.match(text)
    if m:
        unit = Unit(m.group("unit").lower())
        group = int(m.group("group")) if m.group("group") else None
        body = text[m.end() :]
    elif (g := GROUP_RE.search(text[:40])) is not None:
        group = int(g.group(1))
    if group is not None and group not in GROUPS:
        raise MalformedMessage(f"failover group {str(group)[:20]} (an ASA has groups 1 and 2)")
    spec = CATALOG.get(msg_id)
    if spec is None:
        return Message("generic", unit, group, None, None, None, None, None, None, None, None, None, None, None)
    fm = spec.pattern.search(body)
    if fm is None:
        raise MalformedMessage(f"{msg_id} text does not have the shape of {spec.kind!r} ({spec.summary})")
    f = fm.groupdict()
    ints = {k: int(f[k]) if f.get(k) else None for k in INT_FIELDS}
    for k, limit in INT_LIMITS.items():
        if ints[k] is not None and abs(ints[k]) > limit:  # type: ignore[arg-type]
            raise MalformedMessage(f"{k.replace('_', ' ')} {str(ints[k])[:24]} out of range")
    strs = {k: (f[k].strip() or None) if f.get(k) else None for k in STR_FIELDS}
    cause_text = f["cause"].strip().rstrip(".").strip() or None if f.get("cause") else None
    return Message(
        kind=spec.kind,
        unit=unit,
        group=group,
        cause=normalize(msg_id, cause_text, ints["reason_code"]),
        cause_text=cause_text,
        interface=strs["interface"],
        reason_code=ints["reason_code"],
        value=ints["value"],
        mate_version=strs["mate_version"],
        our_version=strs["our_version"],
        command=strs["command"],
        status=strs["status"],
        my_state=strs["my_state"],
        peer_state=strs["peer_state"],
    )
