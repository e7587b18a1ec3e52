"""A report as plain data — sections of paragraphs, tables and charts — that every renderer
(HTML, Markdown, Word) turns into its format, escaping as it goes."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from jingyu.display import clean_text


def clean(value: object) -> str:
    """Text of a cell or paragraph without control characters XML (Word) and spreadsheets
    refuse, terminal escapes, bidi overrides or zero-width characters (post text is hostile
    input: see jingyu.display)."""
    return clean_text(value)


_BREAK_AFTER = " \t,;:/，。；：、）)]"


def shorten(value: object, size: int) -> str:
    """At most `size` characters, cut after a space or punctuation mark when one is near the
    end (never in the middle of a word or number), with "…" when anything was cut."""
    text = " ".join(clean(value).split())
    if len(text) <= size:
        return text
    head = text[:size - 1]
    cut = max(head.rfind(mark) for mark in _BREAK_AFTER)
    if cut >= size * 0.6:
        head = head[:cut + 1]
    elif head[-1:].isascii() and head[-1:].isalnum():
        # inside an ASCII word or number: back to where it starts
        start = len(head)
        while start > 0 and head[start - 1].isascii() and head[start - 1].isalnum():
            start -= 1
        head = head[:start] if start >= size * 0.6 else head
    return head.rstrip() + "…"


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
    trace: str = ""                    # the query behind the numbers (listed in the appendix)
    empty: str = "无"                  # shown instead of an empty table


@dataclass(frozen=True)
class Chart:
    title: str
    png: bytes
    alt: str                           # the numbers in words, for readers without the picture
    trace: str = ""                    # the query behind the numbers (listed in the appendix)


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
    facts: dict[str, object] = field(default_factory=dict)   # headline numbers, for tests and flows

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]
