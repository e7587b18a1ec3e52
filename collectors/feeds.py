"""kind: feed — RSS 2.0, Atom and RSS 1.0 (RDF) feeds, parsed with feedparser."""
from __future__ import annotations

import re
from typing import Any, Mapping

import feedparser

from collectors.kinds import FollowPage, HttpKind, Item, Page, Parsed, ParseError, register
from collectors.posts import parse_published
from collectors.records import SourceConfig

_XML_DECLARATION = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9_.:-]+)",
                              re.IGNORECASE)


@register
class Feed(HttpKind):
    name = "feed"
    summary = "an RSS 2.0, Atom or RSS 1.0 (RDF) feed, e.g. a news channel or an RSSHub route"
    url_means = "the feed's http(s) address"

    def parse(self, page: Page, source: SourceConfig, follow: FollowPage) -> Parsed:
        # The base decoded the body (checking its charset): hand feedparser UTF-8 saying so.
        body = _XML_DECLARATION.sub(r"\g<1>utf-8", page.text, count=1).encode("utf-8")
        media_type = page.headers.get("content-type", "application/xml").split(";")[0].strip()
        # feedparser resolves relative links against Content-Location.
        headers = {**page.headers, "content-type": f"{media_type}; charset=utf-8",
                   "content-location": page.headers.get("content-location", page.url)}
        parsed = feedparser.parse(body, response_headers=headers)
        if not parsed.entries and not parsed.version:
            content_type = page.headers.get("content-type", "no content-type")
            raise ParseError(f"not an RSS/Atom/RDF feed at {source.url} ({content_type}) — "
                             "a login or captcha page, or a changed route?")
        if not parsed.entries and parsed.bozo:
            raise ParseError(f"malformed feed at {source.url}: {parsed.get('bozo_exception')}")
        items = [_item(entry) for entry in parsed.entries]
        if not parsed.bozo:
            return Parsed(items)
        # Loose parsing salvages feeds with real-world defects (a bare "&", a truncated tail):
        # keep the complete items, and record the defect in the source's health.
        items = [item for item in items if item.title.strip() or item.body.strip()]
        return Parsed(items, warning=f"malformed feed at {source.url}: "
                                     f"{parsed.get('bozo_exception')} "
                                     f"(kept {len(items)} complete items)")


def _item(entry: Mapping[str, Any]) -> Item:
    title = entry.get("title", "") or ""
    contents = entry.get("content") or []
    body = contents[0].get("value", "") if contents else entry.get("summary", "") or ""
    link = entry.get("link") or None
    raw_date = entry.get("published") or entry.get("updated") or entry.get("created")
    return Item(title=title, body=body, url=link, external_id=entry.get("id") or link,
                author=entry.get("author") or None, published_at=parse_published(raw_date))
