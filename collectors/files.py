"""Import CSV / JSON Lines exports of other monitoring platforms into RawPosts via a column map."""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping

from collectors.posts import content_id, keep_unseen, newest_first, parse_published
from collectors.records import (FETCH_ERROR, FETCH_NOT_MODIFIED, FETCH_OK, FetchResult, RawPost,
                                SourceConfig, SourceCursor)
from jingyu.timeutil import utcnow

DEFAULT_ENCODING = "utf-8-sig"   # Excel writes a BOM before UTF-8 CSV
BAD_ROWS_LISTED = 10


@dataclass(frozen=True)
class _BadRow:
    line: int
    problem: str


class _FileProblem(Exception):
    """The whole file is unusable (not one row): wrong encoding, mapped column missing."""


def import_file(source: SourceConfig, cursor: SourceCursor) -> FetchResult:
    """Read the export at source.url; unchanged size and mtime since the cursor -> not modified."""
    started = time.monotonic()
    path = Path(source.url)

    def failed(error: str) -> FetchResult:
        return FetchResult(source.id, FETCH_ERROR, cursor, error=f"{source.id}: {error}",
                           elapsed_s=time.monotonic() - started)

    try:
        stat = path.stat()
    except FileNotFoundError:
        return failed(f"export file not found: {path}")
    except OSError as exc:
        return failed(f"cannot read export file {path}: {exc}")
    fingerprint = {"file_size": stat.st_size, "file_mtime_ns": stat.st_mtime_ns}
    if all(cursor.extra.get(key) == value for key, value in fingerprint.items()):
        return FetchResult(source.id, FETCH_NOT_MODIFIED, cursor,
                           elapsed_s=time.monotonic() - started)

    columns: Mapping[str, str] = source.options["columns"]
    file_format = source.options["format"]
    encoding = source.options.get("encoding") or DEFAULT_ENCODING
    fetched_at = utcnow()
    posts: list[RawPost] = []
    bad: list[_BadRow] = []
    try:
        with path.open(encoding=encoding, newline="") as lines:
            rows = _csv_rows(lines, columns, path) if file_format == "csv" else _jsonl_rows(lines)
            for line, row in rows:
                if isinstance(row, _BadRow):
                    bad.append(row)
                    continue
                post = _raw_post(source.id, row, columns, fetched_at)
                if post is None:
                    bad.append(_BadRow(line, f"missing text (column {columns['text']!r})"))
                else:
                    posts.append(post)
    except UnicodeDecodeError as exc:
        return failed(f"{path} is not {encoding} text (byte {exc.start}): "
                      f"set options.encoding, e.g. gb18030 for exports made on Chinese Windows")
    except _FileProblem as exc:
        return failed(str(exc))
    except csv.Error as exc:
        return failed(f"{path} is not readable CSV: {exc}")
    except OSError as exc:
        return failed(f"cannot read export file {path}: {exc}")

    summary = _bad_rows_summary(bad, path)
    if bad and not posts:
        return failed(f"no usable row; {summary}")
    fresh, seen_ids = keep_unseen(newest_first(posts), cursor)
    new_cursor = SourceCursor(etag=cursor.etag, last_modified=cursor.last_modified,
                              seen_ids=seen_ids, extra={**cursor.extra, **fingerprint})
    return FetchResult(source.id, FETCH_OK, new_cursor, posts=tuple(fresh), error=summary,
                       elapsed_s=time.monotonic() - started)


def _csv_rows(lines: Iterator[str], columns: Mapping[str, str],
              path: Path) -> Iterator[tuple[int, dict[str, Any] | _BadRow]]:
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    missing = [theirs for theirs in columns.values() if theirs not in header]
    if missing:
        raise _FileProblem(f"{path}: mapped column(s) {', '.join(map(repr, missing))} not in "
                           f"the CSV header {header}; fix options.columns")
    for row in reader:
        # line_num is where the record ends; quoted fields may span lines.
        yield reader.line_num, row


def _jsonl_rows(lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any] | _BadRow]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, _BadRow(number, f"invalid JSON ({exc.msg})")
            continue
        if isinstance(row, dict):
            yield number, row
        else:
            yield number, _BadRow(number, f"not a JSON object but {type(row).__name__}")


def _raw_post(source_id: str, row: Mapping[str, Any], columns: Mapping[str, str],
              fetched_at: datetime) -> RawPost | None:
    """The post in `row`, or None when it has no text."""
    def cell(field: str) -> Any:
        return row.get(columns[field]) if field in columns else None

    def text(field: str) -> str | None:
        value = cell(field)
        if value is None:
            return None
        return str(value).strip() or None

    body = text("text")
    if body is None:
        return None
    title = text("title") or ""
    url = text("url")
    author = text("author")
    published = cell("published_at")
    # JSON exports often give epoch numbers; CSV cells are always text.
    published_at = parse_published(published if isinstance(published, (int, float))
                                   else text("published_at"))
    return RawPost(
        source_id=source_id,
        external_id=text("id") or content_id(title, body, url, author, text("published_at")),
        url=url,
        title=title,
        body=body,
        author=author,
        published_at=published_at,
        fetched_at=fetched_at,
    )


def _bad_rows_summary(bad: list[_BadRow], path: Path) -> str | None:
    if not bad:
        return None
    listed = "; ".join(f"line {row.line}: {row.problem}" for row in bad[:BAD_ROWS_LISTED])
    more = f"; and {len(bad) - BAD_ROWS_LISTED} more" if len(bad) > BAD_ROWS_LISTED else ""
    noun = "bad row" if len(bad) == 1 else "bad rows"
    return f"{len(bad)} {noun} in {path}: {listed}{more}"
