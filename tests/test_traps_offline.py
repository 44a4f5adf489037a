"""SNMP traps offline: net-snmp's snmptrap sends real traps to a real snmptrapd, whose log `hamon
replay --traps` reads (its default format and -On, SNMPv1, v2c and v3); hamon's own trap capture;
what neither format holds is quarantined with the reason."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import require, wait_for
from serve_proc import free_port

from hamon.cli import main
from hamon.parse import traps
from hamon.store import Store

CLOG = "1.3.6.1.4.1.9.9.41.2.0.1"
HIST = "1.3.6.1.4.1.9.9.41.1.2.3.1"
CUFW = "1.3.6.1.4.1.9.9.491.0.3"
ENTRY = "1.3.6.1.4.1.9.9.491.1.4.2.1.1"  # cufwFOGrpStatusEntry
ENGINE = "0x8000000001020304"
STANDBY = "(Primary) Switching to STANDBY - Set by the config command."
ACTIVE = "(Secondary) Switching to ACTIVE - Other unit wants me Active."


def clog(row: int, severity: int, msg_id: str, text: str) -> list[str]:
    return [f"{HIST}.3.{row}", "i", str(severity + 1), f"{HIST}.4.{row}", "s", msg_id, f"{HIST}.5.{row}", "s", text]


def run_trapd(tmp_path: Path, numeric: bool) -> tuple[subprocess.Popen[bytes], int, Path]:
    exe = require("snmptrapd", "net-snmp's snmptrapd writes the trap log hamon reads")
    conf = tmp_path / "snmptrapd.conf"
    conf.write_text(
        f"createUser -e {ENGINE} asa-v3 SHA authpass123 AES privpass123\n"
        "authUser log asa-v3\nauthCommunity log hamon-ro\n"
    )
    log = tmp_path / "trapd.log"
    port = free_port(socket.SOCK_DGRAM)
    proc = subprocess.Popen(
        [exe, "-f", "-C", "-c", str(conf), *(["-On"] if numeric else []), "-Lf", str(log), f"udp:127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: log.exists() and b"NET-SNMP version" in log.read_bytes())
    return proc, port, log


def snmptrap(*args: str) -> None:
    exe = require("snmptrap", "net-snmp's snmptrap is the real trap sender")
    subprocess.run([exe, *args], check=True, timeout=10, capture_output=True)


@pytest.mark.parametrize("numeric", [False, True], ids=["default", "-On"])
def test_snmptrapd_log_replays_to_the_events_serve_would_make(tmp_path: Path, numeric: bool) -> None:
    proc, port, log = run_trapd(tmp_path, numeric)
    to = f"127.0.0.1:{port}"
    try:
        # SNMPv1 from the primary (agent 192.0.2.1), v2c and v3 from the secondary, a group's state, a coldStart
        snmptrap(
            "-v1",
            "-c",
            "hamon-ro",
            to,
            "1.3.6.1.4.1.9.9.41.2",
            "192.0.2.1",
            "6",
            "1",
            "",
            *clog(7, 1, "104002", STANDBY),
        )
        snmptrap("-v2c", "-c", "hamon-ro", to, "", CLOG, *clog(8, 1, "104001", ACTIVE))
        v3 = ["-v3", "-e", ENGINE, "-u", "asa-v3", "-l", "authPriv", "-a", "SHA", "-A", "authpass123"]
        v3 += ["-x", "AES", "-X", "privpass123"]
        snmptrap(*v3, to, "", CUFW, f"{ENTRY}.1.0", "i", "0", f"{ENTRY}.3.0", "i", "9")
        snmptrap("-v1", "-c", "hamon-ro", to, "1.3.6.1.4.1.9", "192.0.2.1", "0", "0", "")  # coldStart: not hamon's
        snmptrap("-v2c", "-c", "hamon-ro", to, "", CLOG, f"{HIST}.5.9", "s", "no severity, no id")
        wait_for(lambda: len(re.findall(rb"^\d{4}-\d\d-\d\d ", log.read_bytes(), re.M)) == 5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    out = CliRunner().invoke(main, ["--db", db, "replay", "--traps", str(log), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert (summary["lines"], summary["events"], summary["other"], summary["quarantined"]) == (5, 3, 1, 1)
    events = sorted(Store(db).events(), key=lambda e: (e.at, e.seq))
    kinds = [(e.source, e.msg_id, e.kind, e.unit.value if e.unit else None) for e in events]
    assert sorted(kinds) == sorted(
        [
            ("192.0.2.1", 104002, "switch_standby", "primary"),  # the v1 agent address is the sender
            ("127.0.0.1", 104001, "switch_active", "secondary"),
            ("127.0.0.1", 0, "ha_state_changed", None),
        ]
    )
    (state,) = [e for e in events if e.kind == "ha_state_changed"]
    assert state.my_state == "active" and state.group is None
    # snmptrapd's local time, read in --tz (UTC here), to the second
    stamp = dt.datetime.fromtimestamp(log.stat().st_mtime, dt.UTC)
    assert all(abs((e.at - stamp).total_seconds()) < 30 and e.at.microsecond == 0 for e in events)
    (q,) = Store(db).quarantined()
    assert q.reason == "clogMessageGenerated without severity, name or text"
    again = CliRunner().invoke(main, ["--db", db, "replay", "--traps", str(log), "--json"])
    assert json.loads(again.stdout)["stored"] == 0  # the same traps again change nothing


def test_a_failover_told_by_traps_alone_is_correlated(tmp_path: Path) -> None:
    """The primary hands over by command, the secondary takes over: both words carried by traps,
    each sender its own pair member by the inventory."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text("pairs:\n  - name: fw-edge\n    match: [192.0.2.1, 192.0.2.2]\n")
    t0 = dt.datetime(2026, 12, 1, 10, 0, 0, tzinfo=dt.UTC)
    rows = [
        traps.Trap(t0, "192.0.2.1", ((traps.SNMP_TRAP_OID, CLOG), *_binds(clog(1, 1, "104002", STANDBY)))),
        traps.Trap(
            t0 + dt.timedelta(seconds=1),
            "192.0.2.2",
            ((traps.SNMP_TRAP_OID, CLOG), *_binds(clog(2, 1, "104001", ACTIVE))),
        ),
    ]
    capture = tmp_path / "traps-2026-12-01.jsonl"
    capture.write_bytes(b"".join(t.to_line() + b"\n" for t in rows))
    db = f"sqlite:///{tmp_path / 'h.db'}"
    out = CliRunner().invoke(main, ["--db", db, "--inventory", str(inv), "replay", "--traps", str(capture), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["failovers"] == 1
    shown = CliRunner().invoke(main, ["--db", db, "--inventory", str(inv), "failovers", "--json"])
    (fo,) = json.loads(shown.stdout)
    assert (fo["pair"], fo["previous_active"], fo["new_active"]) == ("fw-edge", "primary", "secondary")
    assert (fo["cause"], fo["cause_text"]) == ("manual", "Set by the config command")  # the primary's word


def _binds(args: list[str]) -> list[tuple[str, int | str]]:
    return [(args[i], int(args[i + 2]) if args[i + 1] == "i" else args[i + 2]) for i in range(0, len(args), 3)]


def test_the_reader_takes_mib_names_enumerations_and_hex() -> None:
    log = (
        "NET-SNMP version 5.9.3\n"
        "2026-12-07 14:24:55 fw.example [UDP: [10.1.1.2]:33276->[10.1.1.9]:162]:\n"
        "DISMAN-EVENT-MIB::sysUpTimeInstance = Timeticks: (4640938) 12:53:29.38\t"
        "SNMPv2-MIB::snmpTrapOID.0 = OID: CISCO-SYSLOG-MIB::clogMessageGenerated\t"
        "CISCO-SYSLOG-MIB::clogHistSeverity.4 = INTEGER: alert(2)\t"
        'CISCO-SYSLOG-MIB::clogHistMsgName.4 = STRING: "104001"\t'
        'CISCO-SYSLOG-MIB::clogHistMsgText.4 = STRING: "(Secondary) Switching to ACTIVE - \\"x\\"\tand a tab."\n'
        "2026-12-07 14:24:56 fw.example [UDP: [10.1.1.2]:33276->[10.1.1.9]:162]:\n"
        "SNMPv2-MIB::snmpTrapOID.0 = OID: CISCO-UNIFIED-FIREWALL-MIB::cufwFailoverStateChanged\t"
        "CISCO-UNIFIED-FIREWALL-MIB::cufwFOGroupIndex.2 = INTEGER: group2(2)\t"
        "CISCO-UNIFIED-FIREWALL-MIB::cufwFOGrpHAstate.2 = INTEGER: standby(10)\n"
        "2026-12-07 14:24:57 fw.example [UDP: [10.1.1.2]:33276->[10.1.1.9]:162]:\n"
        "SNMPv2-SMI::enterprises.9.9.41.1.2.3.1.5.1 = Hex-STRING: 28 53 65 63 29 \n"
        "2026-12-07 14:24:58 fw.example [UDP: [10.1.1.2]:33276->[10.1.1.9]:162]:\n"
    )
    items = list(traps.read(log.encode(), dt.timezone(dt.timedelta(hours=1))))
    assert len(items) == 4
    first, second, third, last = items
    assert isinstance(first, traps.Trap) and first.source == "10.1.1.2"
    assert first.at == dt.datetime(2026, 12, 7, 13, 24, 55, tzinfo=dt.UTC)  # +01:00 read as told
    assert traps.decode(first) == traps.Syslog(b'%ASA-1-104001: (Secondary) Switching to ACTIVE - "x"\tand a tab.')
    assert isinstance(second, traps.Trap) and traps.decode(second) == traps.GroupState(2, "standby")
    assert isinstance(third, traps.Trap) and third.get(f"{HIST}.5.1") == "(Sec)"
    assert traps.decode(third) == traps.Other("")  # no snmpTrapOID: not a trap of hamon's MIBs
    assert isinstance(last, traps.Unreadable) and last.reason == "snmptrapd trap without readable varbinds"


def test_a_capture_line_that_is_not_one_is_quarantined(tmp_path: Path) -> None:
    good = traps.Trap(
        dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC),
        "192.0.2.1",
        ((traps.SNMP_TRAP_OID, CLOG), *_binds(clog(1, 1, "104002", STANDBY))),
    )
    f = tmp_path / "traps.jsonl"
    f.write_bytes(good.to_line() + b'\n{"at": "2026-12-01T10:00:00", "source": "x", "binds": []}\n{not json\n')
    db = f"sqlite:///{tmp_path / 'h.db'}"
    out = CliRunner().invoke(main, ["--db", db, "replay", "--traps", str(f), "--json"])
    assert out.exit_code == 0, out.output
    s = json.loads(out.stdout)
    assert (s["lines"], s["events"], s["quarantined"]) == (3, 1, 2)
    reasons = sorted(q.reason for q in Store(db).quarantined())
    assert reasons[0].startswith("not a trap capture line: Expecting property name")
    assert reasons[1] == "not a trap capture line: a time without a zone"


def test_damaged_trap_files_never_crash_the_reader() -> None:
    """3,000 mutations of a real snmptrapd log and of a capture line (bytes changed, cut, inserted):
    every one is read to traps or unreadable lines with a reason, never an exception."""
    import random

    rng = random.Random(5)
    log = (
        "NET-SNMP version 5.9.3\n2026-12-07 14:24:55 localhost [UDP: [127.0.0.1]:33276->[127.0.0.1]:51163]:\n"
        ".1.3.6.1.2.1.1.3.0 = Timeticks: (4640938) 12:53:29.38\t.1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.4.1.9.9.41.2.0.1\t"
        f'{HIST}.3.9 = INTEGER: 2\t{HIST}.4.9 = STRING: "104001"\t{HIST}.5.9 = STRING: "{ACTIVE}"\n'
    ).encode()
    capture = traps.Trap(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "192.0.2.1", _binds(clog(1, 1, "104001", ACTIVE)))
    seen = {"trap": 0, "unreadable": 0}
    for base in (log, capture.to_line()):
        for _ in range(1500):
            data = bytearray(base)
            for _ in range(rng.randint(1, 12)):
                pos = rng.randrange(len(data) or 1)
                op = rng.random()
                if op < 0.4:
                    data[pos : pos + 1] = bytes([rng.randrange(256)])
                elif op < 0.7:
                    del data[pos : pos + rng.randint(1, 40)]
                else:
                    data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
            for item in traps.read(bytes(data)):
                if isinstance(item, traps.Trap):
                    traps.decode(item)
                    item.to_line()
                    seen["trap"] += 1
                else:
                    assert item.reason
                    seen["unreadable"] += 1
    assert seen["trap"] > 0 and seen["unreadable"] > 0
