"""Small YAML settings files (the serve config, SSH secrets): a mapping with known keys, or a clear error."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from hamon.errors import ConfigError


def load_mapping(path: str, what: str, known: Iterable[str]) -> dict[str, Any]:
    """The file's mapping; unreadable, not YAML, not a mapping or an unknown key is a ConfigError."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {what} is not valid YAML") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: {what} must be a mapping")
    unknown = sorted(set(doc) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return doc
