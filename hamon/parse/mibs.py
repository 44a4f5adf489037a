"""The MIB definitions hamon decodes, as the MIBs define them (names, OIDs, enumerations).

CISCO-UNIFIED-FIREWALL-MIB, revision 202103180000Z (failover group added in 201912120000Z):
    cufwFailoverStateChanged NOTIFICATION-TYPE
        OBJECTS { cufwFOGroupIndex, cufwFOGrpHAstate }
        "generated when the firewall detects a state change in either units of an HA pair"
        ::= { ciscoUnifiedFirewallMIBNotifs 3 }                       -- 1.3.6.1.4.1.9.9.491.0.3
    cufwFOGrpStatusEntry ::= { cufwFOGrpStatusTable 1 }               -- 1.3.6.1.4.1.9.9.491.1.4.2.1.1
        cufwFOGroupIndex  CUfwFOGroupId    ::= { cufwFOGrpStatusEntry 1 }
        cufwFOGrpHAstate  HardwareStatus   ::= { cufwFOGrpStatusEntry 3 }
            "The current HA role of a group on the unit being polled.
             Allowed values are active or standby or unknown."
    CUfwFOGroupId ::= INTEGER { default(0), group1(1), group2(2) }   -- 0: not applicable (Active/Standby)
CISCO-FIREWALL-MIB:
    HardwareStatus ::= INTEGER { other(1), up(2), down(3), error(4), overTemp(5), busy(6), noMedia(7),
                                 backup(8), active(9), standby(10) }
"""

from __future__ import annotations

CUFW_FAILOVER_STATE_CHANGED = "1.3.6.1.4.1.9.9.491.0.3"
CUFW_FO_GRP_STATUS_ENTRY = "1.3.6.1.4.1.9.9.491.1.4.2.1.1"
CUFW_FO_GROUP_INDEX = CUFW_FO_GRP_STATUS_ENTRY + ".1"
CUFW_FO_GRP_HA_STATE = CUFW_FO_GRP_STATUS_ENTRY + ".3"
CUFW_FO_GROUP_ID = {0: "default", 1: "group1", 2: "group2"}
HARDWARE_STATUS = {
    1: "other",
    2: "up",
    3: "down",
    4: "error",
    5: "overTemp",
    6: "busy",
    7: "noMedia",
    8: "backup",
    9: "active",
    10: "standby",
}


def column_value(binds: dict[str, object], column: str) -> tuple[str, object] | None:
    """(instance index, value) of the first varbind of a table column, e.g. cufwFOGrpHAstate.1."""
    for oid, value in binds.items():
        if oid.startswith(column + "."):
            return oid[len(column) + 1 :], value
    return None
