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
    """A console for people; piped into a file or `less` it does not wrap at 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 240
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A plain table; None shows as an empty cell."""
    t = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for i, c in enumerate(columns):
        last = i == len(columns) - 1
        t.add_column(c, no_wrap=not last, overflow="fold" if last else "ellipsis")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    return t
