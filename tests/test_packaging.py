"""Every package directory is listed for the wheel (an editable install would hide a missing one)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_package_is_in_pyproject() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {
        ".".join(("hamon", *p.parent.relative_to(ROOT / "hamon").parts)).rstrip(".")
        for p in (ROOT / "hamon").rglob("__init__.py")
    }
    found |= {"hamon.collectors"}
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"
    assert cfg["package-dir"]["hamon.collectors"] == "collectors"
