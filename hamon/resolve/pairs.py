"""Pair resolution: which failover pair a message belongs to."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from hamon.resolve.inventory import Inventory

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PairResolver:
    """Maps a device-id and a sender to a pair name.

    The inventory decides first (device-id, then sender, then networks). Without an entry a
    pair is keyed by the device-id — both units share it, because the configuration is
    replicated — else by the sender.
    """

    def __init__(self, inventory: Inventory | None = None) -> None:
        self._exact: dict[str, str] = {}
        self._networks: list[tuple[Network, str]] = []
        for pair in inventory.pairs if inventory else ():
            for m in pair.match:
                if "/" in m:
                    self._networks.append((ipaddress.ip_network(m, strict=False), pair.name))
                else:
                    self._exact[_key(m)] = pair.name
        self.resolve = lru_cache(maxsize=16384)(self._resolve)  # the parser caches whole heads in front of it

    def _resolve(self, device_id: str | None, source: str) -> str:
        for name in (device_id, source):
            if name is not None and (pair := self._exact.get(_key(name))) is not None:
                return pair
        if self._networks:
            try:
                addr = ipaddress.ip_address(source.strip("[]"))
            except ValueError:
                addr = None
            if addr is not None:
                for net, pair in self._networks:
                    if addr in net:
                        return pair
        return device_id or source


def _key(name: str) -> str:
    name = name.strip().lower()
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return name
