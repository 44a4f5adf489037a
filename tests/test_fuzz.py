"""200,000 mutated lines (tests/fuzz_lines.py): exact line accounting, no exception, both scanners
agree, and what was stored reads back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from fuzz_lines import lines
from helpers import parse_bytes

from hamon.cli import main

N = int(os.environ.get("HAMON_FUZZ_LINES", "200000"))


def test_mutated_lines_are_accounted_for_and_both_scanners_agree() -> None:
    data = b"\n".join(lines(N, seed=1)) + b"\n"
    results = []
    for pure in (False, True):
        result, parser = parse_bytes(data, pure_python=pure)
        assert result.lines == result.accounted == N
        results.append(
            (
                result.blank,
                result.ordinary,
                result.other,
                [e.event_id for e in result.events],
                [(q.line_no, q.reason) for q in result.quarantined],
                sorted((a.source, a.hour, a.lines) for a in parser.drain_activity()),
            )
        )
    assert results[0] == results[1]
    assert results[0][4], "the mutations reach the quarantine"


def test_a_replay_of_mutated_lines_stores_them_and_every_read_works(tmp_path: Path) -> None:
    capture = tmp_path / "mutated.log"
    capture.write_bytes(b"\n".join(lines(N // 4, seed=2)) + b"\n")
    db = ["--db", f"sqlite:///{tmp_path / 'f.db'}"]
    result = CliRunner().invoke(main, [*db, "replay", str(capture), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["lines"] == s["events"] + s["quarantined"] + s["ordinary"] + s["other"] + s["blank"] == N // 4
    for command in (["events"], ["sources"], ["quarantine"], ["pairs"], ["failovers"], ["alerts"], ["report"]):
        result = CliRunner().invoke(main, [*db, *command, "--json"])
        assert result.exit_code == 0, (command, result.output[-500:])
