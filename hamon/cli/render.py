"""Output: JSON for machines, rich tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def emit_json(value: Any) -> None:
    """Write JSON to stdout, one document, newline-terminated."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def console(stderr: bool = False) -> Console:
    """A console that keeps colour off when the output is not a terminal."""
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A plain table; None shows as an empty cell."""
    t = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    return t
