"""The failover message catalog: every id hamon knows, its kind and the fields its text carries.

Patterns apply to the text after the unit tag, case-insensitively; a trailing period is optional
everywhere. A known id whose text does not match is quarantined (truncated or garbled); an id
of a failover range that is not listed here becomes a `generic` event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

END = r"\s*\.?\s*$"
IF = r"(?P<interface>\S+?)"


@dataclass(frozen=True, slots=True)
class Spec:
    """One message id: its kind and the pattern its text must match."""

    msg_id: int
    kind: str
    pattern: re.Pattern[str]
    summary: str


def _spec(msg_id: int, kind: str, pattern: str, summary: str) -> Spec:
    return Spec(msg_id, kind, re.compile(pattern, re.IGNORECASE), summary)


_ENTRIES: list[tuple[int, str, str, str]] = [
    # Unit health and role
    (101001, "failover_cable_ok", r"failover cable ok" + END, "serial failover cable OK"),
    (101002, "failover_cable_bad", r"bad failover cable" + END, "failover cable present but failing"),
    (
        101003,
        "failover_cable_missing",
        r"failover cable not connected \((?P<status>this unit)\)" + END,
        "cable missing (this unit)",
    ),
    (
        101004,
        "failover_cable_missing",
        r"failover cable not connected \((?P<status>other unit)\)" + END,
        "cable missing (other unit)",
    ),
    (101005, "failover_cable_error", r"error reading failover cable status" + END, "cannot read cable status"),
    (102001, "peer_power_failure", r"power failure/system reload other side" + END, "peer lost power or reloaded"),
    (
        103001,
        "peer_no_response",
        r"no response from other firewall(?: \(reason code = (?P<reason_code>\d+)\))?" + END,
        "peer declared down",
    ),
    (103002, "peer_interface_ok", r"other firewall network interface (?P<interface>.+?) ok" + END, "peer interface OK"),
    (
        103003,
        "peer_interface_failed",
        r"other firewall network interface (?P<interface>.+?) failed" + END,
        "peer interface failed",
    ),
    (
        103004,
        "peer_reports_failed",
        r"other firewall reports this firewall failed\.?(?:\s*(?:reason:\s*)?(?P<cause>.*?))?" + END,
        "peer reports this unit failed",
    ),
    (
        103005,
        "peer_reports_failure",
        r"other firewall reporting failure\.?(?:\s*reason:\s*(?P<cause>.*?))?" + END,
        "module failure on peer",
    ),
    (
        103006,
        "version_incompatible",
        r"mate version (?P<mate_version>\S+) is not compatible with ours (?P<our_version>\S+?)" + END,
        "incompatible software",
    ),
    (
        103007,
        "version_mismatch",
        r"mate version (?P<mate_version>\S+) is not identical with ours (?P<our_version>\S+?)" + END,
        "different software version",
    ),
    (
        103008,
        "hwdib_mismatch",
        r"(?:\S+\s+)?mate hwdib index (?P<value>\d+) is not identical with ours" + END,
        "interface count differs",
    ),
    (104001, "switch_active", r"switching to active(?:\s*-\s*(?P<cause>.*?))?" + END, "this unit becomes active"),
    (
        104002,
        "switch_standby",
        r"switching to (?:standby|stndby)(?:\s*-\s*(?P<cause>.*?))?" + END,
        "this unit becomes standby",
    ),
    (
        104003,
        "switch_failed",
        r"switching to failed(?:\s*-\s*(?P<cause>.*?))?" + END,
        "this unit declares itself failed",
    ),
    (104004, "switch_ok", r"switching to ok(?:\s*-\s*(?P<cause>.*?))?" + END, "a failed unit is healthy again"),
    (
        104500,
        "cloud_switch_active",
        r"switching to active(?:\s*-\s*switch reason:\s*(?P<cause>.*?))?" + END,
        "Cloud HA: becomes active",
    ),
    (
        104501,
        "cloud_switch_backup",
        r"switching to backup(?:\s*-\s*switch reason:\s*(?P<cause>.*?))?" + END,
        "Cloud HA: becomes backup",
    ),
    (104502, "cloud_backup_failed", r"becoming backup unit failed" + END, "Cloud HA: becoming backup failed"),
    # Links and interface monitoring
    (105001, "failover_disabled", r"disabling failover" + END, "failover turned off"),
    (105002, "failover_enabled", r"enabling failover" + END, "failover turned on"),
    (
        105003,
        "monitoring_waiting",
        r"monitoring on interface " + IF + r" waiting" + END,
        "interface monitoring waiting",
    ),
    (105004, "monitoring_normal", r"monitoring on interface " + IF + r" normal" + END, "interface monitoring normal"),
    (
        105005,
        "lost_communications",
        r"lost failover communications with mate on interface " + IF + END,
        "no hellos from mate on an interface",
    ),
    (105006, "link_up", r"link status '?(?P<status>up)'? on interface " + IF + END, "monitored interface link up"),
    (
        105007,
        "link_down",
        r"link status '?(?P<status>down)'? on interface " + IF + END,
        "monitored interface link down",
    ),
    (105008, "interface_testing", r"testing interface " + IF + END, "interface tests started"),
    (
        105009,
        "interface_test_result",
        r"testing on interface " + IF + r"\s+(?P<status>passed|failed|status undetermined)" + END,
        "result of interface tests",
    ),
    (105010, "message_block_alloc_failed", r"failover message block alloc failed" + END, "transient memory pressure"),
    (
        105011,
        "cable_communication_failure",
        r"failover cable communication failure" + END,
        "failover cable communication failure",
    ),
    (
        105020,
        "config_replication_slow",
        r"incomplete/slow config replication" + END,
        "incomplete or slow config replication",
    ),
    (
        105021,
        "config_sync_locked",
        r"standby unit failed to sync due to a locked (?P<command>.+?) config\.?\s*lock held by (?P<cause>.*?)" + END,
        "standby sync blocked by a config lock",
    ),
    (
        105022,
        "config_replication_failed",
        r"config replication failed with reason = (?P<cause>\S+?)" + END,
        "config replication failed",
    ),
    (105031, "failover_link_up", r"failover lan interface is up" + END, "failover link up"),
    (105032, "failover_link_down", r"lan failover interface is down" + END, "failover link down"),
    (105033, "failover_link_bounced", r"lan fo cmd iface down and up again" + END, "failover link went down and up"),
    (
        105034,
        "peer_failover_link_up",
        r"receive a lan_failover_up message from peer" + END,
        "peer reports failover link up",
    ),
    (
        105035,
        "peer_failover_link_down",
        r"receive a lan failover interface down msg from peer" + END,
        "peer reports failover link down",
    ),
    (105036, "failover_command_dropped", r"dropped a lan failover command message" + END, "failover command dropped"),
    (
        105037,
        "flapping",
        r"both units are switching back and forth as the active unit" + END,
        "the device's own flapping detector",
    ),
    (105038, "interface_count_mismatch", r"interface count mismatch" + END, "interface count mismatch"),
    (
        105039,
        "interface_count_unverified",
        r"unable to verify the interface count with mate\.?.*?" + END,
        "interface count not verified",
    ),
    (
        105040,
        "failover_version_incompatible",
        r"mate failover version is not compatible" + END,
        "failover disabled: failover version",
    ),
    (105041, "sync_command_failed", r"cmd failed during sync" + END, "command failed during sync"),
    (105042, "failover_interface_ok", r"failover interface ok" + END, "failover link restored"),
    (105043, "failover_interface_failed", r"failover interface failed" + END, "failover link failed"),
    (
        105044,
        "mode_mismatch",
        r"mate operational mode \((?P<mate_version>[^)]*)\) is not compatible with my mode \((?P<our_version>[^)]*)\)"
        + END,
        "failover disabled: mode differs",
    ),
    (
        105045,
        "license_mismatch",
        r"mate license \((?P<mate_version>.*?)\) is not compatible with my license \((?P<our_version>.*?)\)" + END,
        "failover disabled: license differs",
    ),
    (105046, "chassis_mismatch", r"mate has a different chassis" + END, "failover disabled: chassis differs"),
    (
        105047,
        "card_mismatch",
        r"mate has an? (?P<mate_version>.+?) card in slot (?P<value>\d+) which is different from my (?P<our_version>.+?)"
        + END,
        "failover disabled: card differs",
    ),
    (
        105048,
        "service_module_mismatch",
        r"mate'?s service module \((?P<mate_version>.*?)\) is different from mine \((?P<our_version>.*?)\)" + END,
        "failover disabled: service module differs",
    ),
    (
        105050,
        "interface_count_less",
        r"number of ethernet interfaces on standby unit \((?P<mate_version>\d+)\) is less than number on active unit \((?P<our_version>\d+)\)"
        + END,
        "standby has fewer interfaces",
    ),
    (
        105052,
        "weak_cipher",
        r"ha:\s*cipher in use (?P<command>\S+) strong encryption is (?P<status>\w+).*",
        "weak failover key cipher",
    ),
    # Stateful failover (logical updates over the state link)
    (210001, "lu_error", r"lu (?P<command>\S+) error = (?P<reason_code>-?\d+)" + END, "LU error"),
    (210002, "lu_alloc_failed", r"lu allocate block \((?P<value>\d+)\) failed" + END, "LU block allocation failed"),
    (210003, "lu_unknown_object", r"unknown lu object (?P<value>\d+)" + END, "unknown LU object"),
    (210022, "lu_missed_updates", r"lu missed (?P<value>\d+) updates" + END, "sequence gap on the state link"),
    (311001, "bulk_sync_start", r"lu loading standby start" + END, "bulk state sync to a joining standby starts"),
    (311002, "bulk_sync_end", r"lu loading standby end" + END, "bulk state sync ends"),
    (311003, "lu_recv_thread_up", r"lu recv thread up" + END, "LU receive thread up"),
    (311004, "lu_xmit_thread_up", r"lu xmit thread up" + END, "LU transmit thread up"),
    # Configuration replication
    (
        709001,
        "replication_failed",
        r"fo replication failed: cmd=(?P<command>.*?) returned=(?P<reason_code>-?\d+)" + END,
        "command replication failed",
    ),
    (709002, "command_unreplicable", r"fo unreplicable: cmd=(?P<command>.*?)" + END, "command cannot be replicated"),
    (
        709003,
        "config_sync_send_start",
        r"beginning configuration replication:\s*(?:send|sending) to mate" + END,
        "config replication to mate starts",
    ),
    (709004, "config_sync_send_end", r"end configuration replication \(act\)" + END, "config replication to mate ends"),
    (
        709005,
        "config_sync_receive_start",
        r"beginning configuration replication:\s*receiving from mate" + END,
        "config replication from mate starts",
    ),
    (
        709006,
        "config_sync_receive_end",
        r"end configuration replication \(stb\)" + END,
        "config replication from mate ends",
    ),
    (
        709007,
        "config_replication_command_failed",
        r"configuration replication failed for command (?P<command>.*?)" + END,
        "replication of a command failed",
    ),
    (
        709008,
        "config_sync_in_progress",
        r"configuration sync in progress\.\s*command:\s*'(?P<command>.*?)' executed from .*",
        "command not replicated during sync",
    ),
    (
        709009,
        "config_hash_match",
        r"configuration on active and standby is matching\.?\s*no config sync\.?(?:\s*time elapsed (?P<value>\d+)\s*ms)?"
        + END,
        "config hashes match; no sync",
    ),
    (
        709010,
        "config_hash_differs",
        r"configuration between units doesn'?t match\.?\s*going for config sync(?:\s*\((?P<cause>[^)]*)\))?\.?(?:\s*time elapsed (?P<value>\d+)\s*ms)?"
        + END,
        "config hashes differ; full sync",
    ),
    (
        709011,
        "config_replication_completed",
        r"failover configuration replication completed in (?P<value>\d+)\s*ms" + END,
        "config replication completed",
    ),
    (
        709012,
        "config_replication_skipped",
        r"skip configuration replication from mate as configuration on active and standby is matching" + END,
        "config replication skipped",
    ),
    (
        709013,
        "config_hash_timeout",
        r"failover configuration replication hash comparison timeout expired\s*(?P<status>.*?)" + END,
        "config hash comparison timed out; full sync",
    ),
    # Interfaces (expected during every switchover)
    (
        411001,
        "line_protocol_up",
        r"line protocol on interface " + IF + r",? changed state to up" + END,
        "line protocol up",
    ),
    (
        411002,
        "line_protocol_down",
        r"line protocol on interface " + IF + r",? changed state to down" + END,
        "line protocol down",
    ),
    (
        411003,
        "interface_admin_up",
        r"interface " + IF + r",? changed state to administratively up" + END,
        "interface administratively up",
    ),
    (
        411004,
        "interface_admin_down",
        r"interface " + IF + r",? changed state to administratively down" + END,
        "interface administratively down",
    ),
    # VPN and WebVPN HA: both units' roles, a second witness of role changes
    (
        720032,
        "vpn_ha_status",
        r"ha status callback:.*?my=(?P<my_state>[\w ]+?),\s*peer=(?P<peer_state>[\w ]+?)" + END,
        "VPN failover status: both roles",
    ),
    (
        721002,
        "webvpn_ha_status",
        r"ha status change: event (?P<command>\S+), my state (?P<my_state>[\w ]+?), peer state (?P<peer_state>[\w ]+?)"
        + END,
        "WebVPN HA status: both roles",
    ),
]
# LU failures to allocate or look up state on the standby (210005-210021) share one shape.
_ENTRIES += [
    (i, "lu_replication_failed", r"lu .*", "LU replication failure on the standby") for i in range(210005, 210022)
]
# Cloud HA (ASAv in public clouds)
_ENTRIES += [
    (i, "cloud_ha", r".*?(?:changed from (?P<my_state>\S+?) to (?P<peer_state>\S+?))?" + END, "Cloud HA status")
    for i in range(105500, 105514)
]

CATALOG: dict[int, Spec] = {e[0]: _spec(*e) for e in _ENTRIES}

# Ranges whose every id is failover-related; ids not in CATALOG become generic events.
FAILOVER_RANGES: tuple[tuple[int, int], ...] = (
    (101000, 105999),
    (210000, 210999),
    (311000, 311999),
    (709000, 709999),
    (720000, 721999),
    (727000, 727999),
    (411001, 411004),
)
# The same ranges as one regex over the wire tag, so non-failover lines are skipped in C.
FAILOVER_TAG = rb"%(?:ASA|FTD|PIX)-[0-7]-(?:10[1-5]\d{3}|210\d{3}|311\d{3}|709\d{3}|72[017]\d{3}|41100[1-4])"


def is_failover(msg_id: int) -> bool:
    """True for ids hamon stores as events."""
    return any(lo <= msg_id <= hi for lo, hi in FAILOVER_RANGES)


# Every kind an event can have: the catalog's, and those hamon makes itself (polls, traps, unknown ids).
EVENT_KINDS = tuple(
    sorted(
        {spec.kind for spec in CATALOG.values()} | {"generic", "polled_state", "polled_state_link", "ha_state_changed"}
    )
)
