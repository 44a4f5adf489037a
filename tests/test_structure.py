"""The shape of the code: the store alone owns SQL, the stages import each other one way, and no
function carries more branches than a reader can follow (ruff's C901 enforces 20 in CI)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "hamon"


def _modules() -> dict[str, set[str]]:
    """Every module of hamon (collectors included) and the hamon/sqlalchemy modules it imports."""
    found: dict[str, set[tuple[str, str | None]]] = {}
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "collectors").glob("*.py")]
    for f in files:
        if "migrations" in f.parts or f.is_relative_to(PACKAGE / "collectors"):
            continue
        rel = f.relative_to(ROOT / "collectors") if f.is_relative_to(ROOT / "collectors") else f.relative_to(PACKAGE)
        prefix = "hamon.collectors" if f.is_relative_to(ROOT / "collectors") else "hamon"
        name = ".".join([prefix, *rel.with_suffix("").parts]).removesuffix(".__init__")
        imports: set[tuple[str, str | None]] = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                imports |= {(a.name, None) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imports |= {(node.module, a.name) for a in node.names}
        found[name] = imports
    # `from X import Y` imports the module X.Y when there is one, else names of X.
    out: dict[str, set[str]] = {}
    for name, imports in found.items():
        resolved = set()
        for module, item in imports:
            resolved.add(f"{module}.{item}" if item and f"{module}.{item}" in found else module)
        out[name] = {i for i in resolved if i.startswith(("hamon", "sqlalchemy"))}
    return out


def test_only_the_store_touches_sqlalchemy_and_the_schema() -> None:
    offenders = {
        m: sorted(i for i in imps if i.startswith("sqlalchemy") or i.startswith("hamon.store.schema"))
        for m, imps in _modules().items()
        if not m.startswith("hamon.store")
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_import_cycles_between_stages_or_modules() -> None:
    mods = _modules()
    graph = {m: {i for i in imps if i in mods and i != m} for m, imps in mods.items()}
    # Module cycles.
    seen: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> list[str] | None:
        seen[m] = 1
        for n in sorted(graph[m]):
            if seen.get(n) == 1:
                return [*path, m, n]
            if n not in seen and (cycle := visit(n, [*path, m])) is not None:
                return cycle
        seen[m] = 2
        return None

    for m in sorted(graph):
        if m not in seen:
            assert visit(m, []) is None
    # Package cycles (correlate ⇄ store was one).
    packages: dict[str, set[str]] = {}
    for m, deps in graph.items():
        packages.setdefault(_package(m), set()).update(_package(d) for d in deps if _package(d) != _package(m))
    for a, deps in packages.items():
        for b in deps:
            assert a not in packages.get(b, set()), f"{a} and {b} import each other"


def test_hamon_is_its_stages_and_views() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "errors.py", "model.py"]
    for pkg in sorted(p for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")):
        init = pkg / "__init__.py"
        assert init.exists() and ast.get_docstring(ast.parse(init.read_text())), (
            f"{pkg.name} says its place in the flow"
        )
