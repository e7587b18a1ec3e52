"""Locate and load jingyu's YAML configuration; every error names file, field and fix."""
from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


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


# Files a deployment must write itself: the shipped sources.yaml polls internet news sites,
# and a cycle that silently ran on it instead of a missing file would look healthy.
NO_SHIPPED_DEFAULT = frozenset({"sources.yaml"})


def config_file(name: str, directory: str | Path | None = None) -> Path:
    """Path of a configuration file: in `directory` (or config_dir()), else the shipped default.

    The shipped defaults (rules, alerts, jurisdictions) let an installed jingyu score and alert
    out of the box; a deployment overrides any of them by putting its own file in its directory.
    A directory that was named (--config, $JINGYU_CONFIG_DIR) but does not exist is an error,
    never a reason to run on the shipped files; sources.yaml is never taken from them.
    """
    named = Path(directory) if directory else (
        Path(os.environ["JINGYU_CONFIG_DIR"]) if os.environ.get("JINGYU_CONFIG_DIR") else None)
    if named is not None and not named.is_dir():
        raise ConfigError(named, "(directory)", "no such configuration directory",
                          "give the directory holding sources.yaml (--config or "
                          "JINGYU_CONFIG_DIR)")
    local = (named or config_dir()) / name
    if local.exists():
        return local
    if name in NO_SHIPPED_DEFAULT:
        raise ConfigError(local, "(file)", "file not found: jingyu does not fall back to the "
                          "shipped example sources", f"write {name} there (see docs/sources.md)")
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


class ConfigProblem(ValueError):
    """Raised inside a pydantic validator: the problem and its fix, for ConfigError."""

    def __init__(self, problem: str, fix: str = "", field: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.field = field         # a model-wide rule names the field it blames


# pydantic error types -> what the value must be, in our messages' words
_MUST_BE = {"string_type": "str", "int_type": "int", "int_from_float": "int", "bool_type": "bool",
            "float_type": "a number", "list_type": "list", "tuple_type": "list",
            "dict_type": "a mapping", "model_type": "a mapping",
            "model_attributes_type": "a mapping"}


def config_error(error: ValidationError, file: str | Path, where: str,
                 model: type[BaseModel]) -> ConfigError:
    """The first problem pydantic found in `model`'s data, as a ConfigError naming the field.

    A field's fix comes from its `json_schema_extra={"fix": ...}`, or from a ConfigProblem
    raised by a validator; the schema thus gives validation, the message and the docs.
    """
    first = error.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    path = where + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    field = path.lstrip(".") or "(top level)"
    value = first.get("input")
    context = first.get("ctx") or {}
    name = str(loc[-1]) if loc else "value"
    info = _field_info(model, loc)
    fix = str((info.json_schema_extra or {}).get("fix", "")) if info and isinstance(
        info.json_schema_extra, dict) else ""
    kind = first["type"]
    if isinstance(context.get("error"), ConfigProblem):
        problem, fix = context["error"].problem, context["error"].fix
        if context["error"].field:
            field = f"{path}.{context['error'].field}".lstrip(".")
    elif kind == "missing":
        problem, fix = "is required", fix or f"add '{name}:'"
    elif kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(name, allowed, n=1)
        problem = "unknown field"
        fix = (f"did you mean '{close[0]}'? " if close else "") + f"use only {', '.join(allowed)}"
    elif kind in _MUST_BE:
        problem = f"must be {_MUST_BE[kind]}, got {type(value).__name__} {value!r}"
    elif kind == "literal_error":
        problem = f"unknown {name} {value!r}"
        fix = "use " + str(context.get("expected", "")).replace("'", "")
    elif kind == "greater_than" and context.get("gt") == 0:
        problem = f"must be positive, got {value!r}"
    elif kind == "string_pattern_mismatch":
        problem = f"invalid {name} {value!r}"
    else:
        problem = f"{first['msg']}, got {value!r}"
    return ConfigError(file, field, problem, fix)


def _model_at(model: type[BaseModel] | None, loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the field at `loc` (walking nested models and lists)."""
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int) or part not in model.model_fields:
            continue   # a list index or a mapping key: same model below
        model = nested_model(model.model_fields[part].annotation)
    return model


def _field_info(model: type[BaseModel], loc: tuple) -> FieldInfo | None:
    """The field named last in `loc` (a list item's errors use its list field's info)."""
    named = [index for index, part in enumerate(loc) if isinstance(part, str)]
    if not named:
        return None
    parent = _model_at(model, loc[:named[-1]])
    return parent.model_fields.get(loc[named[-1]]) if parent else None


def nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = nested_model(argument)
        if found is not None:
            return found
    return None
