"""Collectors: fetch public posts and feeds into RawPost records (knows HTTP and files, not SQL)."""
from __future__ import annotations

import time

from collectors.feeds import fetch_feed
from collectors.files import import_file
from collectors.http import PoliteClient
from collectors.records import (FEED_KIND, FETCH_ERROR, FILE_KIND, FetchResult, SourceConfig,
                                SourceCursor)


def fetch(source: SourceConfig, cursor: SourceCursor, client: PoliteClient) -> FetchResult:
    """Fetch one source by its kind; never raises, so one broken source cannot stop the others."""
    started = time.monotonic()
    try:
        if source.kind == FEED_KIND:
            return fetch_feed(source, cursor, client)
        if source.kind == FILE_KIND:
            return import_file(source, cursor)
        error = f"{source.id}: unknown source kind {source.kind!r}"
    except Exception as exc:  # noqa: BLE001 (a bug in one source must not stop the run)
        error = f"{source.id}: unexpected {type(exc).__name__}: {exc} (while fetching {source.url})"
    return FetchResult(source.id, FETCH_ERROR, cursor, error=error,
                       elapsed_s=time.monotonic() - started)
