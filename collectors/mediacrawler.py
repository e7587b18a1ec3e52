"""kind: mediacrawler — what MediaCrawler writes, read as it comes: its JSON Lines, CSV and JSON
files (`<data>/<platform>/<format>/<crawler type>_contents|comments_<date>.<ext>`) and its
SQLite database, for Weibo, Douyin, Xiaohongshu, Bilibili, Kuaishou and Zhihu: posts with
their author and counts, comments linked to their post (and replies to their comment)."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from collectors.kinds import BadItem, FileKind, Item, KindOptions, Parsed, ParseError, register
from collectors.posts import parse_published
from collectors.records import SourceConfig
from collectors.tables import BadRow, HeaderProblem, csv_rows, jsonl_rows

Platform = Literal["weibo", "douyin", "xhs", "bilibili", "kuaishou", "zhihu"]
FORMATS = ("jsonl", "csv", "json")
COMMENT_PREFIX = "c:"     # comment ids live beside post ids in one source: kept apart


@dataclass(frozen=True)
class Schema:
    """Field names of one platform's records, as MediaCrawler's store modules write them."""

    post_id: str
    title: tuple[str, ...]
    text: tuple[str, ...]
    url: str
    time: tuple[str, ...]
    likes: str
    comments: str
    shares: str
    comment_post_id: str               # a comment's field naming its post
    posts_table: str
    comments_table: str


SCHEMAS: dict[str, Schema] = {
    "weibo": Schema("note_id", (), ("content",), "note_url", ("create_time", "create_date_time"),
                    "liked_count", "comments_count", "shared_count", "note_id",
                    "weibo_note", "weibo_note_comment"),
    "douyin": Schema("aweme_id", ("title",), ("desc", "title"), "aweme_url", ("create_time",),
                     "liked_count", "comment_count", "share_count", "aweme_id",
                     "douyin_aweme", "douyin_aweme_comment"),
    "xhs": Schema("note_id", ("title",), ("desc", "title"), "note_url", ("time",),
                  "liked_count", "comment_count", "share_count", "note_id",
                  "xhs_note", "xhs_note_comment"),
    "bilibili": Schema("video_id", ("title",), ("desc", "title"), "video_url", ("create_time",),
                       "liked_count", "video_comment", "video_share_count", "video_id",
                       "bilibili_video", "bilibili_video_comment"),
    "kuaishou": Schema("video_id", ("title",), ("desc", "title"), "video_url", ("create_time",),
                       "liked_count", "comment_count", "share_count", "video_id",
                       "kuaishou_video", "kuaishou_video_comment"),
    "zhihu": Schema("content_id", ("title",), ("content_text", "desc", "title"), "content_url",
                    ("created_time",), "voteup_count", "comment_count", "share_count",
                    "content_id", "zhihu_content", "zhihu_comment"),
}
_PLATFORM_NAMES = {"weibo": "微博", "douyin": "抖音", "xhs": "小红书", "bilibili": "哔哩哔哩",
                   "kuaishou": "快手", "zhihu": "知乎"}


class MediaCrawlerOptions(KindOptions):
    platform: Platform = Field(description="which platform's output: weibo, douyin, xhs, "
                                           "bilibili, kuaishou or zhihu",
                               json_schema_extra={"fix": "add 'platform:' (weibo, douyin, xhs, "
                                                         "bilibili, kuaishou or zhihu)"})
    comments: bool = Field(True, description="also read the comments files (linked to their "
                                             "posts)")


@register
class MediaCrawler(FileKind):
    name = "mediacrawler"
    summary = ("MediaCrawler's output folder (JSON Lines, CSV, JSON) or SQLite database: "
               "posts, authors, counts and comments of Weibo, Douyin, Xiaohongshu, Bilibili, "
               "Kuaishou, Zhihu")
    url_means = ("MediaCrawler's data folder (SAVE_DATA_PATH, holding weibo/jsonl/...) or the "
                 "platform's folder in it, or its SQLite database file")
    Options = MediaCrawlerOptions
    item_noun = "record"

    def files(self, path: Path, options: Any) -> list[Path]:
        if path.is_file():
            return [path]
        if not path.is_dir():
            raise FileNotFoundError(path)
        root = path / options.platform if (path / options.platform).is_dir() else path
        kinds = ("contents", "comments") if options.comments else ("contents",)
        return sorted(file for fmt in FORMATS for kind in kinds
                      for file in (root / fmt).glob(f"*_{kind}_*.{fmt}"))

    def read(self, path: Path, source: SourceConfig) -> Parsed:
        options: MediaCrawlerOptions = self.options(source)
        schema = SCHEMAS[options.platform]
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            return _from_sqlite(path, schema, options)
        comments = "_comments_" in path.name
        parsed = Parsed()
        for where, row in _records(path):
            if isinstance(row, BadRow):
                parsed.bad.append(BadItem(where, row.problem))
                continue
            parsed.add(where, _comment(row, schema, options.platform) if comments
                       else _post(row, schema, options.platform))
        return parsed


def _records(path: Path) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
    """(where, record) of one output file; a broken record is a BadRow, not the file's end."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        if path.suffix == ".jsonl":
            for line, row in jsonl_rows(file):
                yield (f"{path.name} line {row.line if isinstance(row, BadRow) else line}", row)
        elif path.suffix == ".csv":
            try:
                _header, rows = csv_rows(file)
            except HeaderProblem as exc:
                raise ParseError(f"{path}: {exc}") from None
            for line, row in rows:
                yield (f"{path.name} line {row.line if isinstance(row, BadRow) else line}", row)
        else:
            # MediaCrawler rewrites its .json files whole: a half-written one is read next time.
            try:
                records = json.load(file)
            except ValueError as exc:
                raise ParseError(f"{path} is not complete JSON ({exc}); MediaCrawler may "
                                 "still be writing it") from None
            if not isinstance(records, list):
                raise ParseError(f"{path}: expected a JSON list of records")
            for number, record in enumerate(records, start=1):
                yield (f"{path.name} record {number}",
                       record if isinstance(record, Mapping) else BadRow(number, "not an object"))


