"""Markdown reference tables generated from pydantic schemas (the sources.yaml and alerts.yaml
references in docs/), so the documentation cannot drift from what is validated."""
from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from jingyu.config import nested_model

_NAMES = {str: "text", int: "integer", bool: "true/false", float: "number"}


def fields_table(model: type[BaseModel], prefix: str = "", skip: tuple[str, ...] = ()
                 ) -> list[str]:
    """A markdown table of `model`'s fields but `skip` (nested models' fields as
    `parent.field`)."""
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    return rows + list(_rows(model, prefix, skip))


def _rows(model: type[BaseModel], prefix: str, skip: tuple[str, ...] = ()
          ) -> typing.Iterator[str]:
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        nested = nested_model(info.annotation)
        default = "required" if info.is_required() else _default(info)
        yield (f"| `{prefix}{name}` | {_type_name(info.annotation)} | {default} | "
               f"{(info.description or '').replace('|', '/')} |")
        if nested is not None:
            yield from _rows(nested, f"{prefix}{name}.")


def _default(info: Any) -> str:
    if info.default_factory is not None:
        value = info.default_factory()
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"`{value}`"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(arguments[0])
    if origin in (typing.Union, types.UnionType):
        names = list(dict.fromkeys(_type_name(a) for a in arguments if a is not type(None)))
        if "number" in names and "integer" in names:      # an int is a number too
            names.remove("integer")
        return " or ".join(names)
    if origin is Literal:
        return " / ".join(f"`{a}`" for a in arguments)
    if origin in (list, tuple):
        return f"list of {_type_name(arguments[0])}" if arguments else "list"
    if origin is dict or annotation is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
