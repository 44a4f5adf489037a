"""Output: JSON for machines, rich tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# C0 controls but tab, DEL and C1 controls: shown as rsyslog shows them on receive (`#033` for ESC).
CONTROL = {c: f"#{c:03o}" for c in [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0)]}


def literal(value: object) -> str:
    """Text from the wire (or the store) as literal text: control characters escaped, no escapes
    reach the terminal."""
    return str(value).translate(CONTROL)


def plain(value: object) -> str:
    """Wire text for a console line that has markup of its own: literal, and its brackets escaped."""
    return escape(literal(value))


def styled(text: str, style: str) -> Text:
    """A cell of hamon's own words with a style (colours in tables)."""
    return Text(text, style=style)


def emit_json(value: Any) -> None:
    """Write JSON to stdout, one document, newline-terminated."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit_json_stream(items: Iterable[Any]) -> None:
    """Write a JSON array item by item, as the items come: one item per line (the C encoder; an
    indented document goes through the far slower pure-Python one), so a listing of millions of
    rows is written in bounded memory, and `grep` still finds a row's line."""
    out = sys.stdout
    encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    first = True
    out.write("[")
    for item in items:
        out.write(("\n  " if first else ",\n  ") + encode(item))
        first = False
    out.write("\n]\n" if not first else "]\n")
    out.flush()


def emit_json_texts(docs: Iterable[str]) -> None:
    """A JSON array of items already written as JSON (by the database), one per line, as they come."""
    out = sys.stdout
    first = True
    out.write("[")
    for doc in docs:
        out.write(("\n  " if first else ",\n  ") + doc)
        first = False
    out.write("\n]\n" if not first else "]\n")
    out.flush()


def console(stderr: bool = False) -> Console:
    """A console for people; piped into a file or `less` it does not wrap at 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 240
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A plain table; None shows as an empty cell. Cells are literal text (no markup, control
    characters escaped) unless they are rich Text (hamon's own styled words)."""
    t = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for i, c in enumerate(columns):
        last = i == len(columns) - 1
        t.add_column(c, no_wrap=not last, overflow="fold" if last else "ellipsis")
    for r in rows:
        t.add_row(*(v if isinstance(v, Text) else Text("" if v is None else literal(v)) for v in r))
    return t
