"""Poll results as events for the correlator.

- `show failover history` rows become the transitions they record, with the device's own time and
  reason: `Just Active` is the unit switching to active (as 104001 says it), `Failed` switching to
  failed (104003), an active unit going to a standby or sync state switching to standby (104002).
  The intermediate active steps (Active Drain, Active Applying Config, ...) and the standby unit's
  sync steps carry no new role and are left out. The event keeps the id of the syslog message it
  stands for and says in its text that it comes from the history; its source is `ssh:PAIR`, so the
  same row read from either unit (the peer's history is printed too) is one event.
- `show failover` fills gaps when syslog was lost: the polled unit's own state per failover group
  (kind `polled_state`, id 0) and the failover link's status (as 105031/105032), each only when it
  changed since the unit's previous poll.
"""

from __future__ import annotations

import datetime as dt

from hamon.model import Event, Unit
from hamon.parse.batch import event_id
from hamon.parse.message import parse_message
from hamon.poll.parse import FailoverStatus, HistoryRow

STANDBY_LIKE = ("standby ready", "cold standby", "sync config", "sync file system", "bulk sync", "negotiation")


def _event(
    pair: str,
    at: dt.datetime,
    received_at: dt.datetime,
    msg_id: int,
    severity: int,
    text: str,
    *,
    kind: str,
    unit: str | None = None,
    group: int | None = None,
    cause_text: str | None = None,
    message: str | None = None,
    my_state: str | None = None,
    peer_state: str | None = None,
    status: str | None = None,
    origin: str = "ssh",
    sender: str | None = None,
) -> Event:
    """An event hamon made (not parsed from a line): from `origin:PAIR`, or from `sender` (an address)."""
    msg = parse_message(msg_id, message) if message is not None else None
    source = sender or f"{origin}:{pair}"
    device = None if sender else pair
    return Event(
        event_id=event_id(source, device, at, msg_id, text),
        at=at,
        received_at=received_at,
        pair=pair,
        unit=Unit(unit) if unit else None,
        group=group,
        source=source,
        device_id=device,
        msg_id=msg_id,
        severity=severity,
        kind=msg.kind if msg else kind,
        cause=msg.cause if msg else None,
        cause_text=cause_text,
        interface=None,
        reason_code=None,
        value=None,
        mate_version=None,
        our_version=None,
        command=None,
        status=status,
        my_state=my_state,
        peer_state=peer_state,
        text=text,
    )


def _polled_state(
    pair: str,
    at: dt.datetime,
    text: str,
    unit: str,
    group: int | None,
    mine: str,
    peer: str | None,
    link: str | None,
    origin: str,
) -> Event:
    """A polled unit's own state and its peer's as it sees them (and the failover link as it sees it)."""
    return _event(
        pair, at, at, 0, 6, text, kind="polled_state", unit=unit, group=group,
        my_state=mine, peer_state=peer, status=link, origin=origin,
    )  # fmt: skip


def history_events(rows: list[HistoryRow], polled_unit: str, pair: str, received_at: dt.datetime) -> list[Event]:
    """The transitions in `show failover history` of `polled_unit` (and of its peer, when printed)."""
    out = []
    for r in rows:
        unit = ("secondary" if polled_unit == "primary" else "primary") if r.peer else polled_unit
        to, frm = r.to_state.lower(), r.from_state.lower()
        if to == "just active":
            msg_id, verb = 104001, "ACTIVE"
        elif to == "failed":
            msg_id, verb = 104003, "FAILED"
        elif (frm.startswith("active") or frm == "just active") and to in STANDBY_LIKE:
            msg_id, verb = 104002, "STANDBY"
        else:
            continue
        group = f"Group {r.group} " if r.group else ""
        text = f"show failover history ({unit}): {group}{r.from_state} -> {r.to_state} - {r.reason}"
        message = f"({unit.capitalize()}) Switching to {verb} - {r.reason}"
        out.append(
            _event(
                pair,
                r.at,
                received_at,
                msg_id,
                1,
                text,
                kind="",
                unit=unit,
                group=r.group,
                cause_text=r.reason,
                message=message,
            )
        )
    return out


def status_key(status: FailoverStatus) -> tuple[object, ...]:
    """What of a `show failover` the correlator hears about: a new key means new events."""
    hosts = tuple(sorted((h.unit, h.this, h.group or 0, h.state) for h in status.hosts))
    return (status.failover_link, status.state_link, hosts)


