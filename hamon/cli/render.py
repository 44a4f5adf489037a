"""Output: JSON for machines, rich tables for people."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
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
    emit_json_texts(map(json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode, items))


JSON_CHUNK = 5000  # items written together: one write per chunk, not per item


def emit_json_texts(docs: Iterable[str]) -> None:
    """A JSON array of items already written as JSON (by the database), one per line, written as
    they come in chunks of JSON_CHUNK (a write per item costs more than the database's work)."""
    out = sys.stdout
    items = iter(docs)
    first = next(items, None)
    if first is None:
        out.write("[]\n")
        out.flush()
        return
    out.write("[\n  " + first)
    chunk: list[str] = []
    for doc in items:
        chunk.append(doc)
        if len(chunk) >= JSON_CHUNK:
            out.write(",\n  " + ",\n  ".join(chunk))
            chunk.clear()
    if chunk:
        out.write(",\n  " + ",\n  ".join(chunk))
    out.write("\n]\n")
    out.flush()


WIDE = {"on": False}  # `--wide` on the command line: every cell whole
MIN_FREE = 24  # the free-text column keeps at least this many columns while others truncate
NARROW = 72  # a terminal narrower than this shows each row as a record
BLANK = "n/a"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT")


def set_wide(ctx: Any, param: Any, value: bool) -> None:
    """The `--wide` option's callback (added to every listing)."""
    if value:
        WIDE["on"] = True


def console(stderr: bool = False) -> Console:
    """A console for people; piped into a file or `less` it does not wrap at 80 columns, and with
    `--wide` it never wraps (the terminal does)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 240
    if WIDE["on"]:
        width = 100_000
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


class Listing:
    """A table that fits the console. The free-text column (the last) gets the
    remaining width, never less than MIN_FREE, and wraps. To fit, in this order: timestamps lose
    their year (`11-25 10:00:13`), the `extra` columns are left out (shown with --wide or when
    there is room), the other columns are truncated (widest first, never below their header, ten
    columns or a timestamp). When nothing fits — or the terminal is narrower than NARROW columns —
    each row is shown as a record of `name: value` lines, with every column."""

    def __init__(
        self,
        title: str | None,
        columns: Sequence[str],
        rows: Sequence[Sequence[Text]],
        extra: Sequence[str] = (),
    ) -> None:
        self.title, self.columns, self.rows = title, list(columns), rows
        self.free = len(self.columns) - 1
        self.extra = [self.columns.index(c) for c in extra]
        self.times = [any(_TIMESTAMP.match(r[i].plain) for r in rows) for i in range(len(self.columns))]

    def _cells(self, compact: bool) -> list[list[Text]]:
        if not compact:
            return [list(r) for r in self.rows]
        return [
            [_compact(c) if self.times[i] else c for i, c in enumerate(r)]  # 2026-11-25T10:00:13Z → 11-25 10:00:13
            for r in self.rows
        ]

    def layout(self, max_width: int) -> tuple[list[int], list[list[Text]], list[int]] | None:
        """(shown columns, their cells, their widths) within max_width, or None: records."""
        n = len(self.columns)
        stages = [(0, False), (0, True)] + [(k, True) for k in range(1, len(self.extra) + 1)]
        for drop, compact in stages:
            shown = [i for i in range(n) if i not in self.extra[:drop]]
            cells = self._cells(compact)
            natural = {i: max([cell_len(self.columns[i]), *(r[i].cell_len for r in cells)]) for i in shown}
            avail = max_width - 2 * (len(shown) - 1)
            others = sum(w for i, w in natural.items() if i != self.free)
            if others + min(natural.get(self.free, 0), MIN_FREE) <= avail:
                if self.free in natural:
                    natural[self.free] = min(natural[self.free], avail - others)
                return shown, cells, [natural[i] for i in shown]
        # the narrowest layout still too wide: truncate the other columns
        floors = {
            i: natural[i] if self.times[i] or natural[i] <= 10 else max(cell_len(self.columns[i]), 10) for i in shown
        }
        widths = dict(natural)
        if self.free in widths:
            widths[self.free] = min(natural[self.free], MIN_FREE)
        while sum(widths.values()) > avail:
            shrinkable = [i for i in shown if i != self.free and widths[i] > floors[i]]
            if not shrinkable:
                return None
            widest = max(shrinkable, key=lambda i: widths[i] - floors[i])
            widths[widest] -= 1
        if self.free in widths:
            widths[self.free] = min(natural[self.free], avail - sum(w for i, w in widths.items() if i != self.free))
        return shown, cells, [widths[i] for i in shown]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.title:
            yield Text(self.title, style="bold")
        fit = None if options.max_width < NARROW and not WIDE["on"] else self.layout(options.max_width)
        if fit is None:
            yield from self._records()
            return
        shown, cells, widths = fit
        t = Table(box=None, pad_edge=False, header_style="bold")
        for i, w in zip(shown, widths, strict=True):
            free = i == self.free
            t.add_column(self.columns[i], width=w, no_wrap=not free, overflow="fold" if free else "ellipsis")
        for r in cells:
            t.add_row(*(r[i] for i in shown))
        yield t

    def _records(self) -> RenderResult:
        name_w = max(cell_len(c) for c in self.columns)
        for n, r in enumerate(self.rows):
            if n:
                yield Text("")
            for c, v in zip(self.columns, r, strict=True):
                line = Text()
                line.append(f"{c + ':':<{name_w + 1}} ", style="bold")
                line.append_text(v)
                yield line


def _compact(cell: Text) -> Text:
    plain = cell.plain
    if not _TIMESTAMP.match(plain):
        return cell
    return Text(plain[5:19].replace("T", " "), style=cell.style)


def _cell(v: Any, blank: str) -> Text:
    if isinstance(v, Text):
        return v if v.plain else Text(blank, style="dim")
    if v is None or v == "":
        return Text(blank, style="dim")
    return Text(literal(v))


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    blanks: dict[str, str] | None = None,
    extra: Sequence[str] = (),
) -> Listing:
    """A listing that fits the terminal (see Listing). Cells are literal text (no markup, control
    characters escaped) unless they are rich Text (hamon's own styled words); an empty cell says
    `n/a` — or what `blanks` names for its column (`none` where nothing is the answer); `extra`
    columns are left out when the terminal is too narrow for them."""
    words = [(blanks or {}).get(c, BLANK) for c in columns]
    cells = [[_cell(v, words[i]) for i, v in enumerate(r)] for r in rows]
    return Listing(title, columns, cells, extra)
