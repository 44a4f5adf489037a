"""Normalize the free-text cause of a role change or failure to one of hamon's causes."""

from __future__ import annotations

import re

from hamon.model import Cause

# Ids whose text carries a cause; other events have none.
CAUSE_IDS = frozenset({102001, 103001, 103004, 103005, 104001, 104002, 104003, 104004, 104500, 104501})

# 103001 reason codes (CATALOG.md): 1 no hellos on the failover link, 2 an interface failed the
# tests, 3 no ACK on the serial cable, 4 failover link down and data interfaces not answering,
# 5 standby went down during config sync, 6 replication incomplete.
REASON_CODES = {
    1: Cause.PEER_UNREACHABLE,
    2: Cause.INTERFACE_FAILURE,
    3: Cause.PEER_UNREACHABLE,
    4: Cause.PEER_UNREACHABLE,
    5: Cause.CONFIG_SYNC,
    6: Cause.CONFIG_SYNC,
}

# First match wins; the order settles texts that mention several things
# ("other unit set to active by CLI config command fail active" is manual, not config sync).
RULES: tuple[tuple[re.Pattern[str], Cause], ...] = tuple(
    (re.compile(p, re.IGNORECASE), c)
    for p, c in (
        (r"preempt", Cause.PREEMPT),
        (r"set by the config command|by cli|config command|failover active|make (?:active|standby)", Cause.MANUAL),
        (r"service card|ssm card|module|snort", Cause.MODULE_FAILURE),
        (
            r"hello not heard|no response|missed poll|lost failover comm|power failure|reload"
            r"|lan failover interface|failover link|transmit failure|no ack|(?:unable|failed) to connect",
            Cause.PEER_UNREACHABLE,
        ),
        (r"interface check|ifc \[.*\] check|mate is healthier|interface", Cause.INTERFACE_FAILURE),
        (r"no active unit found|detected an active mate", Cause.STARTUP),
        (r"config|replication|sync|standby ready", Cause.CONFIG_SYNC),
    )
)
MATE_REASON_RE = re.compile(r"switch reason:\s*(?P<reason>.+)$", re.IGNORECASE)


def normalize(msg_id: int, cause_text: str | None, reason_code: int | None) -> Cause | None:
    """The normalized cause of an event, or None for ids that carry no cause."""
    if msg_id not in CAUSE_IDS:
        return None
    if msg_id == 103001:
        return REASON_CODES.get(reason_code or 0, Cause.PEER_UNREACHABLE)
    if msg_id == 102001:
        return Cause.PEER_UNREACHABLE
    if msg_id == 103005:
        return Cause.MODULE_FAILURE
    if not cause_text:
        return Cause.UNKNOWN
    # `Other unit wants me Standby. Secondary unit switch reason: Set by the config command`:
    # the mate's own reason says why; "other unit wants me X" alone does not.
    m = MATE_REASON_RE.search(cause_text)
    text = m.group("reason") if m else cause_text
    for pattern, cause in RULES:
        if pattern.search(text):
            return cause
    return Cause.UNKNOWN
