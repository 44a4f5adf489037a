"""Inventory YAML: valid files load; every mistake names the file, the pair and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hamon.errors import InventoryError
from hamon.resolve.inventory import InterfacePolicy, load_inventory
from hamon.resolve.pairs import PairResolver

GOOD = """
pairs:
  - name: edge
    match: [fw-edge, 192.0.2.10, 192.0.2.11]
    mode: active-standby
    unit_polltime: 200ms
    unit_holdtime: 1
    interface_polltime: 1
    interface_holdtime: 5s
    interface_policy: 20%
  - name: dc
    match: [fw-dc, 198.51.100.0/30]
    mode: active-active
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "inventory.yml"
    p.write_text(text)
    return p


def test_good_inventory_loads_with_defaults(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, GOOD))
    edge, dc = inv.pairs
    assert (edge.unit_polltime, edge.unit_holdtime, edge.interface_holdtime) == (0.2, 1.0, 5.0)
    assert edge.interface_policy == InterfacePolicy(20, True)
    assert (dc.unit_polltime, dc.unit_holdtime, dc.interface_polltime, dc.interface_holdtime) == (1.0, 15.0, 5.0, 25.0)
    assert dc.interface_policy == InterfacePolicy(1, False)
    assert inv.pair("unlisted").unit_holdtime == 15.0


def test_an_inventory_empty_on_purpose_says_so(tmp_path: Path) -> None:
    assert load_inventory(_write(tmp_path, "pairs: []\n")).pairs == ()


def test_a_pair_names_its_clock_zone(tmp_path: Path) -> None:
    inv = load_inventory(
        _write(tmp_path, "pairs:\n  - {name: edge, match: [a], tz: America/Chicago}\n  - {name: dc, match: [b]}\n")
    )
    assert (inv.pair("edge").tz, inv.pair("dc").tz) == ("America/Chicago", None)


def test_resolver_matches_names_addresses_and_networks(tmp_path: Path) -> None:
    r = PairResolver(load_inventory(_write(tmp_path, GOOD)))
    assert r.resolve("FW-EDGE", "10.9.9.9") == "edge"
    assert r.resolve(None, "192.0.2.11") == "edge"
    assert r.resolve(None, "198.51.100.2") == "dc"
    assert r.resolve(None, "198.51.100.9") == "198.51.100.9"
    assert r.resolve("other-fw", "203.0.113.1") == "other-fw"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pairs:\n  - name: edge\n    match: [a]\n    colour: red\n", "pair 'edge': unknown key 'colour'"),
        ("pairs:\n  - name: edge\n    match: [a]\n    mode: hot-cold\n", "pair 'edge': key 'mode' must be one of"),
        (
            "pairs:\n  - name: edge\n    match: [a]\n    unit_holdtime: 60\n",
            "pair 'edge': key 'unit_holdtime' must be between 0.8s and 45s",
        ),
        (
            "pairs:\n  - name: edge\n    match: [a]\n    unit_polltime: 10\n",
            "key 'unit_holdtime' (15s) must be at least 3 times",
        ),
        (
            "pairs:\n  - name: edge\n    match: [a]\n    interface_policy: 300\n",
            "pair 'edge': key 'interface_policy' must be",
        ),
        (
            "pairs:\n  - name: edge\n    match: [a]\n    interface_holdtime: soon\n",
            "key 'interface_holdtime' must be a duration",
        ),
        (
            "pairs:\n  - name: edge\n    match: [a]\n    snmp_poll: ['10.0.0.1:99999']\n",
            "pair 'edge': key 'snmp_poll': '10.0.0.1:99999' is not HOST or HOST:PORT",
        ),
        (
            "pairs:\n  - name: edge\n    match: [a]\n    poll: [a, b, c]\n",
            "pair 'edge': key 'poll' must list one or two unit addresses",
        ),
        ("pairs:\n  - name: edge\n", "pair 'edge': key 'match' must be a non-empty list"),
        ("pairs:\n  - match: [a]\n", "pairs[0]: key 'name'"),
        (
            "pairs:\n  - {name: a, match: [x]}\n  - {name: b, match: [X]}\n",
            "pair 'b': match 'X' is already used by pair 'a'",
        ),
        ("pair:\n  - {name: a, match: [x]}\n", "unknown key 'pair'"),
        ("pairs: [\n", "not valid YAML"),
        ("", "the inventory is empty (write 'pairs: []' for one that is empty on purpose)"),
        ("pairs:\n", "no 'pairs:' list"),
        (
            "pairs:\n  - name: edge\n    match: [a]\n    tz: Mars/Olympus\n",
            "pair 'edge': key 'tz': unknown time zone 'Mars/Olympus'",
        ),
    ],
)
def test_mistakes_name_file_pair_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read inventory"):
        load_inventory(tmp_path / "nope.yml")