def status_events(status: FailoverStatus, previous: FailoverStatus | None, pair: str, at: dt.datetime) -> list[Event]:
    """The polled unit's own state (per group) and the failover link, when changed since `previous`."""
    if status.unit is None or not status.enabled:
        return []
    out: list[Event] = []
    before = {(h.this, h.group): h.state for h in previous.hosts} if previous else {}
    mine = [h for h in status.hosts if h.this]
    for h in mine:
        peer = next((o.state for o in status.hosts if not o.this and o.group == h.group), None)
        if before.get((True, h.group)) == h.state and before.get((False, h.group)) == peer:
            continue
        group = f"group {h.group}: " if h.group else ""
        text = f"show failover ({status.unit}): {group}this host {h.state}, other host {peer or 'unknown'}"
        out.append(_polled_state(pair, at, text, status.unit, h.group, h.state, peer, status.failover_link, "ssh"))
    before_link = previous.failover_link if previous else None
    what = f"show failover ({status.unit}): failover link {status.failover_link_name or ''}".rstrip()
    out += _link_events(status.failover_link, before_link, what, pair, at, "ssh")
    return out + _state_link_events(status, previous, pair, at)


def _state_link_events(
    status: FailoverStatus, previous: FailoverStatus | None, pair: str, at: dt.datetime
) -> list[Event]:
    """The state link as `Stateful Failover Logical Update Statistics … Link : NAME IF (up|down)`
    says it (kind `polled_state_link`), when it changed: evidence as a link message is."""
    now = _link_change(status.state_link, previous.state_link if previous else None)
    if now is None:
        return []
    text = f"show failover ({status.unit}): state link {now}"
    return [_event(pair, at, at, 0, 6, text, kind="polled_state_link", unit=status.unit, status=now)]


def _link_change(link: str | None, before: str | None) -> str | None:
    """A link's polled status, `up` or `down`, when it is one of those and differs from `before`."""
    now = (link or "").lower()
    return now if now in ("up", "down") and (before or "").lower() != now else None


def _link_events(
    link: str | None, before: str | None, what: str, pair: str, at: dt.datetime, origin: str
) -> list[Event]:
    """The failover link's status as 105031/105032, when it changed."""
    now = _link_change(link, before)
    if now is None:
        return []
    up = (105031, "Failover LAN interface is up")
    msg_id, message = up if now == "up" else (105032, "LAN Failover interface is down")
    return [_event(pair, at, at, msg_id, 1, f"{what} {now}", kind="", message=message, origin=origin)]


SNMP_WORDS = {"active": "Active", "standby": "Standby", "failover off": "Disabled"}


def snmp_hardware_events(
    this_unit: str | None,
    roles: dict[str, str],
    link: str | None,
    previous: tuple[dict[str, str], str | None] | None,
    pair: str,
    at: dt.datetime,
) -> list[Event]:
    """cfwHardwareStatusTable's unit rows and failover link, when changed since `previous`."""
    out: list[Event] = []
    if this_unit is None:
        return out
    peer_unit = "secondary" if this_unit == "primary" else "primary"
    if previous is None or previous[0] != roles:
        mine = SNMP_WORDS.get(roles.get(this_unit, ""), roles.get(this_unit, "unknown"))
        peer = SNMP_WORDS.get(roles.get(peer_unit, ""), roles.get(peer_unit, "unknown"))
        text = f"cfwHardwareStatusTable ({this_unit}): this unit {mine}, other unit {peer}"
        out.append(_polled_state(pair, at, text, this_unit, None, mine, peer, link, "snmp-poll"))
    what = f"cfwHardwareStatusTable ({this_unit}): failover link"
    return out + _link_events(link, previous[1] if previous else None, what, pair, at, "snmp-poll")


def ha_state_event(pair: str, source: str, at: dt.datetime, group: int | None, state: str) -> Event:
    """CISCO-UNIFIED-FIREWALL-MIB cufwFailoverStateChanged, decoded: a group's HA state on the sender.

    The trap names no unit (primary or secondary) and no reason; its sender is the unit's management
    address, which follows the role. So it is evidence of a state change at that address (kind
    `ha_state_changed`, in timelines and evidence), not a role assignment of a physical unit.
    """
    where = f"failover group {group}" if group else "the unit"
    text = f"cufwFailoverStateChanged: {where} now {state} (cufwFOGrpHAstate) on {source}"
    return _event(
        pair, at, at, 0, 5, text, kind="ha_state_changed", group=group, my_state=state, status=state, sender=source
    )
