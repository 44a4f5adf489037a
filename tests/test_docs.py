"""Every command has help text and a README entry; every catalog kind is documented."""

from __future__ import annotations

from pathlib import Path

import click

from hamon.cli import main
from hamon.model import ALERT_KINDS
from hamon.parse.catalog import CATALOG

README = (Path(__file__).parent.parent / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "hamon") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out += _commands(cmd, path)
        else:
            out.append((path, cmd))
    return out


def test_every_command_has_help_and_a_readme_entry() -> None:
    commands = _commands(main)
    assert len(commands) >= 6
    for path, cmd in commands:
        assert cmd.help and len(cmd.help.strip()) > 20, f"{path} has no help text"
        assert f"`{path}" in README, f"{path} is not in README.md"
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden and param.name != "help":
                assert param.help, f"{path} {param.opts[0]} has no help text"
                assert param.opts[0] in README, f"{path} {param.opts[0]} is not in README.md"


def test_every_catalog_kind_is_documented() -> None:
    for spec in CATALOG.values():
        assert f"`{spec.kind}`" in README, spec.kind


def test_quick_start_is_two_commands_and_ci_runs_the_readme_test_command() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0].strip() for b in quick.split("```sh\n")[1:]]
    assert len(blocks) == 2 and all("\n" not in b for b in blocks)
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text().splitlines()
    assert blocks[1] in [line.strip() for line in ci], "the README's test command must be what .ci/run runs"


def test_every_alert_kind_has_trigger_resolution_and_severity_in_readme() -> None:
    alerts = README.split("## Alerts", 1)[1].split("\n## ", 1)[0]
    for kind in ALERT_KINDS:
        row = next((line for line in alerts.splitlines() if line.startswith(f"| `{kind}` |")), None)
        assert row is not None, f"alert kind {kind} has no row in README's Alerts table"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 4 and all(cells), row
        assert any(s in cells[1] for s in ("critical", "warning", "info"))


def test_the_sample_timeline_and_the_readme_pictures_are_current(tmp_path: Path) -> None:
    """`python scripts/pictures.py` made the pictures, docs/sample-timeline.json and the README's
    terminal timeline from the sample; a fresh replay must still say exactly that."""
    import json

    from click.testing import CliRunner

    root = Path(__file__).parent.parent
    db = f"sqlite:///{tmp_path / 'sample.db'}"

    def hamon(*args: str) -> str:
        r = CliRunner().invoke(main, ["--db", db, *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.stdout

    hamon("replay", str(root / "examples" / "asa-pair.log"), "--no-progress")
    pinned = json.loads((root / "docs" / "sample-timeline.json").read_text())
    stale = "the sample's timeline changed: run `python scripts/pictures.py` and look at the pictures"
    for pair, doc in pinned.items():
        assert json.loads(hamon("timeline", pair, "--json")) == doc, stale
        assert (root / "docs" / f"timeline-{pair}.png").exists()
    edge = pinned["fw-edge"]["incidents"][0]
    # what the sample is about: the primary loses power, the secondary takes over after the 15 s hold
    # time, the primary rejoins, syncs its configuration and stays standby
    transitions = [e["text"] for e in edge["entries"] if e["type"] == "transition"]
    assert transitions == [
        "primary: unknown → active (its mate took over: HELLO not heard from mate)",
        "primary: active → failed (peer_unreachable)",
        "secondary: unknown → active (peer_unreachable)",
        "primary: failed → standby (startup)",
        "primary: standby → syncing (config_sync)",
        "primary: syncing → standby (config_sync)",
    ]
    block = README.split("<!-- timeline fw-edge -->\n```\n", 1)[1].split("\n```\n<!-- /timeline fw-edge -->", 1)[0]
    assert block == hamon("timeline", "fw-edge").rstrip("\n"), stale
