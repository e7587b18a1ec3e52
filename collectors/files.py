"""kind: file — CSV / JSON Lines exports of other monitoring platforms, through a column map."""
from __future__ import annotations

import codecs
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from collectors.kinds import BadItem, FileKind, Item, KindOptions, Parsed, ParseError, register
from collectors.posts import content_id, parse_published
from collectors.records import SourceConfig
from collectors.tables import BadRow, HeaderProblem, csv_rows, jsonl_rows
from jingyu.config import ConfigProblem

DEFAULT_ENCODING = "utf-8-sig"   # Excel writes a BOM before UTF-8 CSV

Column = Annotated[str, Strict()]


def _column_named(value: str | None) -> str | None:
    if value is not None and not value:
        raise ConfigProblem(f"must name a column, got {value!r}",
                            "give the column header (CSV) or key (JSON Lines) as text")
    return value


class FileColumns(BaseModel):
    """Which column of the export holds each post field (the export's header or key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Column = Field(description="the post text (required)",
                         json_schema_extra={"fix": "name the export column holding the post text"})
    title: Column | None = Field(None, description="the title")
    url: Column | None = Field(None, description="the link to the original post")
    id: Column | None = Field(None, description="the platform's id of the post; re-imports are "
                                                "keyed on it (else on the content)")
    author: Column | None = Field(None, description="the author's name")
    published_at: Column | None = Field(None, description="publication time; without a zone "
                                                          "it is read as Beijing time")

    @field_validator("*")
    @classmethod
    def _names_a_column(cls, value: str | None) -> str | None:
        return _column_named(value)


class FileOptions(KindOptions):
    format: Literal["csv", "jsonl"] = Field(
        description="csv, or jsonl (one JSON object per line)",
        json_schema_extra={"fix": "add 'format:' (csv or jsonl)"})
    columns: FileColumns = Field(
        description="our fields -> the export's column names, e.g. {text: 内容, title: 标题}",
        json_schema_extra={"fix": "map our fields to the export's columns, "
                                  "e.g. columns: {text: 内容}"})
    encoding: Annotated[str, Strict()] | None = Field(
        None, description="text encoding of the file; default utf-8-sig (UTF-8, with or "
                          "without the BOM Excel writes); gb18030 for exports made on "
                          "Chinese Windows")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ConfigProblem(f"unknown encoding {value!r}",
                                    "use utf-8-sig (the default) or gb18030") from None
        return value


@register
class File(FileKind):
    name = "file"
    summary = "a CSV or JSON Lines export from another monitoring platform"
    url_means = "the path of the export file"
    Options = FileOptions
    full_history = True
    item_noun = "row"

    def read(self, path: Path, source: SourceConfig) -> Parsed:
        options: FileOptions = self.options(source)
        encoding = options.encoding or DEFAULT_ENCODING
        parsed = Parsed()
        try:
            with path.open(encoding=encoding, newline="") as file:
                for line, row in self._rows(file, options, path):
                    if isinstance(row, BadRow):
                        parsed.bad.append(BadItem(f"line {row.line}", row.problem))
                        continue
                    item = _item(row, options.columns)
                    if item is None:
                        parsed.bad.append(BadItem(
                            f"line {line}", f"missing text (column {options.columns.text!r})"))
                    else:
                        parsed.items.append(item)
        except UnicodeDecodeError as exc:
            raise ParseError(f"{path} is not {encoding} text (byte {exc.start}): set "
                             "options.encoding, e.g. gb18030 for exports made on Chinese "
                             "Windows") from None
        return parsed

    @staticmethod
    def _rows(file: Any, options: FileOptions,
              path: Path) -> Iterator[tuple[int, Mapping[str, Any] | BadRow]]:
        if options.format == "jsonl":
            return jsonl_rows(file)
        try:
            header, rows = csv_rows(file)
        except HeaderProblem as exc:
            raise ParseError(f"{path}: {exc}") from None
        mapped = options.columns.model_dump(exclude_none=True).values()
        missing = [theirs for theirs in mapped if theirs not in header]
        if missing:
            raise ParseError(f"{path}: mapped column(s) {', '.join(map(repr, missing))} not in "
                             f"the CSV header {header}; fix options.columns")
        return rows


def _item(row: Mapping[str, Any], columns: FileColumns) -> Item | None:
    """The post in `row`, or None when it has no text."""
    def cell(field: str) -> Any:
        column = getattr(columns, field)
        return row.get(column) if column else None

    def text(field: str) -> str | None:
        value = cell(field)
        if value is None:
            return None
        if isinstance(value, (dict, list)):   # a JSON object or array stays JSON
            value = json.dumps(value, ensure_ascii=False)
        return str(value).strip() or None

    body = text("text")
    if body is None:
        return None
    title = text("title") or ""
    url = text("url")
    author = text("author")
    published = cell("published_at")
    # JSON exports often give epoch numbers; CSV cells are always text.
    published_at = parse_published(published if isinstance(published, (int, float))
                                   else text("published_at"))
    return Item(title=title, body=body, url=url, author=author, published_at=published_at,
                external_id=text("id") or content_id(title, body, url, author,
                                                     text("published_at")))
