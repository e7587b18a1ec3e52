"""A comment or repost is read for its stance toward the police even when its own words name
no police: its thread may be about them (the warehouse decides, warehouse.store.police_threads).
A post of its own with the same words is not."""
from __future__ import annotations

from datetime import datetime, timezone

from collectors.records import RawPost

AT = datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc)


def raw(external: str, text: str, parent: str | None = None) -> RawPost:
    return RawPost(source_id="mc-weibo", external_id=external, url=None, title="", body=text,
                   author=None, published_at=AT, fetched_at=AT, parent_id=parent,
                   relation="comment" if parent else None)


def test_comments_get_a_stance_without_police_words(scorer):
    video, comment, alone = scorer.score_many([
        raw("p1", "网传视频：交警在路口把骑车老人推倒在地"),
        raw("c1", "太过分了，打人还有理了？必须严惩", parent="p1"),
        raw("x1", "太过分了，打人还有理了？必须严惩"),
    ])
    assert video.police_related and video.police_stance is not None
    # Its own words name no police: not police-related by itself, but its stance is read.
    assert comment.police_terms == () and not comment.police_related
    assert comment.police_stance in ("negative", "neutral", "positive")
    assert 0.0 < comment.police_stance_p <= 1.0
    # The same words posted on their own: no stance toward the police.
    assert alone.police_stance is None and alone.police_stance_p is None
