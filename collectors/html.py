"""kind: html — a list page without a feed (a bureau's 警情通报 page, a county portal's news
list): CSS selectors or XPath pick the items, their title, link and date, and optionally the
text of each new item's own page. Parsed with parsel (lxml)."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import urljoin, urlsplit

import parsel
from cssselect import SelectorError
from lxml import etree
from pydantic import Field, Strict, field_validator

from collectors.dates import parse_page_date
from collectors.kinds import (BadItem, FollowPage, HttpKind, Item, KindOptions, Page, Parsed,
                              ParseError, register)
from collectors.records import SourceConfig
from jingyu.config import ConfigProblem
from jingyu.timeutil import utcnow

XPATH_PREFIX = "xpath:"
Query = Annotated[str, Strict(), Field(min_length=1)]


def _checked(query: str | None) -> str | None:
    """A selector that compiles: CSS (parsel's ::text and ::attr(name) allowed) or xpath:…"""
    if query is None:
        return None
    try:
        if query.startswith(XPATH_PREFIX):
            etree.XPath(query[len(XPATH_PREFIX):])
        else:
            parsel.Selector(text="<html></html>").css(query)
    except (SelectorError, etree.XPathSyntaxError, ValueError) as exc:
        raise ConfigProblem(f"not a valid selector {query!r} ({exc})",
                            "write a CSS selector such as 'ul.list li' or 'a::attr(href)', "
                            "or XPath after 'xpath:', e.g. 'xpath://ul/li'") from None
    return query


class HtmlOptions(KindOptions):
    items: Query = Field(description="selects each item on the list page, e.g. 'ul.news li' "
                                     "(CSS) or 'xpath://div[@class=\"list\"]/ul/li'",
                         json_schema_extra={"fix": "add 'items:' with the selector of one "
                                                   "entry of the list"})
    title: Query | None = Field(None, description="the title within an item; default: the "
                                                  "text of its first link")
    link: Query | None = Field(None, description="the link within an item; default: the "
                                                 "first a::attr(href); relative links are "
                                                 "resolved against the page")
    date: Query | None = Field(None, description="the date within an item; '2026-12-01', "
                                                 "'12-01 14:20', '3小时前', '昨天 14:20' are read "
                                                 "(Beijing time)")
    text: Query | None = Field(None, description="the item's text on the list page (a summary); "
                                                 "default: the title")
    detail: Query | None = Field(None, description="the article text on each new item's own "
                                                   "page, e.g. 'div.article'; fetched once per "
                                                   "new item, politely")
    detail_limit: Annotated[int, Strict()] = Field(
        10, ge=0, le=100, description="at most this many detail pages per fetch",
        json_schema_extra={"fix": "give a number from 0 to 100"})

    @field_validator("items", "title", "link", "date", "text", "detail")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return _checked(value)


@register
class Html(HttpKind):
    name = "html"
    summary = ("a web page listing items without a feed (警情通报 list, a portal's news list): "
               "selectors for items, title, link, date and optional detail text")
    url_means = "the list page's http(s) address"
    Options = HtmlOptions

    def parse(self, page: Page, source: SourceConfig, follow: FollowPage) -> Parsed:
        options: HtmlOptions = self.options(source)
        document = parsel.Selector(text=page.text, base_url=page.url)
        nodes = _select(document, options.items)
        if not nodes:
            raise ParseError(f"the items selector {options.items!r} matched nothing at "
                             f"{page.url} — has the page changed?")
        fetched_at = page.fetched_at or utcnow()
        parsed = Parsed()
        for number, node in enumerate(nodes, start=1):
            link = _first(node, options.link) if options.link else \
                node.xpath("(.//a/@href)[1]").get()
            url = _absolute(page.url, link)
            title = _text(node, options.title) if options.title else \
                _text(node, "xpath:(.//a)[1]")
            if not title and not url:
                parsed.bad.append(BadItem(f"item {number}", "neither a title nor a link"))
                continue
            summary = _text(node, options.text) if options.text else ""
            published = parse_page_date(_text(node, options.date), fetched_at) \
                if options.date else None
            parsed.items.append(Item(title=title, body=summary or title, url=url,
                                     external_id=url, published_at=published))
        if options.detail:
            parsed = _with_details(parsed, options, page, follow)
        return parsed


def _with_details(parsed: Parsed, options: HtmlOptions, page: Page,
                  follow: FollowPage) -> Parsed:
    """Items with the text of their own page, for new items only, at most detail_limit."""
    items: list[Item] = []
    fetched = 0
    failures: list[str] = []
    for item in parsed.items:
        if (not item.url or item.url in page.seen or fetched >= options.detail_limit
                or urlsplit(item.url).scheme not in ("http", "https")):
            items.append(item)
            continue
        fetched += 1
        try:
            detail = follow(item.url)
        except Exception as exc:  # noqa: BLE001 (one missing article keeps its list entry)
            failures.append(f"{item.url}: {getattr(exc, 'message', exc)}")
            items.append(item)
            continue
        text = _text(parsel.Selector(text=detail.text, base_url=detail.url), options.detail)
        items.append(Item(title=item.title, body=text or item.body, url=item.url,
                          external_id=item.external_id, author=item.author,
                          published_at=item.published_at))
    warning = parsed.warning
    if failures:
        note = f"{len(failures)} detail page(s) not read (list text kept): {'; '.join(failures[:3])}"
        warning = f"{warning}; {note}" if warning else note
    return Parsed(items, parsed.bad, warning)


def _select(node: parsel.Selector, query: str) -> parsel.SelectorList:
    if query.startswith(XPATH_PREFIX):
        return node.xpath(query[len(XPATH_PREFIX):])
    return node.css(query)


def _first(node: parsel.Selector, query: str) -> str | None:
    found = _select(node, query)
    if not found:
        return None
    value = found[0].get()
    if isinstance(found[0].root, str):      # ::text, ::attr(), text() or @attr
        return value.strip() or None
    return _joined(found[0]) or None


def _text(node: parsel.Selector, query: str | None) -> str:
    """The visible text a selector picks: attribute or text nodes as they are, elements as
    the text of everything inside them."""
    if not query:
        return ""
    found = _select(node, query)
    parts = [part.root.strip() if isinstance(part.root, str) else _joined(part) for part in found]
    return " ".join(part for part in parts if part)


def _joined(element: parsel.Selector) -> str:
    texts = element.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall()
    return " ".join("".join(texts).split())


def _absolute(base: str, link: str | None) -> str | None:
    if not link or link.startswith(("javascript:", "#", "mailto:")):
        return None
    return urljoin(base, link.strip())
