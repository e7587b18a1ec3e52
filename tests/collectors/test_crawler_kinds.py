"""kinds mediacrawler and weibo-crawler: their documented output files (JSON Lines, CSV, JSON,
SQLite) read as they come — posts with author, platform and counts, comments and reposts
linked to their parent, a half-written line skipped, an appended file read again without
duplicates, a new day's file picked up."""
from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from collectors import fetch
from collectors.http import PoliteClient
from collectors.records import FETCH_ERROR, FETCH_NOT_MODIFIED, FETCH_OK, SourceCursor
from collectors.sources import parse_sources

CRAWLERS = Path(__file__).resolve().parents[1] / "fixtures" / "crawlers"


def source(kind: str, path: Path, **options):
    entry = {"id": f"{kind}-src", "name": kind, "kind": kind, "url": str(path)}
    if options:
        entry["options"] = options
    return parse_sources({"sources": [entry]}, "sources.yaml")[0]


@pytest.fixture
def output(tmp_path: Path) -> Path:
    shutil.copytree(CRAWLERS, tmp_path / "crawlers")
    return tmp_path / "crawlers"


def test_mediacrawler_weibo_jsonl(output: Path, client: PoliteClient) -> None:
    result = fetch(source("mediacrawler", output / "mediacrawler", platform="weibo"),
                   SourceCursor(), client)
    assert result.status == FETCH_OK
    posts = {post.external_id: post for post in result.posts}
    assert set(posts) == {"5120000000000001", "5120000000000002", "c:5120000000100001",
                          "c:5120000000100002", "c:5120000000100003"}
    wallet = posts["5120000000000002"]
    assert wallet.author == "小王同学" and wallet.platform == "微博"
    assert (wallet.likes, wallet.comments, wallet.reposts) == (12000, 318, 96)
    assert wallet.url == "https://m.weibo.cn/detail/5120000000000002"
    assert wallet.published_at == datetime(2025, 12, 4, 2, 0, tzinfo=timezone.utc)
    assert wallet.parent_id is None and wallet.relation is None
    reply = posts["c:5120000000100002"]
    assert (reply.parent_id, reply.relation) == ("c:5120000000100001", "comment")
    assert posts["c:5120000000100001"].parent_id == "5120000000000001"
    # The half-written last line is skipped and named; MediaCrawler finishes it later.
    assert "1 bad record" in (result.error or "")

    again = fetch(source("mediacrawler", output / "mediacrawler", platform="weibo"),
                  result.cursor, client)
    assert again.status == FETCH_NOT_MODIFIED
    contents = output / "mediacrawler/weibo/jsonl/search_contents_2025-12-04.jsonl"
    with contents.open("a", encoding="utf-8") as file:
        file.write('"}\n' + json.dumps({"note_id": "5120000000000004", "content": "新的一条",
                                        "create_time": 1764817200, "nickname": "新网友"},
                                       ensure_ascii=False) + "\n")
    appended = fetch(source("mediacrawler", output / "mediacrawler", platform="weibo"),
                     again.cursor, client)
    assert [post.external_id for post in appended.posts] == ["5120000000000004"]
    tomorrow = output / "mediacrawler/weibo/jsonl/search_contents_2025-12-05.jsonl"
    tomorrow.write_text(json.dumps({"note_id": "5120000000000005", "content": "第二天"},
                                   ensure_ascii=False) + "\n", encoding="utf-8")
    next_day = fetch(source("mediacrawler", output / "mediacrawler", platform="weibo"),
                     appended.cursor, client)
    assert [post.external_id for post in next_day.posts] == ["5120000000000005"]


