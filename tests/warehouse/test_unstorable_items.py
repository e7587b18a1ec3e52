"""One item the database cannot store costs only itself (issue 10): the source's other posts are
stored in the same fetch, and source health names the refused item and why. On real SQLite and
PostgreSQL; the items come straight to the warehouse, as from a collector that let them through
(a NUL, which PostgreSQL refuses in text, and a lone surrogate, which no UTF-8 database takes)."""
from __future__ import annotations

from datetime import datetime, timezone

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.store import Warehouse

T0 = datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc)


def _scored(n: int, title: str) -> ScoredPost:
    raw = RawPost(source_id="forum", external_id=f"p{n}", url=f"https://bbs.example/{n}",
                  title=title, body="正文", author="网友", published_at=T0, fetched_at=T0)
    return ScoredPost(raw=raw, text=f"{title} 正文", content_hash=f"hash-{n}",
                      keywords=("民警",), police_related=True, police_terms=("民警",),
                      sentiment=0.2, polarity="negative", topics=("police",), rule_hits=(),
                      high_risk=False)


def test_an_unstorable_item_costs_only_itself(warehouse_url):
    posts = [_scored(1, "民警救助老人"), _scored(2, "派出所\ud800开放日"),
             _scored(3, "交警执勤"), _scored(4, "辅警\x00巡逻"), _scored(5, "特警演练")]
    wh = Warehouse(warehouse_url)
    try:
        wh.sync_sources([SourceConfig(id="forum", name="江城论坛", kind="feed",
                                      url="http://127.0.0.1/rss")])
        run = wh.start_run(T0)
        result = FetchResult("forum", FETCH_OK, SourceCursor(), posts=tuple(p.raw for p in posts))
        stored = wh.store_fetch(run, result, posts, T0)
        titles = sorted(p.title for p in wh.posts_since(datetime(2000, 1, 1,
                                                                 tzinfo=timezone.utc)))
        again = wh.store_fetch(wh.start_run(T0), result, posts, T0)   # next cycle: no crash
    finally:
        wh.close()
    postgres = warehouse_url.startswith("postgresql")
    assert "民警救助老人" in titles and "交警执勤" in titles and "特警演练" in titles
    assert not any("\ud800" in t for t in titles)
    assert ("辅警\x00巡逻" in titles) is (not postgres)        # SQLite stores a NUL
    assert stored == len(titles) == (3 if postgres else 4)
    assert again == 0
    error = _last_error(warehouse_url)
    assert "not stored" in error and "p2" in error
    assert ("p4" in error) is postgres
    assert len(error) < 1000


def _last_error(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select last_error from sources where id = 'forum'")
                                ).scalar_one() or ""
    finally:
        engine.dispose()
