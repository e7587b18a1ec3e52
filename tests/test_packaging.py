"""Every Python package of the repository ships: pyproject.toml lists each one."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(settings["setuptools"]["packages"])
    renamed = {path: name for name, path in settings["setuptools"]["package-dir"].items()}
    found = set()
    for top in ROOT.iterdir():
        if top.name.startswith(".") or top.name in {"tests", "benchmarks", "scripts", "build"}:
            continue
        for init in top.glob("**/__init__.py"):
            relative = init.parent.relative_to(ROOT)
            found.add(renamed.get(str(relative), ".".join(relative.parts)))
    assert found - listed == set(), "add these packages to [tool.setuptools] packages"
