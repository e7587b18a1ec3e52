"""The base collector: everything about fetching a source except parsing, for every kind.

It owns conditional GET and 304s, the size cap and deadline (through PoliteClient), refusal
and anti-bot detection, charset checking, cleaning text of unstorable characters, ids for
items without one, seen ids and the cursor. A kind (collectors.kinds) only parses.
"""
from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from collectors.decoding import decode_body
from collectors.failures import (FailureClass, class_of_page, class_of_status,
                                 class_of_transport, is_rsshub_error, visible_text)
from collectors.http import DownloadError, HttpResponse, Lane, PoliteClient
from collectors.kinds import (BadItem, FileKind, HttpKind, Item, Page, Parsed, ParseError,
                              SourceKind, kind_named)
from collectors.posts import content_id, keep_unseen, newest_first, storable, unstorable_count
from collectors.records import (FETCH_ERROR, FETCH_NOT_MODIFIED, FETCH_OK, FetchResult, RawPost,
                                SourceConfig, SourceCursor)
from jingyu.redaction import redact_text, url_secrets
from jingyu.timeutil import utcnow

_LOGIN_PAGE = re.compile(r"login|passport|signin|captcha|verify|sec_check|security-check",
                         re.IGNORECASE)
BAD_ITEMS_LISTED = 10
# A 200 page with fewer visible characters than this carries no content: a blank or a
# script-only challenge page.
EMPTY_PAGE_CHARS = 20
# Challenge pages are short; a long page that mentions 验证码 is a news list (anti-fraud
# notices say it all the time), not a captcha.
CHALLENGE_PAGE_CHARS = 800
CHALLENGE_PAGE_LINKS = 4       # ... and they have hardly any links
_LINK = re.compile(r"<a\s[^>]*href", re.IGNORECASE)


class _Failed(Exception):
    def __init__(self, message: str, http_status: int | None = None,
                 failure: FailureClass = FailureClass.HARD) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.failure = failure


def collect(source: SourceConfig, cursor: SourceCursor, client: PoliteClient,
            now: datetime | None = None) -> FetchResult:
    """Fetch one source by its kind; never raises, so one broken source cannot stop the others.

    `now` is the clock of the cycle fetching: posts are stamped fetched at it (and pages'
    relative dates, "3小时前", count back from it). None, as in a live cycle, is the wall
    clock at the fetch; a cycle run at a given time (a replay) stamps that time.
    """
    started = time.monotonic()
    kind = kind_named(source.kind)
    try:
        if kind is None:
            raise _Failed(f"unknown source kind {source.kind!r}")
        if isinstance(kind, HttpKind):
            result = _collect_http(kind, source, cursor, client, now)
        elif isinstance(kind, FileKind):
            result = _collect_files(kind, source, cursor, now)
        else:
            raise _Failed(f"kind {kind.name!r} has no transport")
    except _Failed as failed:
        return FetchResult(source.id, FETCH_ERROR, cursor,
                           error=_redacted(f"{source.id}: {failed.message}", source),
                           http_status=failed.http_status, elapsed_s=time.monotonic() - started,
                           failure=failed.failure.value)
    except Exception as exc:  # noqa: BLE001 (a bug in one source must not stop the run)
        return FetchResult(source.id, FETCH_ERROR, cursor,
                           error=_redacted(f"{source.id}: unexpected {type(exc).__name__}: "
                                           f"{exc} (while fetching {source.url})", source),
                           elapsed_s=time.monotonic() - started, failure=FailureClass.HARD.value)
    return FetchResult(source.id, result.status, result.cursor, posts=result.posts,
                       error=_redacted(result.error, source), http_status=result.http_status,
                       elapsed_s=time.monotonic() - started)


def _redacted(error: str | None, source: SourceConfig) -> str | None:
    """An error without the source URL's key or token (a self-hosted RSSHub's ?key=…): it is
    stored in source health, logged and shown to anyone who reads them."""
    return redact_text(error, url_secrets(source.url)) if error else error


def _options(kind: SourceKind, source: SourceConfig) -> object:
    try:
        return kind.options(source)
    except ValidationError as exc:
        raise _Failed(f"invalid options for kind {kind.name}: {exc.errors()[0]['msg']} "
                      f"at {'.'.join(map(str, exc.errors()[0]['loc']))}") from None


# ---- over HTTP ------------------------------------------------------------------------------

