"""Read and validate config/sources.yaml into SourceConfig records.

The fields every source has are one pydantic model (SourceEntry); each kind's `options:` are
its own model (collectors.kinds). Both give the "file: field: problem (fix: ...)" messages
and the options reference (collectors.reference).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from collectors.http import Lane
from collectors.kinds import HttpKind, kind_named, kind_names
from collectors.records import SourceConfig
from jingyu.config import ConfigError, config_error, load_yaml, reject_unknown_keys

SOURCE_ID_PATTERN = r"^[a-z0-9_.-]+$"
Text = Annotated[str, Strict()]


class SourceEntry(BaseModel):
    """One entry of sources.yaml, the fields every kind shares."""

    model_config = ConfigDict(extra="forbid")

    id: Text = Field(pattern=SOURCE_ID_PATTERN,
                     description="short and unique, never reused: warehouse rows and source "
                                 "health refer to it",
                     json_schema_extra={"fix": "use lower-case letters, digits, '_', '.' and "
                                               "'-' only"})
    name: Text = Field(description="what duty staff see in alerts and reports")
    kind: Text = Field(description="what the source is (see the kinds below)",
                       json_schema_extra={"fix": "set kind to one of the kinds in "
                                                 "docs/sources.md"})
    url: Text = Field(description="the address (http kinds) or path (file kinds)",
                      json_schema_extra={"fix": "give the feed URL, or the export file path "
                                                "for kind: file"})
    tags: list[Annotated[str, Strict(), Field(min_length=1)]] = Field(
        default_factory=list,
        description="free labels; 'official' marks the police's own account (官方权威声音)",
        json_schema_extra={"fix": "write tags as a list of words, e.g. [official]"})
    jurisdiction: Text | None = Field(None, description="id from jurisdictions.yaml that "
                                                        "alerts from this source belong to")
    poll_minutes: Annotated[int, Strict()] = Field(
        SourceConfig.poll_minutes, gt=0, description="how often to fetch, in minutes",
        json_schema_extra={"fix": "poll at most every few minutes, e.g. poll_minutes: 5"})
    poll_min_minutes: Annotated[int, Strict()] | None = Field(
        None, gt=0, description="adaptive polling: a busy source is fetched down to this "
                                "often (each fetch with new items halves the interval)",
        json_schema_extra={"fix": "give minutes not above poll_minutes, e.g. 1"})
    poll_max_minutes: Annotated[int, Strict()] | None = Field(
        None, gt=0, description="adaptive polling: a quiet source is fetched up to this "
                                "rarely (each fetch without new items lengthens it by half)",
        json_schema_extra={"fix": "give minutes not below poll_minutes, e.g. 60"})
    enabled: Annotated[bool, Strict()] = Field(True, description="false keeps the entry but "
                                                                 "stops polling")
    options: dict[str, Any] | None = Field(None, description="kind-specific settings")
    group: Text | None = Field(None, description="the upstream group it is fetched through "
                                                 "(an id under groups:); by default the group "
                                                 "whose hosts: include the URL's host",
                               json_schema_extra={"fix": "name a group defined under "
                                                         "groups:, or remove group:"})


class GroupEntry(BaseModel):
    """One entry of sources.yaml's groups: an upstream serving many sources (an RSSHub
    instance) with its own politeness."""

    model_config = ConfigDict(extra="forbid")

    id: Text = Field(pattern=SOURCE_ID_PATTERN, description="short name sources refer to",
                     json_schema_extra={"fix": "use lower-case letters, digits, '_', '.' "
                                               "and '-' only"})
    hosts: list[Annotated[str, Strict(), Field(min_length=1)]] = Field(
        default_factory=list, description="host or host:port of the sources that belong to "
                                          "the group without naming it, e.g. 127.0.0.1:1200")
    concurrency: Annotated[int, Strict()] = Field(
        4, ge=1, le=64, description="requests in flight at once to this upstream",
        json_schema_extra={"fix": "give a number from 1 to 64"})
    delay_s: Annotated[float, Strict()] = Field(
        0.2, ge=0, le=60, description="seconds between request starts to this upstream",
        json_schema_extra={"fix": "give seconds from 0 to 60, e.g. delay_s: 0.2"})


def load_sources(path: str | Path) -> list[SourceConfig]:
    """All sources in a sources.yaml file, validated; raises ConfigError."""
    return parse_sources(load_yaml(path), path)


def parse_sources(data: Any, file: str | Path) -> list[SourceConfig]:
    """Validate already-parsed YAML `data` from `file` (named in errors) into SourceConfigs."""
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", f"must be a mapping, got {type(data).__name__}",
                          "start the file with 'sources:' followed by a list of sources")
    reject_unknown_keys(data, {"sources", "groups"}, file, "")
    entries = data.get("sources")
    if not isinstance(entries, list):
        problem = "is required" if entries is None else \
            f"must be list, got {type(entries).__name__}"
        raise ConfigError(file, "sources", problem,
                          "add 'sources:' followed by a list of '- id: ...' entries")
    groups = _groups(data.get("groups"), file)
    sources: list[SourceConfig] = []
    first_seen: dict[str, str] = {}
    for index, entry in enumerate(entries):
        where = f"sources[{index}]"
        source = parse_source(entry, file, where, groups)
        if source.id in first_seen:
            raise ConfigError(file, f"{where}.id", f"duplicate id {source.id!r}, "
                              f"already used by {first_seen[source.id]}",
                              "give every source its own id")
        first_seen[source.id] = where
        sources.append(source)
    return sources


def _groups(data: Any, file: str | Path) -> dict[str, GroupEntry]:
    if data is None:
        return {}
    if not isinstance(data, list):
        raise ConfigError(file, "groups", f"must be list, got {type(data).__name__}",
                          "write groups as a list of '- id: rsshub' entries")
    groups: dict[str, GroupEntry] = {}
    for index, entry in enumerate(data):
        where = f"groups[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(file, where, f"must be a mapping, got {type(entry).__name__}",
                              "write each group as '- id: ...' with its fields below")
        try:
            group = GroupEntry.model_validate(entry)
        except ValidationError as exc:
            raise config_error(exc, file, where, GroupEntry) from None
        if group.id in groups:
            raise ConfigError(file, f"{where}.id", f"duplicate id {group.id!r}",
                              "give every group its own id")
        groups[group.id] = group
    return groups


def _lane(common: SourceEntry, groups: dict[str, GroupEntry], file: str | Path,
          where: str) -> Lane | None:
    if common.group is not None:
        group = groups.get(common.group)
        if group is None:
            raise ConfigError(file, f"{where}.group", f"no group {common.group!r}",
                              f"define it under groups:, or use one of "
                              f"{', '.join(groups) or '(none defined)'}")
    else:
        parts = urlsplit(common.url)
        host = (parts.hostname or "").lower()
        netloc = f"{host}:{parts.port}" if parts.port else host
        group = next((g for g in groups.values()
                      if netloc in g.hosts or (host in g.hosts and not parts.port)), None)
    if group is None:
        return None
    return Lane(name=group.id, concurrency=group.concurrency, delay_s=float(group.delay_s))


def parse_source(entry: Any, file: str | Path, where: str,
                 groups: dict[str, GroupEntry] | None = None) -> SourceConfig:
    """One source entry, its options validated by its kind's schema."""
    if not isinstance(entry, dict):
        raise ConfigError(file, where, f"must be a mapping, got {type(entry).__name__}",
                          "write each source as '- id: ...' with its fields indented below")
    try:
        common = SourceEntry.model_validate(entry)
    except ValidationError as exc:
        raise config_error(exc, file, where, SourceEntry) from None
    kind = kind_named(common.kind)
    if kind is None:
        raise ConfigError(file, f"{where}.kind", f"unknown kind {common.kind!r}",
                          f"use one of {', '.join(kind_names())}")
    if isinstance(kind, HttpKind):
        parts = urlsplit(common.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(file, f"{where}.url", f"not an http(s) URL: {common.url!r}",
                              "write the full address, e.g. "
                              "https://rsshub.example.org/weibo/user/123")
    elif not common.url.strip():
        raise ConfigError(file, f"{where}.url", "is empty", f"give {kind.url_means}")
    lowest = common.poll_min_minutes or common.poll_minutes
    highest = common.poll_max_minutes or common.poll_minutes
    if not lowest <= common.poll_minutes <= highest:
        field = "poll_min_minutes" if lowest > common.poll_minutes else "poll_max_minutes"
        raise ConfigError(file, f"{where}.{field}",
                          f"bounds {lowest}..{highest} do not include poll_minutes "
                          f"{common.poll_minutes}",
                          "keep poll_min_minutes <= poll_minutes <= poll_max_minutes")
    try:
        options = kind.Options.model_validate(common.options or {})
    except ValidationError as exc:
        raise config_error(exc, file, f"{where}.options", kind.Options) from None
    return SourceConfig(
        id=common.id, name=common.name, kind=common.kind, url=common.url,
        tags=tuple(common.tags), jurisdiction=common.jurisdiction,
        poll_minutes=common.poll_minutes, poll_min_minutes=common.poll_min_minutes,
        poll_max_minutes=common.poll_max_minutes, enabled=common.enabled, options=options,
        lane=_lane(common, groups or {}, file, where) if isinstance(kind, HttpKind) else None)
