"""police_stance in the warehouse (migration 0007): stored, read back, and what the 涉警负面
series count — negative toward the police, not a negative mood."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)
SOURCE = SourceConfig(id="weibo", name="微博", kind="feed", url="http://127.0.0.1/w.xml")


def post(i: int, *, police: bool, polarity: str, stance: str | None) -> ScoredPost:
    raw = RawPost(source_id="weibo", external_id=str(i), url=None, title=f"帖子{i}", body="",
                  author=None, published_at=NOW - timedelta(minutes=i), fetched_at=NOW)
    return ScoredPost(raw=raw, text=f"帖子{i}", content_hash=f"h{i}", keywords=(),
                      police_related=police, police_terms=("警察",) if police else (),
                      sentiment=0.2 if polarity == "negative" else 0.5, polarity=polarity,
                      topics=(), rule_hits=(), high_risk=False, police_stance=stance,
                      police_stance_p=0.9 if stance else None)


def test_stance_is_stored_and_counts_as_negative_only_toward_the_police(warehouse_url) -> None:
    posts = [
        post(0, police=True, polarity="negative", stance="neutral"),    # 警察一定要严惩 这种畜生
        post(1, police=True, polarity="positive", stance="negative"),   # 哈哈，真是好警察
        post(2, police=False, polarity="negative", stance=None),        # not about the police
    ]
    wh = Warehouse(warehouse_url)
    try:
        wh.sync_sources([SOURCE])
        wh.store_fetch(wh.start_run(NOW), FetchResult(
            source_id="weibo", status=FETCH_OK, cursor=SourceCursor(),
            posts=tuple(p.raw for p in posts)), posts, NOW)
        rows = {row.title: row for row in wh.posts_since(NOW - timedelta(hours=1))}
        assert [(rows[f"帖子{i}"].police_stance, rows[f"帖子{i}"].police_stance_p)
                for i in range(3)] == [("neutral", 0.9), ("negative", 0.9), (None, None)]
        assert [rows[f"帖子{i}"].negative for i in range(3)] == [False, True, True]
        mentions = sorted(wh.mentions_since(NOW - timedelta(hours=1), NOW),
                          key=lambda m: m.content_hash)
        assert [(m.police_related, m.negative) for m in mentions] == [
            (True, False), (True, True), (False, True)]
    finally:
        wh.close()
