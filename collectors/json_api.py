"""kind: json — JSON Feed (1.0/1.1) as it is, and JSON APIs through a field mapping (dotted
paths such as `data.cards[0].mblog.text`), paged by a cursor or a page number within the
base collector's politeness."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from collectors.kinds import (BadItem, FollowPage, HttpKind, Item, KindOptions, Page, Parsed,
                              ParseError, register)
from collectors.posts import parse_published
from collectors.records import SourceConfig
from jingyu.config import ConfigProblem

JSON_FEED_VERSION = "https://jsonfeed.org/version/"
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PATH = re.compile(r"^[^.\[\]]+(?:\[\d+\])*(?:\.[^.\[\]]+(?:\[\d+\])*)*$")
Path = Annotated[str, Strict(), Field(min_length=1)]


def _checked_path(path: str | None) -> str | None:
    if path is None:
        return None
    if not _PATH.match(path):
        raise ConfigProblem(f"not a field path: {path!r}",
                            "write keys joined by dots and list positions in brackets, "
                            "e.g. data.list or data.cards[0].mblog.text")
    return path


def pick(document: Any, path: str | None) -> Any:
    """The value at a dotted path (`a.b[0].c`) in parsed JSON, or None where it is missing."""
    if not path:
        return None
    value = document
    for key, index in _STEP.findall(path):
        if key:
            value = value.get(key) if isinstance(value, Mapping) else None
        else:
            position = int(index)
            value = value[position] if isinstance(value, list) and position < len(value) else None
        if value is None:
            return None
    return value


class JsonFields(BaseModel):
    """Where each post field is inside one item (paths relative to the item)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Path = Field(description="the post text (required)",
                       json_schema_extra={"fix": "give the path of the text, e.g. "
                                                 "text: mblog.text"})
    title: Path | None = Field(None, description="the title")
    url: Path | None = Field(None, description="the link to the original post; relative "
                                               "links are resolved against the API address")
    id: Path | None = Field(None, description="the platform's id; re-fetches are keyed on it "
                                              "(else on the link, else the content)")
    author: Path | None = Field(None, description="the author's name")
    published_at: Path | None = Field(None, description="publication time (ISO, RFC 2822, "
                                                        "epoch seconds or milliseconds)")

    @field_validator("*")
    @classmethod
    def _is_a_path(cls, value: str | None) -> str | None:
        return _checked_path(value)


class JsonOptions(KindOptions):
    items: Path | None = Field(None, description="path of the list of items, e.g. data.list; "
                                                 "omit for a JSON Feed")
    fields: JsonFields | None = Field(None, description="post fields -> paths in an item; "
                                                        "omit for a JSON Feed")
    cursor: Path | None = Field(None, description="paging by cursor: path of the next "
                                                  "cursor in the answer, e.g. data.next_cursor")
    cursor_param: Annotated[str, Strict()] = Field("cursor", description="the query parameter "
                                                                         "that takes the cursor")
    page_param: Annotated[str, Strict()] | None = Field(None, description="paging by page "
                                                        "number: the query parameter, e.g. page")
    max_pages: Annotated[int, Strict()] = Field(
        1, ge=1, le=20, description="pages read per fetch at most (each waits its turn on "
                                    "the host); paging stops early at a page of seen items",
        json_schema_extra={"fix": "give a number from 1 to 20"})

    @field_validator("items", "cursor")
    @classmethod
    def _is_a_path(cls, value: str | None) -> str | None:
        return _checked_path(value)

    @model_validator(mode="after")
    def _mapping_complete(self) -> JsonOptions:
        if (self.items is None) != (self.fields is None):
            raise ConfigProblem("items and fields go together",
                                "give both items: and fields: for a JSON API, or neither "
                                "for a JSON Feed")
        if self.cursor and self.page_param:
            raise ConfigProblem("cursor and page_param both given",
                                "page by cursor or by page number, not both")
        return self


