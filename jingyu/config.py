"""Locate and load jingyu's YAML configuration; every error names file, field and fix."""
from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path
from collections.abc import Collection, Mapping
from typing import Any

import yaml




class ConfigError(Exception):
    """A configuration file is missing, unreadable or holds an invalid value."""

    def __init__(self, file: str | Path, field: str, problem: str, fix: str = "") -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        self.fix = fix
        message = f"{self.file}: {field}: {problem}"
        if fix:
            message += f" (fix: {fix})"
        super().__init__(message)


def config_dir() -> Path:
    """The directory holding sources.yaml, rules.yaml, ...: JINGYU_CONFIG_DIR, else ./config."""
    env = os.environ.get("JINGYU_CONFIG_DIR")
    return Path(env) if env else Path.cwd() / "config"


def config_file(name: str, directory: str | Path | None = None) -> Path:
    """Path of a configuration file: in `directory` (or config_dir()), else the shipped default.

    The shipped defaults (rules, alerts, jurisdictions) let an installed jingyu score and alert
    out of the box; a deployment overrides any of them by putting its own file in its directory.
    """
    local = Path(directory) / name if directory else config_dir() / name
    if local.exists():
        return local
    shipped = Path(str(resources.files("jingyu.defaults") / name))
    return shipped if shipped.exists() else local


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file, turning I/O and syntax problems into ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "(file)", "file not found", "create it or set JINGYU_CONFIG_DIR")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "(file)", f"cannot read: {exc}", "save it as UTF-8 text")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(syntax)"
        raise ConfigError(path, where, f"invalid YAML: {getattr(exc, 'problem', exc)}",
                          "fix the YAML syntax at that position")


def require(mapping: dict, key: str, kind: type | tuple[type, ...], file: str | Path,
            where: str, fix: str = "") -> Any:
    """Fetch mapping[key], checking presence and type; `where` prefixes the field path."""
    field = f"{where}.{key}" if where else key
    if key not in mapping or mapping[key] is None:
        raise ConfigError(file, field, "is required", fix or f"add '{key}:'")
    value = mapping[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(file, field, f"must be {names}, got {type(value).__name__} {value!r}",
                          fix)
    return value


def reject_unknown_keys(mapping: Mapping, allowed: Collection[str], file: str | Path,
                        where: str = "") -> None:
    """ConfigError for the first key of `mapping` not in `allowed`, with the closest allowed
    key as a hint: a misspelt key would otherwise silently fall back to its default."""
    names = sorted(allowed) if isinstance(allowed, (set, frozenset)) else list(allowed)
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(file, f"{where}.{key}" if where else str(key), "unknown key",
                              f"{hint}allowed keys: {', '.join(names)}")
