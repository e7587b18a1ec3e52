"""The alerts package keeps to its lane: no flows, no SQL (the warehouse owns persistence), and
its stages import one way: incidents -> delivery -> detection, all of them the shared modules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "alerts"
MODULES = sorted(PACKAGE.rglob("*.py"))

# What each part of alerts/ may import from alerts/: a stage its own modules, the stages before
# it and the shared top-level modules (alerts.levels, alerts.settings); those only each other.
SHARED = "shared"
MAY_IMPORT = {
    SHARED: {SHARED},
    "detection": {SHARED, "detection"},
    "delivery": {SHARED, "detection", "delivery"},
    "incidents": {SHARED, "detection", "delivery", "incidents"},
}


def imported_modules(module: Path) -> set[str]:
    """Every dotted name a module imports; `from a.b import c` gives both a.b and a.b.c."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def part_of(dotted: str) -> str:
    """'alerts.incidents.timers' -> 'incidents'; 'alerts.settings.X' -> SHARED."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else SHARED


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_alerts_module_imports_neither_flows_nor_sqlalchemy(module):
    roots = {name.split(".")[0] for name in imported_modules(module)}
    assert not roots & {"flows", "sqlalchemy", "console"}
    assert ast.get_docstring(ast.parse(module.read_text(encoding="utf-8")))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_alerts_stages_import_one_way(module):
    relative = module.relative_to(PACKAGE)
    own = relative.parts[0] if len(relative.parts) > 1 else SHARED
    reached = {part_of(name) for name in imported_modules(module) if name.startswith("alerts.")}
    assert reached <= MAY_IMPORT[own], (
        f"alerts/{relative} ({own}) imports {sorted(reached - MAY_IMPORT[own])}; "
        f"it may import only {sorted(MAY_IMPORT[own])}")


def test_every_stage_is_covered():
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert stages == set(MAY_IMPORT) - {SHARED}



def test_no_import_cycle_between_alerts_modules():
    names = {".".join(m.relative_to(PACKAGE.parent).with_suffix("").parts): m for m in MODULES}
    graph = {name: {other for other in imported_modules(module) if other in names and other != name}
             for name, module in names.items()}
    finished: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, "import cycle: " + " -> ".join(path[path.index(name):] + (name,))
        if name not in finished:
            for other in sorted(graph[name]):
                visit(other, path + (name,))
            finished.add(name)

    for name in sorted(graph):
        visit(name, ())
