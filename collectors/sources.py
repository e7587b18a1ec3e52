"""Read and validate config/sources.yaml into SourceConfig records."""
from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collectors.records import FEED_KIND, FILE_KIND, SOURCE_KINDS, SourceConfig
from jingyu.config import ConfigError, load_yaml, require

SOURCE_ID = re.compile(r"^[a-z0-9_.-]+$")
SOURCE_FIELDS = ("id", "name", "kind", "url", "tags", "jurisdiction", "poll_minutes",
                 "enabled", "options")
FILE_FORMATS = ("csv", "jsonl")
FILE_OPTIONS = ("format", "columns", "encoding")
# Our RawPost field -> required? The export's own column names are the mapping's values.
FILE_COLUMNS = {"text": True, "title": False, "url": False, "id": False, "author": False,
                "published_at": False}


def load_sources(path: str | Path) -> list[SourceConfig]:
    """All sources in a sources.yaml file, validated; raises ConfigError."""
    return parse_sources(load_yaml(path), path)


def parse_sources(data: Any, file: str | Path) -> list[SourceConfig]:
    """Validate already-parsed YAML `data` from `file` (named in errors) into SourceConfigs."""
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", f"must be a mapping, got {type(data).__name__}",
                          "start the file with 'sources:' followed by a list of sources")
    entries = require(data, "sources", list, file, "",
                      "add 'sources:' followed by a list of '- id: ...' entries")
    sources: list[SourceConfig] = []
    first_seen: dict[str, str] = {}
    for index, entry in enumerate(entries):
        where = f"sources[{index}]"
        source = _parse_source(entry, file, where)
        if source.id in first_seen:
            raise ConfigError(file, f"{where}.id", f"duplicate id {source.id!r}, "
                              f"already used by {first_seen[source.id]}",
                              "give every source its own id")
        first_seen[source.id] = where
        sources.append(source)
    return sources


def _parse_source(entry: Any, file: str | Path, where: str) -> SourceConfig:
    if not isinstance(entry, dict):
        raise ConfigError(file, where, f"must be a mapping, got {type(entry).__name__}",
                          "write each source as '- id: ...' with its fields indented below")
    unknown = sorted(str(key) for key in entry if key not in SOURCE_FIELDS)
    if unknown:
        raise ConfigError(file, f"{where}.{unknown[0]}", "unknown field",
                          f"use only {', '.join(SOURCE_FIELDS)}")
    source_id = require(entry, "id", str, file, where)
    if not SOURCE_ID.match(source_id):
        raise ConfigError(file, f"{where}.id", f"invalid id {source_id!r}",
                          "use lower-case letters, digits, '_', '.' and '-' only")
    name = require(entry, "name", str, file, where)
    kind = require(entry, "kind", str, file, where, f"set kind to one of {', '.join(SOURCE_KINDS)}")
    if kind not in SOURCE_KINDS:
        raise ConfigError(file, f"{where}.kind", f"unknown kind {kind!r}",
                          f"use one of {', '.join(SOURCE_KINDS)}")
    url = require(entry, "url", str, file, where,
                  "give the feed URL, or the export file path for kind: file")
    if kind == FEED_KIND:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(file, f"{where}.url", f"not an http(s) URL: {url!r}",
                              "write the full address, e.g. "
                              "https://rsshub.example.org/weibo/user/123")
    elif not url.strip():
        raise ConfigError(file, f"{where}.url", "is empty", "give the path of the export file")
    options = _optional(entry, "options", dict, {}, file, where)
    if kind == FILE_KIND:
        _check_file_options(options, file, f"{where}.options")
    return SourceConfig(
        id=source_id,
        name=name,
        kind=kind,
        url=url,
        tags=_tags(entry, file, where),
        jurisdiction=_optional(entry, "jurisdiction", str, None, file, where),
        poll_minutes=_poll_minutes(entry, file, where),
        enabled=_optional(entry, "enabled", bool, True, file, where),
        options=options,
    )


def _optional(entry: dict, key: str, kind: type, default: Any, file: str | Path,
              where: str) -> Any:
    """entry[key] checked like `require`, or `default` when absent or null."""
    if entry.get(key) is None:
        return default
    return require(entry, key, kind, file, where)


def _tags(entry: dict, file: str | Path, where: str) -> tuple[str, ...]:
    tags = _optional(entry, "tags", list, [], file, where)
    for index, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag:
            raise ConfigError(file, f"{where}.tags[{index}]", f"must be a non-empty string, "
                              f"got {tag!r}", "write tags as a list of words, e.g. [official]")
    return tuple(tags)


def _poll_minutes(entry: dict, file: str | Path, where: str) -> int:
    minutes = _optional(entry, "poll_minutes", int, SourceConfig.poll_minutes, file, where)
    if minutes <= 0:
        raise ConfigError(file, f"{where}.poll_minutes", f"must be positive, got {minutes}",
                          "poll at most every few minutes, e.g. poll_minutes: 5")
    return minutes


def _check_file_options(options: dict, file: str | Path, where: str) -> None:
    unknown = sorted(str(key) for key in options if key not in FILE_OPTIONS)
    if unknown:
        raise ConfigError(file, f"{where}.{unknown[0]}", "unknown option for kind: file",
                          f"use only {', '.join(FILE_OPTIONS)}")
    file_format = require(options, "format", str, file, where,
                          f"add 'format:' ({' or '.join(FILE_FORMATS)})")
    if file_format not in FILE_FORMATS:
        raise ConfigError(file, f"{where}.format", f"unknown format {file_format!r}",
                          f"use {' or '.join(FILE_FORMATS)}")
    columns = require(options, "columns", dict, file, where,
                      "map our fields to the export's columns, e.g. columns: {text: 内容}")
    for ours, theirs in columns.items():
        if ours not in FILE_COLUMNS:
            raise ConfigError(file, f"{where}.columns.{ours}", "unknown field",
                              f"map only {', '.join(FILE_COLUMNS)}")
        if not isinstance(theirs, str) or not theirs:
            raise ConfigError(file, f"{where}.columns.{ours}",
                              f"must name a column, got {theirs!r}",
                              "give the column header (CSV) or key (JSON Lines) as text")
    for ours, needed in FILE_COLUMNS.items():
        if needed and ours not in columns:
            raise ConfigError(file, f"{where}.columns.{ours}", "is required",
                              f"name the export column holding the post {ours}")
    encoding = _optional(options, "encoding", str, None, file, where)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(file, f"{where}.encoding", f"unknown encoding {encoding!r}",
                              "use utf-8-sig (the default) or gb18030") from None
