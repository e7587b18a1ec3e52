"""A report as plain data — sections of paragraphs, tables and charts — that every renderer
(HTML, Markdown, Word) turns into its format, escaping as it goes."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Characters XML (Word) and spreadsheets refuse, and terminal escape sequences: never rendered.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """Text of a cell or paragraph without control characters (post text is hostile input)."""
    return _CONTROL.sub("", "" if value is None else str(value))


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), else None: a post may carry javascript: or data: links."""
    if not url:
        return None
    url = clean(url).strip()
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


@dataclass(frozen=True)
class Link:
    text: str
    url: str | None


Cell = str | int | float | Link | None


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""
    trace: str = ""                    # how to reproduce the numbers: a jingyu query command
    empty: str = "无"                  # shown instead of an empty table


@dataclass(frozen=True)
class Chart:
    title: str
    png: bytes
    alt: str                           # the numbers in words, for readers without the picture


Block = Paragraph | Table | Chart


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    footnotes: tuple[str, ...] = ()
    facts: dict[str, object] = field(default_factory=dict)   # headline numbers, for tests and flows

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]
