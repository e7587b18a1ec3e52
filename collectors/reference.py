"""The sources.yaml reference, generated from the schemas of the source fields and of each
kind's options, so the documentation cannot drift from what is validated.

    python -m collectors.reference > docs/sources.md
"""
from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

import collectors  # noqa: F401  (registers every kind)
from collectors.kinds import all_kinds
from collectors.sources import GroupEntry, SourceEntry
from jingyu.config import nested_model

_NAMES = {str: "text", int: "integer", bool: "true/false", float: "number"}


def sources_reference() -> str:
    lines = [
        "# sources.yaml reference",
        "",
        "Generated from the schemas jingyu validates `config/sources.yaml` with; do not edit "
        "by hand, run `python -m collectors.reference > docs/sources.md`. A value that breaks "
        "a rule below stops jingyu with `file: field: problem (fix: ...)` and exit code 2.",
        "",
        "## Fields of every source",
        "",
        *_table(SourceEntry, ""),
        "",
        "## Groups (`groups:`, beside `sources:`)",
        "",
        "An upstream serving many sources — a self-hosted RSSHub answers every Weibo, Zhihu and "
        "WeChat route from one host — declares its own politeness: its sources share "
        "`concurrency` requests in flight and `delay_s` between request starts, instead of the "
        "one-request-per-second per-host delay kept for real sites.",
        "",
        *_table(GroupEntry, ""),
    ]
    for kind in all_kinds():
        lines += ["", f"## kind: {kind.name}", "", f"{kind.summary[0].upper()}{kind.summary[1:]}.",
                  "", f"`url`: {kind.url_means}."]
        if kind.Options.model_fields:
            lines += ["", "`options`:", "", *_table(kind.Options, "")]
        else:
            lines += ["", "No `options`."]
    return "\n".join(lines) + "\n"


def _table(model: type[BaseModel], prefix: str) -> list[str]:
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    return rows + list(_rows(model, prefix))


def _rows(model: type[BaseModel], prefix: str) -> typing.Iterator[str]:
    for name, info in model.model_fields.items():
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
        return " or ".join(_type_name(a) for a in arguments if a is not type(None))
    if origin is Literal:
        return " / ".join(f"`{a}`" for a in arguments)
    if origin in (list, tuple):
        return f"list of {_type_name(arguments[0])}" if arguments else "list"
    if origin is dict or annotation is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


if __name__ == "__main__":
    print(sources_reference(), end="")