@register
class JsonApi(HttpKind):
    name = "json"
    summary = ("a JSON Feed, or a JSON API through a mapping of post fields to paths, paged "
               "by cursor or page number")
    url_means = "the feed's or API's http(s) address (the first page)"
    Options = JsonOptions

    def parse(self, page: Page, source: SourceConfig, follow: FollowPage) -> Parsed:
        options: JsonOptions = self.options(source)
        parsed = Parsed()
        current, number = page, 1
        while True:
            document = _document(current)
            items = self._page_items(document, options, current, number, parsed)
            if number >= options.max_pages or not items:
                break
            if all(item.external_id in page.seen for item in items if item.external_id):
                break                                   # caught up with what we have
            next_url = _next_url(current.url, document, options)
            if next_url is None:
                break
            current, number = follow(next_url), number + 1
        return parsed

    def _page_items(self, document: Any, options: JsonOptions, page: Page, number: int,
                    parsed: Parsed) -> list[Item]:
        if options.fields is None:
            version = document.get("version", "") if isinstance(document, Mapping) else ""
            if not str(version).startswith(JSON_FEED_VERSION):
                raise ParseError(f"not a JSON Feed at {page.url} (no jsonfeed.org version) — "
                                 "give items: and fields: for a JSON API")
            entries, fields = document.get("items"), None
        else:
            entries, fields = pick(document, options.items), options.fields
        if not isinstance(entries, list):
            raise ParseError(f"no list of items at {options.items or 'items'} in {page.url} "
                             f"(found {type(entries).__name__}) — has the API changed?")
        items = []
        for position, entry in enumerate(entries, start=1):
            where = f"page {number} item {position}" if number > 1 else f"item {position}"
            item = _feed_item(entry, page.url) if fields is None else \
                _mapped_item(entry, fields, page.url)
            if isinstance(item, str):
                parsed.bad.append(BadItem(where, item))
            else:
                items.append(item)
        parsed.items += items
        return items


def _document(page: Page) -> Any:
    try:
        return json.loads(page.text)
    except ValueError as exc:
        raise ParseError(f"not JSON at {page.url}: {exc}") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _feed_item(entry: Any, base: str) -> Item | str:
    if not isinstance(entry, Mapping):
        return "not an object"
    body = entry.get("content_html") or entry.get("content_text") or entry.get("summary") or ""
    title = _text(entry.get("title"))
    if not title and not body:
        return "neither title nor content"
    authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
    author = next((a.get("name") for a in authors if isinstance(a, Mapping) and a.get("name")),
                  None)
    url = _absolute(base, entry.get("url"))
    return Item(title=title, body=_text(body), url=url,
                external_id=_text(entry.get("id")) or url, author=author,
                published_at=parse_published(entry.get("date_published")
                                             or entry.get("date_modified")))


def _mapped_item(entry: Any, fields: JsonFields, base: str) -> Item | str:
    text = _text(pick(entry, fields.text))
    title = _text(pick(entry, fields.title))
    if not text and not title:
        return f"nothing at {fields.text}"
    url = _absolute(base, pick(entry, fields.url))
    raw_date = pick(entry, fields.published_at)
    return Item(title=title, body=text, url=url,
                external_id=_text(pick(entry, fields.id)) or url,
                author=_text(pick(entry, fields.author)) or None,
                published_at=parse_published(raw_date if isinstance(raw_date, (int, float))
                                             else _text(raw_date) or None))


def _absolute(base: str, link: Any) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    return urljoin(base, link.strip())


def _next_url(url: str, document: Any, options: JsonOptions) -> str | None:
    if options.cursor:
        cursor = pick(document, options.cursor)
        if cursor in (None, "", 0, "0", False):
            return None
        return _with_param(url, options.cursor_param, _text(cursor))
    if options.page_param:
        return _with_param(url, options.page_param, str(_page_number(url, options) + 1))
    if isinstance(document, Mapping) and isinstance(document.get("next_url"), str):
        return _absolute(url, document["next_url"])       # JSON Feed paging
    return None


def _page_number(url: str, options: JsonOptions) -> int:
    current = dict(parse_qsl(urlsplit(url).query)).get(options.page_param or "", "1")
    return int(current) if current.isdigit() else 1


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode([*query, (name, value)])))
