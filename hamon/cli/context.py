"""What every command shares: the store and the inventory, opened on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hamon.resolve.inventory import Inventory, load_inventory

if TYPE_CHECKING:
    from hamon.store import Store


@dataclass
class Context:
    """Options of the `hamon` group; the store is opened (and migrated) only when a command needs it."""

    db_url: str | None = None
    inventory_path: str | None = None
    _store: Store | None = field(default=None, repr=False)
    _inventory: Inventory | None = field(default=None, repr=False)

    def store(self, *, migrate: bool = True, create: bool = False) -> Store:
        """The store, opened once. Only commands that write input (`create`) make a new SQLite file:
        a read command on a path that holds no store says so instead of creating an empty one."""
        if self._store is None:
            from hamon.store import Store  # SQLAlchemy is imported only by commands that use the store

            self._store = Store(self.db_url, migrate=migrate, create=create)
        return self._store

    def known_pair(self, pair: str | None) -> str | None:
        """`pair` when the store or the inventory knows it; a typo is an error listing the known ones."""
        if pair is None:
            return None
        inventory = self.inventory()
        known = set(self.store().pairs()) | {p.name for p in (inventory.pairs if inventory else ())}
        if pair not in known:
            from hamon.errors import ConfigError

            shown = ", ".join(sorted(known)[:20]) + (", …" if len(known) > 20 else "")
            raise ConfigError(f"no pair {pair!r} (known: {shown or 'none yet'})")
        return pair

    def inventory(self) -> Inventory | None:
        """The inventory, or None when none is configured."""
        if self.inventory_path and self._inventory is None:
            self._inventory = load_inventory(self.inventory_path)
        return self._inventory

    def close(self) -> None:
        """Release the store's connections."""
        if self._store is not None:
            self._store.close()