def _collect_http(kind: HttpKind, source: SourceConfig, cursor: SourceCursor,
                  client: PoliteClient, now: datetime | None) -> FetchResult:
    _options(kind, source)
    response = _get(client, source.url, cursor.etag, cursor.last_modified, source.lane)
    if response.status == 304:
        return FetchResult(source.id, FETCH_NOT_MODIFIED, cursor, http_status=304)
    page, note = _page(source.url, response, now, frozenset(cursor.seen_ids))
    if not page.text.strip():
        _check_content(source.url, page)   # nothing to parse: a blank answer

    def follow(url: str) -> Page:
        return _page(url, _get(client, url, lane=source.lane), now)[0]

    try:
        parsed = kind.parse(page, source, follow)
    except ParseError as exc:
        # Not what the kind expects: a challenge or blank page, or else a changed route.
        _check_content(source.url, page)
        raise _Failed(str(exc), response.status) from None
    except _Failed as failed:   # a follow-up page failed: the fetch is incomplete
        raise _Failed(failed.message, failed.http_status or response.status,
                      failed.failure) from None
    if not parsed.items:
        _check_content(source.url, page)
    _check_items(source.url, parsed)
    fresh, seen_ids, warnings = _fresh(source, cursor, parsed, kind, source.url,
                                       now or utcnow())
    new_cursor = SourceCursor(etag=response.headers.get("etag"),
                              last_modified=response.headers.get("last-modified"),
                              seen_ids=seen_ids, extra=cursor.extra)
    return FetchResult(source.id, FETCH_OK, new_cursor, posts=fresh,
                       error=_joined([note, *warnings]), http_status=response.status)


def _get(client: PoliteClient, url: str, etag: str | None = None,
         last_modified: str | None = None, lane: Lane | None = None) -> HttpResponse:
    try:
        response = client.get(url, etag=etag, last_modified=last_modified, lane=lane)
    except DownloadError as exc:
        tries = f" after {exc.attempts} attempts" if exc.attempts > 1 else ""
        raise _Failed(f"cannot fetch {url}: {exc.reason}{tries}",
                      failure=class_of_transport(exc.reason)) from None
    problem = refusal(url, response)
    if problem:
        message, failure = problem
        raise _Failed(message, response.status, failure)
    return response


def refusal(url: str, response: HttpResponse) -> tuple[str, FailureClass] | None:
    """Why this response carries no content and what class of failure that is, or None when
    it may carry content."""
    final = urlsplit(response.url)
    if response.url != url and _LOGIN_PAGE.search(final.netloc + final.path + final.query):
        return (f"redirected to a login page {response.url} — cookie expired "
                f"or anti-bot, at {url}", FailureClass.BLOCKED)
    if response.status in (200, 304):
        return None
    tries = f" after {response.attempts} attempts" if response.attempts > 1 else ""
    if response.status < 400:
        return f"unexpected HTTP {response.status} from {url}", FailureClass.HARD
    said = visible_text(decode_body(response.body[:200_000], response.headers).text)
    failure = class_of_page(said) or class_of_status(response.status)
    telling = failure in (FailureClass.BLOCKED, FailureClass.CREDENTIALS) \
        or failure is not class_of_status(response.status) or is_rsshub_error(said)
    detail = f": {_excerpt(said)}" if said and telling else ""
    if failure is FailureClass.BLOCKED:
        return (f"blocked by the site (HTTP {response.status}) — cookie expired or anti-bot, "
                f"at {url}{detail}", failure)
    if failure is FailureClass.CREDENTIALS:
        return (f"cookie or token expired (HTTP {response.status}) at {url}{detail}", failure)
    return f"HTTP {response.status} from {url}{tries}{detail}", failure


def _check_content(url: str, page: Page) -> None:
    """A 200 page without items that is a challenge page, or (nearly) empty, is a refusal."""
    head = page.text[:50_000]
    if head.lstrip("\ufeff \t\r\n").startswith(("<?xml", "<rss", "<feed", "<rdf", "{", "[")):
        return   # a feed or JSON document: its items are checked after parsing
    said = visible_text(head)
    if len(_LINK.findall(head)) > CHALLENGE_PAGE_LINKS:
        return   # a real page with navigation (that lists nothing the kind knows)
    failure = class_of_page(said) if len(said) < CHALLENGE_PAGE_CHARS else None
    if failure is not None:
        raise _Failed(f"a {'cookie error' if failure is FailureClass.CREDENTIALS else 'challenge'} "
                      f"page instead of content at {url}: {_excerpt(said)}", page.status, failure)
    if len(said) < EMPTY_PAGE_CHARS and len(page.text.strip()) < 5_000:
        raise _Failed(f"an empty page ({len(page.text)} characters) instead of content at {url} "
                      "— a blank anti-bot answer?", page.status, FailureClass.BLOCKED)


def _check_items(url: str, parsed: Parsed) -> None:
    """An RSSHub error item (old RSSHub versions report route errors as the feed's one item)."""
    if len(parsed.items) > 2:
        return
    for item in parsed.items:
        said = visible_text(f"{item.title} {item.body}")
        if is_rsshub_error(said):
            failure = class_of_page(said) or FailureClass.BLOCKED
            raise _Failed(f"an RSSHub error item instead of posts at {url}: {_excerpt(said)}",
                          200, failure)


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _page(url: str, response: HttpResponse, now: datetime | None,
          seen: frozenset[str] = frozenset()) -> tuple[Page, str | None]:
    decoded = decode_body(response.body, response.headers)
    note = f"{decoded.note} at {url}" if decoded.note else None
    return Page(url=response.url, status=response.status, headers=response.headers,
                text=storable(decoded.text), encoding=decoded.encoding, seen=seen,
                fetched_at=now), note


