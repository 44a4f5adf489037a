"""Tables that fit the terminal: the free text keeps its width, other columns give way first,
extras are left out, a narrow terminal gets records, --wide prints every cell whole."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from hamon.cli import main
from hamon.cli.render import MIN_FREE, NARROW, WIDE, table

EXAMPLE = Path(__file__).parent.parent / "examples" / "asa-pair.log"
COLUMNS = ("kind", "severity", "pair", "unit", "started", "ended", "for", "id", "acked by", "detail")
ROWS = [
    (
        "interface_threshold",
        "critical",
        "fw-datacentre-north-01",
        "primary/g1",
        "2026-11-25T10:03:16Z",
        None,
        "4m44s",
        "9160ff68",
        None,
        "1 failed monitored interface(s) on primary (failover group 1) (inside); policy 1 " * 2,
    ),
    ("failover", "warning", "fw-edge", "secondary", "2026-11-25T10:00:13Z", "2026-11-25T10:05:03Z", "4m50s",
     "f56f8330", "alice", "secondary took over from primary"),
]  # fmt: skip


def render(width: int, **kw: object) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, highlight=False).print(
        table(None, COLUMNS, ROWS, blanks={"acked by": "none"}, extra=("acked by", "ended", "severity"), **kw)  # type: ignore[arg-type]
    )
    return out.getvalue().rstrip("\n").splitlines()


@pytest.mark.parametrize("width", [80, 100, 120, 160, 240])
def test_every_line_fits_the_terminal(width: int) -> None:
    lines = render(width)
    assert lines and all(len(line.rstrip()) <= width for line in lines), "\n".join(lines)


def test_free_text_gets_the_remaining_width_and_wraps_whole() -> None:
    lines = render(240)
    header = lines[0]
    start = header.index("detail")
    assert "severity" in header and "acked by" in header and "ended" in header  # room for everything
    detail = " ".join(line[start:].strip() for line in lines[1:4])
    assert detail.startswith(
        "1 failed monitored interface(s) on primary (failover group 1) (inside); policy 1 1 failed"
    )
    assert "none" in lines[1] and "n/a" in lines[1]  # blank cells say so: nobody acked, not ended


def test_narrower_terminal_drops_the_year_then_the_extras_then_truncates() -> None:
    lines = render(120)
    header = lines[0]
    assert "11-25 10:03:16" in lines[1] and "2026-11-25" not in "\n".join(lines)
    assert "acked by" not in header and "ended" not in header and "severity" not in header
    start = header.index("detail")
    assert 120 - start >= MIN_FREE
    lines = render(100)
    assert any("…" in line for line in lines)  # the pair or kind gave way, not the detail
    assert 100 - lines[0].index("detail") >= MIN_FREE


def test_a_narrow_terminal_gets_records_with_every_column() -> None:
    lines = render(NARROW - 1)
    names = [line.split(":", 1)[0] for line in lines if line and not line.startswith(" ")]
    assert names[: len(COLUMNS)] == list(COLUMNS)
    assert "started:  2026-11-25T10:03:16Z" in lines
    assert "acked by: none" in lines and "ended:    n/a" in lines


def test_wide_prints_every_cell_whole(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "replay", str(EXAMPLE), "--no-progress"]).exit_code == 0
    try:
        r = runner.invoke(main, ["--db", db, "alerts", "--wide"], catch_exceptions=False)
    finally:
        WIDE["on"] = False
    assert r.exit_code == 0, r.output
    details = [a["detail"] for a in json.loads(runner.invoke(main, ["--db", db, "alerts", "--json"]).stdout)]
    for d in details:  # each on one line, whole
        assert any(line.rstrip().endswith(d) for line in r.stdout.splitlines()), d
    assert "…" not in r.stdout
