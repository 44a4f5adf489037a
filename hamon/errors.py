"""One exception root; every family carries a message a user can act on."""


class HamonError(Exception):
    """Root of every error hamon raises on purpose."""


class ConfigError(HamonError):
    """A configuration or inventory file, option or value is wrong."""


class InventoryError(ConfigError):
    """The inventory YAML is wrong; the message names the file, the pair and the key."""


class InputError(HamonError):
    """An input (file, stdin, socket) cannot be read."""


class StoreError(HamonError):
    """The store cannot be opened, migrated, written or read."""


class StoreRefused(StoreError):
    """The store is there but refused what was written (a value out of a column's range, a
    constraint): writing it again will not help, unlike an outage."""
