"""Source kinds: what a kind declares (options, transport) and the registry that finds it by name.

A kind parses; the base collector (collectors.base) does everything else — HTTP politeness,
conditional GET, size cap and deadline, refusal detection, decoding, cleaning, seen ids and
the cursor. A new kind is one module that subclasses HttpKind or FileKind and is registered
with @register; collectors/__init__.py imports the module.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from collectors.records import SourceConfig


class KindOptions(BaseModel):
    """Base of every kind's typed `options:` block: unknown keys are errors, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(KindOptions):
    """A kind that takes no options."""


@dataclass(frozen=True)
class Item:
    """One item as a kind parsed it, before the base collector cleans and identifies it."""

    title: str
    body: str                                  # HTML or plain text, as published
    url: str | None = None
    external_id: str | None = None             # None: the base derives a content id
    author: str | None = None
    published_at: datetime | None = None       # aware; None when the source gives no date
    # Where the item was published and how far it went (crawler outputs and APIs say so).
    platform: str | None = None                # 微博, 抖音 ...; None: the source is the place
    reposts: int | None = None
    comments: int | None = None
    likes: int | None = None
    # A comment on, or a repost of, another item of the same source (its external id).
    parent_id: str | None = None
    relation: str | None = None                # "comment" | "repost" when parent_id is set


@dataclass(frozen=True)
class BadItem:
    """An item a kind could not read; it is skipped and named in the source's health."""

    where: str                                 # "line 5", "item 3"
    problem: str


@dataclass(frozen=True)
class Page:
    """An HTTP response as a kind sees it: body decoded (charset checked) and cleaned."""

    url: str                                   # final URL, after redirects
    status: int
    headers: Mapping[str, str]                 # names lower-cased
    text: str
    encoding: str                              # what `text` was decoded from
    # External ids the source delivered before: a kind fetching detail pages or paging
    # skips what is already known.
    seen: frozenset[str] = frozenset()
    # The clock of the cycle fetching, when it runs at a given time (a replay); None: now.
    fetched_at: datetime | None = None


@dataclass
class Parsed:
    """What a kind read from one document: items, unreadable items, and a note for health."""

    items: list[Item] = field(default_factory=list)
    bad: list[BadItem] = field(default_factory=list)
    warning: str | None = None

    def add(self, where: str, item: Item | str) -> None:
        """Keep an item, or record why the record at `where` could not become one."""
        if isinstance(item, str):
            self.bad.append(BadItem(where, item))
        else:
            self.items.append(item)


class ParseError(Exception):
    """The whole document is unusable (not one item): the fetch fails with this message."""


# Fetch another page of the same source (paging, detail pages) through the base's client.
FollowPage = Callable[[str], Page]


class SourceKind:
    """What every kind declares. Subclass HttpKind or FileKind, not this."""

    name: ClassVar[str]
    summary: ClassVar[str]                     # one line for the options reference
    url_means: ClassVar[str]                   # what `url:` holds for this kind
    Options: ClassVar[type[KindOptions]] = NoOptions
    transport: ClassVar[str]
    item_noun: ClassVar[str] = "item"          # how messages name one item ("row" of a file)
    # Items of this kind are a full record of their period (an export), not the latest few:
    # spike detection may count imported history from its oldest post.
    full_history: ClassVar[bool] = False

    def options(self, source: SourceConfig) -> Any:
        """The source's options as this kind's typed model (validated here when built by hand)."""
        options = source.options
        if options is None:
            return self.Options()
        if isinstance(options, Mapping):
            return self.Options.model_validate(dict(options))
        return options


class HttpKind(SourceKind):
    """A kind fetched over http(s): the base GETs `url`; the kind parses the page."""

    transport: ClassVar[str] = "http"

    def parse(self, page: Page, source: SourceConfig, follow: FollowPage) -> Parsed:
        raise NotImplementedError


class FileKind(SourceKind):
    """A kind read from local files (exports, crawler output folders)."""

    transport: ClassVar[str] = "file"

    def files(self, path: Path, options: Any) -> list[Path]:
        """The files making up the source at `path` (one file by default)."""
        return [path]

    def read(self, path: Path, source: SourceConfig) -> Parsed:
        raise NotImplementedError


_KINDS: dict[str, SourceKind] = {}
K = TypeVar("K", bound=type[SourceKind])


def register(cls: K) -> K:
    """Class decorator: make the kind available to sources.yaml under `cls.name`."""
    if cls.name in _KINDS:
        raise ValueError(f"source kind {cls.name!r} registered twice")
    _KINDS[cls.name] = cls()
    return cls


def kind_named(name: str) -> SourceKind | None:
    return _KINDS.get(name)


def kind_names() -> tuple[str, ...]:
    return tuple(_KINDS)


def all_kinds() -> Iterator[SourceKind]:
    return iter(_KINDS.values())


def history_kinds() -> tuple[str, ...]:
    """Kinds whose items are a full record of their period (see SourceKind.full_history)."""
    return tuple(name for name, kind in _KINDS.items() if kind.full_history)


def items_only(entries: Iterable[Item | BadItem]) -> Parsed:
    """Split a kind's stream of items and bad items into a Parsed."""
    parsed = Parsed()
    for entry in entries:
        (parsed.bad if isinstance(entry, BadItem) else parsed.items).append(entry)
    return parsed
