"""kind: weibo-crawler — what dataabc's weibo-crawler writes, read as it comes: its per-user
CSV (`<output>/<user>/<user_id>.csv`, Chinese headers) and JSON (`<user_id>.json`: user and
weibo list) files and its SQLite database (`weibodata.db`: weibo, comments, reposts tables):
posts with author and counts, reposts linked to the original, comments to their post."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from collectors.kinds import FileKind, Item, KindOptions, Parsed, ParseError, register
from collectors.mediacrawler import COMMENT_PREFIX, count
from collectors.posts import parse_published
from collectors.records import SourceConfig
from collectors.tables import BadRow, HeaderProblem, csv_rows

PLATFORM = "微博"
REPOST_PREFIX = "r:"          # entries of the reposts table (not posts of the crawled users)
# The CSV's Chinese headers -> the JSON / SQLite field names.
CSV_HEADERS = {"id": "id", "bid": "bid", "正文": "text", "日期": "created_at",
               "发布时间": "created_at", "点赞数": "attitudes_count", "评论数": "comments_count",
               "转发数": "reposts_count", "源微博id": "retweet_id", "源用户昵称": "retweet_screen_name",
               "用户昵称": "screen_name", "user_id": "user_id", "screen_name": "screen_name"}
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


class WeiboCrawlerOptions(KindOptions):
    comments: bool = Field(True, description="also read the comments and reposts tables of "
                                             "the SQLite database (linked to their weibo)")


@register
class WeiboCrawler(FileKind):
    name = "weibo-crawler"
    summary = ("weibo-crawler's output folder (per-user CSV and JSON) or its SQLite database: "
               "weibos with author and counts, reposts and comments linked")
    url_means = "weibo-crawler's output folder (output_directory, e.g. weibo/) or weibodata.db"
    Options = WeiboCrawlerOptions
    item_noun = "record"

    def files(self, path: Path, options: Any) -> list[Path]:
        if path.is_file():
            return [path]
        if not path.is_dir():
            raise FileNotFoundError(path)
        return sorted(file for pattern in ("*/*.csv", "*/*.json", "*.db")
                      for file in path.glob(pattern)
                      if not file.name.startswith("comments_"))

    def read(self, path: Path, source: SourceConfig) -> Parsed:
        options: WeiboCrawlerOptions = self.options(source)
        if path.suffix in SQLITE_SUFFIXES:
            return _from_sqlite(path, options.comments)
        parsed = Parsed()
        records = _csv_records(path) if path.suffix == ".csv" else _json_records(path)
        for where, record in records:
            parsed.add(where, _weibo(record) if not isinstance(record, BadRow) else record.problem)
        return parsed


def _csv_records(path: Path) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        try:
            _header, rows = csv_rows(file)
        except HeaderProblem as exc:
            raise ParseError(f"{path}: {exc}") from None
        for line, row in rows:
            if isinstance(row, BadRow):
                yield f"{path.name} line {row.line}", row
                continue
            record = {CSV_HEADERS[key]: value for key, value in row.items() if key in CSV_HEADERS}
            # The file is the user's: <output>/<nickname or id>/<user_id>.csv
            if path.stem.isdigit():
                record.setdefault("user_id", path.stem)
            if not path.parent.name.isdigit():
                record.setdefault("screen_name", path.parent.name)
            # Without 是否原创 = False the 源微博 columns are not a repost's.
            if str(row.get("是否原创", "")).strip().lower() not in ("false", "0", "否"):
                record.pop("retweet_id", None)
            yield f"{path.name} line {line}", record


def _json_records(path: Path) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise ParseError(f"{path} is not complete JSON ({exc}); weibo-crawler may still be "
                         "writing it") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("weibo"), list):
        raise ParseError(f"{path}: expected weibo-crawler's {{\"user\": …, \"weibo\": […]}}")
    user = document.get("user") if isinstance(document.get("user"), Mapping) else {}
    for number, weibo in enumerate(document["weibo"], start=1):
        where = f"{path.name} weibo {number}"
        if not isinstance(weibo, Mapping):
            yield where, BadRow(number, "not an object")
            continue
        record = dict(weibo)
        record.setdefault("screen_name", user.get("screen_name"))
        retweet = weibo.get("retweet")
        if isinstance(retweet, Mapping) and retweet.get("id"):
            record["retweet_id"] = retweet["id"]
            # The original is a post too: its first sight may be this repost.
            yield f"{where} (original)", {**retweet}
        yield where, record


def _from_sqlite(path: Path, comments: bool) -> Parsed:
    parsed = Parsed()
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            tables = {row[0] for row in db.execute("select name from sqlite_master "
                                                   "where type='table'")}
            if "weibo" not in tables:
                raise ParseError(f"{path}: no table weibo (is this weibo-crawler's database?)")
            for number, row in enumerate(db.execute("select * from weibo"), start=1):
                parsed.add(f"weibo row {number}", _weibo(dict(row)))
            if comments and "comments" in tables:
                for number, row in enumerate(db.execute("select * from comments"), start=1):
                    parsed.add(f"comments row {number}", _reply(dict(row), COMMENT_PREFIX,
                                                                   "comment"))
            if comments and "reposts" in tables:
                for number, row in enumerate(db.execute("select * from reposts"), start=1):
                    parsed.add(f"reposts row {number}", _reply(dict(row), REPOST_PREFIX,
                                                                  "repost"))
    except sqlite3.DatabaseError as exc:
        raise ParseError(f"{path}: not a readable SQLite database ({exc})") from None
    return parsed


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _weibo(record: Mapping[str, Any]) -> Item | str:
    weibo_id = _text(record.get("id"))
    text = _text(record.get("text"))
    if not weibo_id:
        return "no id"
    if not text:
        return f"weibo {weibo_id} has no text"
    bid, user_id = _text(record.get("bid")), _text(record.get("user_id"))
    url = f"https://weibo.com/{user_id}/{bid}" if bid and user_id else \
        f"https://m.weibo.cn/detail/{weibo_id}"
    retweet = _text(record.get("retweet_id"))
    return Item(title="", body=text, url=url, external_id=weibo_id,
                author=_text(record.get("screen_name")) or None,
                published_at=parse_published(_text(record.get("created_at")) or None),
                platform=PLATFORM, parent_id=retweet or None,
                relation="repost" if retweet else None,
                likes=count(record.get("attitudes_count")),
                comments=count(record.get("comments_count")),
                reposts=count(record.get("reposts_count")))


def _reply(record: Mapping[str, Any], prefix: str, relation: str) -> Item | str:
    reply_id, weibo_id = _text(record.get("id")), _text(record.get("weibo_id"))
    text = _text(record.get("text"))
    if not reply_id or not weibo_id:
        return f"{relation} without id or weibo_id"
    if not text:
        return f"{relation} {reply_id} has no text"
    root = _text(record.get("root_id"))
    parent = f"{prefix}{root}" if relation == "comment" and root not in ("", reply_id) \
        else weibo_id
    return Item(title="", body=text, url=None, external_id=f"{prefix}{reply_id}",
                author=_text(record.get("user_screen_name")) or None,
                published_at=parse_published(_text(record.get("created_at")) or None),
                platform=PLATFORM, parent_id=parent, relation=relation,
                likes=count(record.get("like_count")))