def _from_sqlite(path: Path, schema: Schema, options: MediaCrawlerOptions) -> Parsed:
    parsed = Parsed()
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            tables = [(schema.posts_table, False)]
            if options.comments:
                tables.append((schema.comments_table, True))
            for table, comments in tables:
                exists = db.execute("select 1 from sqlite_master where type='table' and name=?",
                                    (table,)).fetchone()
                if not exists:
                    if not comments:
                        raise ParseError(f"{path}: no table {table} (is this MediaCrawler's "
                                         f"{options.platform} database?)")
                    continue
                for number, row in enumerate(db.execute(f'select * from "{table}"'), start=1):
                    record = dict(row)
                    parsed.add(f"{table} row {number}",
                               _comment(record, schema, options.platform) if comments
                               else _post(record, schema, options.platform))
    except sqlite3.DatabaseError as exc:
        raise ParseError(f"{path}: not a readable SQLite database ({exc})") from None
    return parsed


def _first(row: Mapping[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def count(value: Any) -> int | None:
    """A count as crawlers write it: 12, "12", "1.2万", "1,234", "" -> None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().replace(",", "").rstrip("+")
    scale = 1
    if text.endswith("万"):
        text, scale = text[:-1], 10_000
    elif text.endswith("亿"):
        text, scale = text[:-1], 100_000_000
    try:
        return int(float(text) * scale)
    except ValueError:
        return None


def _when(row: Mapping[str, Any], names: tuple[str, ...]):
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        published = parse_published(value)
        if published is not None:
            return published
    return None


def _post(row: Mapping[str, Any], schema: Schema, platform: str) -> Item | str:
    post_id = _first(row, (schema.post_id,))
    if not post_id:
        return f"no {schema.post_id}"
    text = _first(row, schema.text)
    title = _first(row, schema.title) if schema.title else ""
    if not text and not title:
        return "no text"
    return Item(title=title if title != text else "", body=text, url=_first(row, (schema.url,))
                or None, external_id=post_id, author=_first(row, ("nickname", "user_nickname"))
                or None, published_at=_when(row, schema.time), platform=_PLATFORM_NAMES[platform],
                likes=count(row.get(schema.likes)), comments=count(row.get(schema.comments)),
                reposts=count(row.get(schema.shares)))


def _comment(row: Mapping[str, Any], schema: Schema, platform: str) -> Item | str:
    comment_id = _first(row, ("comment_id",))
    post_id = _first(row, (schema.comment_post_id, "note_id", "content_id"))
    text = _first(row, ("content",))
    if not comment_id:
        return "no comment_id"
    if not post_id:
        return f"comment {comment_id} names no post ({schema.comment_post_id})"
    if not text:
        return f"comment {comment_id} has no content"
    replied = _first(row, ("parent_comment_id",))
    parent = f"{COMMENT_PREFIX}{replied}" if replied not in ("", "0", comment_id) else post_id
    return Item(title="", body=text, url=None, external_id=f"{COMMENT_PREFIX}{comment_id}",
                author=_first(row, ("nickname", "user_nickname")) or None,
                published_at=_when(row, ("create_time", "publish_time", "create_date_time")),
                platform=_PLATFORM_NAMES[platform], parent_id=parent, relation="comment",
                likes=count(row.get("like_count", row.get("comment_like_count"))))
