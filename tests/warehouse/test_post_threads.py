"""Post threads in the warehouse: comments and reposts linked to their parent whichever is
stored first, counts and platform kept, nothing stored twice when a crawler's files are read
again — on SQLite and PostgreSQL, from MediaCrawler's recorded output through the real kind."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from collectors import fetch
from collectors.http import PoliteClient
from collectors.records import FETCH_OK, FetchResult, SourceCursor
from collectors.sources import parse_sources
from transforms.records import ScoredPost
from warehouse.models import Post
from warehouse.store import Warehouse

CRAWLERS = Path(__file__).resolve().parents[1] / "fixtures" / "crawlers"


def scored(result: FetchResult) -> list[ScoredPost]:
    return [ScoredPost(raw=raw, text=raw.body, content_hash=raw.external_id, keywords=(),
                       police_related=False, police_terms=(), sentiment=0.5,
                       polarity="neutral", topics=(), rule_hits=(), high_risk=False)
            for raw in result.posts]


def store(wh: Warehouse, result: FetchResult) -> int:
    run = wh.start_run(result.posts[0].fetched_at if result.posts else None)
    return wh.store_fetch(run, result, scored(result), result.posts[0].fetched_at)


@pytest.fixture
def output(tmp_path: Path) -> Path:
    shutil.copytree(CRAWLERS / "mediacrawler", tmp_path / "mc")
    return tmp_path / "mc"


def test_comments_before_posts_are_linked_once_both_are_stored(
        warehouse_url: str, output: Path) -> None:
    (source,) = parse_sources({"sources": [{
        "id": "mc-weibo", "name": "MediaCrawler 微博", "kind": "mediacrawler",
        "url": str(output), "options": {"platform": "weibo"}}]}, "sources.yaml")
    contents = output / "weibo/jsonl/search_contents_2025-12-04.jsonl"
    held = contents.read_bytes()
    contents.unlink()                                   # the crawler wrote comments first
    wh = Warehouse(warehouse_url)
    wh.sync_sources([source])
    with PoliteClient() as client:
        comments = fetch(source, SourceCursor(), client)
        assert comments.status == FETCH_OK and store(wh, comments) == 3
        contents.write_bytes(held)
        posts = fetch(source, comments.cursor, client)
        assert store(wh, posts) == 2
        # Read again from scratch (a lost cursor): nothing stored twice.
        again = fetch(source, SourceCursor(), client)
        assert store(wh, again) == 0
    with wh.engine.connect() as conn:
        rows = {r.external_id: r for r in conn.execute(select(Post))}
    ids = {external: row.id for external, row in rows.items()}
    assert len(rows) == 5
    assert rows["c:5120000000100001"].parent_id == ids["5120000000000001"]
    assert rows["c:5120000000100002"].parent_id == ids["c:5120000000100001"]
    assert rows["c:5120000000100003"].parent_id == ids["5120000000000002"]
    assert rows["c:5120000000100003"].relation == "comment"
    wallet = rows["5120000000000002"]
    assert (wallet.platform, wallet.likes, wallet.comments, wallet.reposts) == \
        ("微博", 12000, 318, 96)
    assert wallet.parent_id is None and wallet.relation is None
    wh.close()


def test_story_spread_counts_threads(warehouse_url: str, output: Path) -> None:
    from warehouse.spread import story_spread

    (source,) = parse_sources({"sources": [{
        "id": "mc-weibo", "name": "MediaCrawler 微博", "kind": "mediacrawler",
        "url": str(output), "options": {"platform": "weibo"}}]}, "sources.yaml")
    wh = Warehouse(warehouse_url)
    wh.sync_sources([source])
    with PoliteClient() as client:
        store(wh, fetch(source, SourceCursor(), client))
    with wh.engine.connect() as conn:
        rows = {r.external_id: r for r in conn.execute(select(Post))}
    accident = rows["5120000000000001"]
    spread = story_spread(wh.engine, accident.story_id)
    assert spread is not None and spread.first.id == accident.id
    assert spread.first.author == "江城路况" and spread.first.platform == "微博"
    # Its two comments (one a reply to the other) are its thread.
    thread = {rows["c:5120000000100001"].id, rows["c:5120000000100002"].id}
    in_story = {r.id for r in rows.values() if r.story_id == accident.story_id}
    assert spread.thread_posts == len(thread - in_story)
    assert spread.most_spread[0].id == accident.id
    assert (spread.most_spread[0].comments, spread.most_spread[0].reposts) == (12, 4)
    assert sum(b.total for b in spread.curve) == spread.posts + spread.thread_posts
    assert dict(spread.platforms) == {"微博": spread.posts + spread.thread_posts}
    assert story_spread(wh.engine, 10**9) is None
    wh.close()