def test_mediacrawler_douyin_csv_and_sqlite(output: Path, client: PoliteClient) -> None:
    result = fetch(source("mediacrawler", output / "mediacrawler/douyin", platform="douyin"),
                   SourceCursor(), client)
    assert result.status == FETCH_OK and result.error is None
    posts = {post.external_id: post for post in result.posts}
    video = posts["7440000000000000001"]
    assert video.title == "辅警拦车执法视频，大家怎么看" and video.body.endswith("#江城")
    assert (video.likes, video.comments, video.reposts, video.platform) == (2301, 877, 412, "抖音")
    assert posts["c:7440000000000100001"].parent_id == "7440000000000000001"

    database = output / "douyin.db"
    with sqlite3.connect(database) as db:
        db.execute("create table douyin_aweme (aweme_id text, title text, desc text, "
                   "create_time integer, nickname text, liked_count text, comment_count text, "
                   "share_count text, aweme_url text)")
        db.execute("insert into douyin_aweme values ('744', '标题', '正文', 1764820800, 'a', "
                   "'1', '2', '3', 'https://www.douyin.com/video/744')")
        db.execute("create table douyin_aweme_comment (comment_id text, aweme_id text, "
                   "content text, create_time integer, nickname text, parent_comment_id text)")
        db.execute("insert into douyin_aweme_comment values ('9', '744', '评论', 1764820900, "
                   "'b', '0')")
    from_db = fetch(source("mediacrawler", database, platform="douyin"), SourceCursor(), client)
    assert sorted(p.external_id for p in from_db.posts) == ["744", "c:9"]
    wrong = fetch(source("mediacrawler", database, platform="xhs"), SourceCursor(), client)
    assert wrong.status == FETCH_ERROR and "no table xhs_note" in (wrong.error or "")


def test_weibo_crawler_csv_json_and_sqlite(output: Path, client: PoliteClient) -> None:
    folder = output / "weibo-crawler"
    result = fetch(source("weibo-crawler", folder), SourceCursor(), client)
    assert result.status == FETCH_OK and result.error is None
    posts = {post.external_id: post for post in result.posts}
    # CSV and JSON of the same user name the same weibos: each once.
    assert sorted(posts) == ["5120000000000001", "5121000000000001", "5121000000000002"]
    notice = posts["5121000000000001"]
    assert notice.url == "https://weibo.com/6001/Pabc001" and notice.author == "江城发布"
    assert (notice.likes, notice.comments, notice.reposts) == (520, 88, 230)
    assert notice.published_at == datetime(2025, 12, 4, 3, 0, tzinfo=timezone.utc)
    repost = posts["5121000000000002"]
    assert (repost.parent_id, repost.relation) == ("5120000000000001", "repost")
    assert posts["5120000000000001"].author == "江城路况"     # the original, from the repost

    database = folder / "weibodata.db"
    with sqlite3.connect(database) as db:
        db.executescript("""
            create table weibo (id varchar(20), bid varchar(12), user_id varchar(20),
              screen_name varchar(30), text varchar(2000), created_at datetime,
              attitudes_count int, comments_count int, reposts_count int, retweet_id varchar(20));
            create table comments (id varchar(20), bid varchar(20), weibo_id varchar(32),
              root_id varchar(20), user_id varchar(20), created_at varchar(20),
              user_screen_name varchar(64), text varchar(1000), like_count integer);
            create table reposts (id varchar(20), bid varchar(20), weibo_id varchar(32),
              user_id varchar(20), created_at varchar(20), user_screen_name varchar(64),
              text varchar(1000), like_count integer);
            insert into weibo values ('5121000000000009', 'Pabc009', '6001', '江城发布',
              '关于网传视频的情况说明', '2025-12-04 15:00:00', 900, 2, 1, null);
            insert into comments values ('c1', 'b1', '5121000000000009', 'c1', 'u1',
              '2025-12-04 15:10:00', '网友甲', '说明很及时', 10);
            insert into comments values ('c2', 'b2', '5121000000000009', 'c1', 'u2',
              '2025-12-04 15:12:00', '网友乙', '同意楼上', 1);
            insert into reposts values ('r1', 'br1', '5121000000000009', 'u3',
              '2025-12-04 15:20:00', '网友丙', '转发微博', 0);
        """)
    with_db = fetch(source("weibo-crawler", folder), result.cursor, client)
    replies = {post.external_id: post for post in with_db.posts}
    assert set(replies) == {"5121000000000009", "c:c1", "c:c2", "r:r1"}
    assert replies["c:c2"].parent_id == "c:c1" and replies["c:c1"].parent_id == "5121000000000009"
    assert (replies["r:r1"].relation, replies["r:r1"].parent_id) == ("repost", "5121000000000009")


def test_a_missing_output_folder_is_named(tmp_path: Path, client: PoliteClient) -> None:
    result = fetch(source("weibo-crawler", tmp_path / "nowhere"), SourceCursor(), client)
    assert result.status == FETCH_ERROR and result.failure == "hard"
    assert "not found" in (result.error or "")