# ---- from files -----------------------------------------------------------------------------

def _collect_files(kind: FileKind, source: SourceConfig, cursor: SourceCursor,
                   now: datetime | None) -> FetchResult:
    options = _options(kind, source)
    path = Path(source.url)
    try:
        files = kind.files(path, options)
    except FileNotFoundError:
        raise _Failed(f"export file not found: {path}") from None
    except OSError as exc:
        raise _Failed(f"cannot read export file {path}: {exc}") from None
    seen_files: dict[str, list[int]] = dict(cursor.extra.get("files") or {})
    changed: list[tuple[Path, list[int]]] = []
    for file in files:
        try:
            stat = file.stat()
        except FileNotFoundError:
            raise _Failed(f"export file not found: {file}") from None
        except OSError as exc:
            raise _Failed(f"cannot read export file {file}: {exc}") from None
        fingerprint = [stat.st_size, stat.st_mtime_ns]
        if seen_files.get(str(file)) != fingerprint:
            changed.append((file, fingerprint))
    if not changed:
        return FetchResult(source.id, FETCH_NOT_MODIFIED, cursor)

    items: list[Item] = []
    warnings: list[str] = []
    bad_rows = 0
    for file, fingerprint in changed:
        try:
            parsed = kind.read(file, source)
        except ParseError as exc:
            if len(changed) == 1:
                raise _Failed(str(exc)) from None
            warnings.append(str(exc))   # one broken file of a folder: the others still count
            continue
        except OSError as exc:
            raise _Failed(f"cannot read export file {file}: {exc}") from None
        items += parsed.items
        warnings += [w for w in (parsed.warning, _bad_summary(parsed.bad, kind, str(file))) if w]
        bad_rows += len(parsed.bad)
        seen_files[str(file)] = fingerprint
    if bad_rows and not items:
        raise _Failed(f"no usable {kind.item_noun}; {_joined(warnings)}")
    fresh, seen_ids, more = _fresh(source, cursor, Parsed(items), kind, str(path),
                                   now or utcnow())
    new_cursor = SourceCursor(etag=cursor.etag, last_modified=cursor.last_modified,
                              seen_ids=seen_ids, extra={**cursor.extra, "files": seen_files})
    return FetchResult(source.id, FETCH_OK, new_cursor, posts=fresh,
                       error=_joined(warnings + more))


# ---- shared ---------------------------------------------------------------------------------

def _fresh(source: SourceConfig, cursor: SourceCursor, parsed: Parsed, kind: SourceKind,
           place: str, fetched_at: datetime
           ) -> tuple[tuple[RawPost, ...], tuple[str, ...], list[str]]:
    """The parsed items not seen before as clean RawPosts stamped `fetched_at`, the new
    seen-ids window, warnings."""
    if parsed.bad and not parsed.items:
        raise _Failed(f"no usable {kind.item_noun}; {_bad_summary(parsed.bad, kind, place)}")
    cleaned = sum(1 for item in parsed.items if _unstorable(item))
    posts = [_raw_post(source.id, item, fetched_at) for item in parsed.items]
    fresh, seen_ids = keep_unseen(newest_first(posts), cursor)
    warnings = [parsed.warning, _bad_summary(parsed.bad, kind, place)]
    if cleaned:
        warnings.append(f"removed unstorable characters (NUL, control codes) from {cleaned} "
                        f"{kind.item_noun}(s) at {place}")
    return tuple(fresh), seen_ids, [w for w in warnings if w]


def _unstorable(item: Item) -> bool:
    return any(unstorable_count(text or "") for text in
               (item.title, item.body, item.url, item.external_id, item.author))


def _raw_post(source_id: str, item: Item, fetched_at: datetime) -> RawPost:
    title, body = storable(item.title), storable(item.body)
    url = storable(item.url) if item.url else None
    return RawPost(
        source_id=source_id,
        external_id=storable(item.external_id or "") or content_id(title, body),
        url=url or None,
        title=title,
        body=body,
        author=storable(item.author or "") or None,
        published_at=item.published_at,
        fetched_at=fetched_at,
        platform=item.platform,
        reposts=item.reposts, comments=item.comments, likes=item.likes,
        parent_id=storable(item.parent_id) if item.parent_id else None,
        relation=item.relation if item.parent_id else None,
    )


def _bad_summary(bad: Sequence[BadItem], kind: SourceKind, place: str) -> str | None:
    if not bad:
        return None
    listed = "; ".join(f"{entry.where}: {entry.problem}" for entry in bad[:BAD_ITEMS_LISTED])
    more = f"; and {len(bad) - BAD_ITEMS_LISTED} more" if len(bad) > BAD_ITEMS_LISTED else ""
    noun = kind.item_noun if len(bad) == 1 else f"{kind.item_noun}s"
    return f"{len(bad)} bad {noun} in {place}: {listed}{more}"


def _joined(notes: Sequence[str | None]) -> str | None:
    present = [note for note in notes if note]
    return "; ".join(present) if present else None

