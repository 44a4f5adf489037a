"""CLI defaults from a file, so an admin shell on a deployed host just works.

`$HAMON_CONFIG`, else `~/.config/hamon/config.yaml` (`$XDG_CONFIG_HOME/hamon/config.yaml`), else
`/etc/hamon/config.yaml` — the first that exists, as YAML:

    db: postgresql+psycopg://hamon@db.example/hamon
    inventory: /etc/hamon/inventory.yml
    tz: Europe/Berlin
    external_url: https://grafana.example

An option on the command line goes first, then the environment (HAMON_DB, HAMON_INVENTORY), then
the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hamon.errors import ConfigError
from hamon.resolve.settings import load_mapping

KEYS = ("db", "inventory", "tz", "external_url")
# Per command, the option each key fills (click's default_map).
COMMAND_DEFAULTS = {"serve": ("tz", "external_url"), "replay": ("tz",), "worker": ("tz", "external_url")}


def config_path() -> Path | None:
    """The config file in force, or None."""
    given = os.environ.get("HAMON_CONFIG")
    if given:
        if not Path(given).is_file():
            raise ConfigError(f"HAMON_CONFIG names {given}, which is not a file")
        return Path(given)
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for candidate in (home / "hamon" / "config.yaml", Path("/etc/hamon/config.yaml")):
        if candidate.is_file():
            return candidate
    return None


def load_cli_config() -> tuple[Path | None, dict[str, Any]]:
    path = config_path()
    if path is None:
        return None, {}
    doc = load_mapping(str(path), "the hamon config", KEYS)
    for k, v in doc.items():
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{path}: key {k!r} must be a non-empty string, not {v!r}")
    return path, doc


def default_map(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """click's default_map for the subcommands' options the file fills."""
    return {cmd: {k: doc[k] for k in keys if k in doc} for cmd, keys in COMMAND_DEFAULTS.items()}
