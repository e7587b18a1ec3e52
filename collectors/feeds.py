"""Fetch one RSS 2.0 / Atom / RSS 1.0 (RDF) feed into RawPosts, never raising for source faults."""
from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlsplit

import feedparser

from collectors.http import DownloadError, HttpResponse, PoliteClient
from collectors.posts import content_id, keep_unseen, newest_first, parse_published
from collectors.records import (FETCH_ERROR, FETCH_NOT_MODIFIED, FETCH_OK, FetchResult, RawPost,
                                SourceConfig, SourceCursor)
from jingyu.timeutil import utcnow

# Weibo answers scrapers and expired cookies with these instead of 403.
ANTI_BOT_STATUSES = (418, 432)
_LOGIN_PAGE = re.compile(r"login|passport|signin|captcha|verify", re.IGNORECASE)
# Sites declare gb2312 or gbk yet use characters only gb18030 has (rare characters in
# names); feedparser's gbk codec then fails and it falls back to windows-1252 mojibake.
_GB_CHARSETS = ("gb2312", "gb_2312", "gb_2312-80", "gbk", "x-gbk", "cp936", "gb18030")
_XML_DECLARATION = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9_.:-]+)",
                              re.IGNORECASE)
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def fetch_feed(source: SourceConfig, cursor: SourceCursor, client: PoliteClient) -> FetchResult:
    """Fetch and parse `source`; 304 keeps the cursor, a failure keeps it and says why."""
    started = time.monotonic()

    def failed(error: str, http_status: int | None = None) -> FetchResult:
        return FetchResult(source.id, FETCH_ERROR, cursor, error=f"{source.id}: {error}",
                           http_status=http_status, elapsed_s=time.monotonic() - started)

    try:
        response = client.get(source.url, etag=cursor.etag, last_modified=cursor.last_modified)
    except DownloadError as exc:
        tries = f" after {exc.attempts} attempts" if exc.attempts > 1 else ""
        return failed(f"cannot fetch {source.url}: {exc.reason}{tries}")
    if response.status == 304:
        return FetchResult(source.id, FETCH_NOT_MODIFIED, cursor, http_status=304,
                           elapsed_s=time.monotonic() - started)
    problem = _refusal(source.url, response)
    if problem:
        return failed(problem, response.status)

    body, headers = _feedparser_input(response)
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.entries and not parsed.version:
        content_type = response.headers.get("content-type", "no content-type")
        return failed(f"not an RSS/Atom/RDF feed at {source.url} ({content_type}) — "
                      "a login or captcha page, or a changed route?", response.status)
    if not parsed.entries and parsed.bozo:
        return failed(f"malformed feed at {source.url}: {parsed.get('bozo_exception')}",
                      response.status)

    fetched_at = utcnow()
    posts = newest_first([_raw_post(source.id, entry, fetched_at) for entry in parsed.entries])
    fresh, seen_ids = keep_unseen(posts, cursor)
    warning = None
    if parsed.bozo:
        # Loose parsing salvages feeds with real-world defects (a bare "&", a truncated tail):
        # keep the complete items, and record the defect in the source's health.
        fresh = [p for p in fresh if p.title.strip() or p.body.strip()]
        warning = (f"malformed feed at {source.url}: {parsed.get('bozo_exception')}"
                   f" (kept {len(fresh)} complete new items)")
    new_cursor = SourceCursor(etag=response.headers.get("etag"),
                              last_modified=response.headers.get("last-modified"),
                              seen_ids=seen_ids, extra=cursor.extra)
    return FetchResult(source.id, FETCH_OK, new_cursor, posts=tuple(fresh), error=warning,
                       http_status=response.status, elapsed_s=time.monotonic() - started)


def _refusal(url: str, response: HttpResponse) -> str | None:
    """Why this response carries no feed, or None when it may."""
    if response.status in ANTI_BOT_STATUSES:
        return (f"blocked by the site (HTTP {response.status}) — cookie expired or anti-bot, "
                f"at {url}")
    if response.url != url and _LOGIN_PAGE.search(urlsplit(response.url).netloc
                                                 + urlsplit(response.url).path):
        return (f"redirected to a login page {response.url} — cookie expired or anti-bot, "
                f"at {url}")
    if response.status >= 400:
        tries = f" after {response.attempts} attempts" if response.attempts > 1 else ""
        return f"HTTP {response.status} from {url}{tries}"
    if response.status != 200:
        return f"unexpected HTTP {response.status} from {url}"
    return None


def _feedparser_input(response: HttpResponse) -> tuple[bytes, dict[str, str]]:
    """Body and headers for feedparser: GB feeds re-encoded as UTF-8, base URL for links."""
    headers = dict(response.headers)
    # feedparser resolves relative links against Content-Location.
    headers.setdefault("content-location", response.url)
    if not _gb_declared(response):
        return response.body, headers
    # errors="replace": one stray byte must not cost the whole feed.
    body = response.body.decode("gb18030", errors="replace").encode("utf-8")
    body = _XML_DECLARATION.sub(rb"\g<1>utf-8", body, count=1)
    media_type = headers.get("content-type", "application/xml").split(";")[0].strip()
    headers["content-type"] = f"{media_type}; charset=utf-8"
    return body, headers


def _gb_declared(response: HttpResponse) -> bool:
    """Whether the HTTP charset, or else the XML declaration, names a GB encoding."""
    match = _CHARSET_PARAM.search(response.headers.get("content-type", ""))
    if match:
        return match.group(1).lower() in _GB_CHARSETS
    declaration = _XML_DECLARATION.match(response.body)
    return bool(declaration) and declaration.group(2).decode("ascii").lower() in _GB_CHARSETS


def _raw_post(source_id: str, entry: Mapping[str, Any], fetched_at: datetime) -> RawPost:
    title = entry.get("title", "") or ""
    contents = entry.get("content") or []
    body = contents[0].get("value", "") if contents else entry.get("summary", "") or ""
    link = entry.get("link") or None
    external_id = entry.get("id") or link or content_id(title, body)
    raw_date = entry.get("published") or entry.get("updated") or entry.get("created")
    return RawPost(
        source_id=source_id,
        external_id=external_id,
        url=link,
        title=title,
        body=body,
        author=entry.get("author") or None,
        published_at=parse_published(raw_date),
        fetched_at=fetched_at,
    )
