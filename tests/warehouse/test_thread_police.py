"""Comment threads count toward surges and stance: a comment or repost in a police-related
thread is police-related in the warehouse (posts and post_topics), whichever is stored first,
down the thread; its stance decides whether it is negative; a burst of comments under one
police video is a 涉警 surge — on SQLite and PostgreSQL. A thread about something else stays
out and loses the stance read in case it was not, and rescoring keeps what the thread gave."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from alerts.detection.surges import POLICE_NEGATIVE, POLICE_VOLUME, find_surges
from alerts.settings import load_alert_settings
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.models import Post, PostTopic
from warehouse.rescoring import rescore_posts
from warehouse.store import Warehouse

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)
SOURCE = SourceConfig(id="mc-weibo", name="MediaCrawler 微博", kind="mediacrawler",
                      url="/data/mc")


def scored(external: str, minutes_ago: int, *, police: bool, stance: str | None,
           parent: str | None = None, text: str | None = None) -> ScoredPost:
    at = NOW - timedelta(minutes=minutes_ago)
    text = text or f"帖子{external}"
    raw = RawPost(source_id="mc-weibo", external_id=external, url=None, title="", body=text,
                  author=None, published_at=at, fetched_at=at, parent_id=parent,
                  relation="comment" if parent else None)
    return ScoredPost(raw=raw, text=text, content_hash=f"h-{external}", keywords=(),
                      police_related=police, police_terms=("交警",) if police else (),
                      sentiment=0.2, polarity="negative", topics=("police.misconduct",),
                      rule_hits=(), high_risk=False, police_stance=stance,
                      police_stance_p=0.8 if stance else None)


def store(wh: Warehouse, posts: list[ScoredPost]) -> None:
    wh.store_fetch(wh.start_run(NOW), FetchResult(
        source_id="mc-weibo", status=FETCH_OK, cursor=SourceCursor(),
        posts=tuple(p.raw for p in posts)), posts, NOW)


def police_flags(wh: Warehouse) -> dict[str, tuple[bool, set[bool]]]:
    with wh.engine.connect() as conn:
        posts = dict(conn.execute(select(Post.external_id, Post.police_related)).all())
        bridge: dict[str, set[bool]] = {}
        for external, flag in conn.execute(select(Post.external_id, PostTopic.police_related)
                                           .join(PostTopic, PostTopic.post_id == Post.id)):
            bridge.setdefault(external, set()).add(bool(flag))
    return {k: (bool(v), bridge.get(k, set())) for k, v in posts.items()}


def stances(wh: Warehouse) -> dict[str, tuple[str | None, float | None]]:
    with wh.engine.connect() as conn:
        return {external: (stance, p) for external, stance, p in conn.execute(
            select(Post.external_id, Post.police_stance, Post.police_stance_p))}


def test_comment_threads_count_toward_surges_and_stance(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    try:
        wh.sync_sources([SOURCE])
        # The crawler wrote the comments first: 24 under the video, replies to one of them,
        # none naming the police; and a thread under a post about the weather.
        comments = [scored(f"c{n}", 50 - 2 * n, police=False,
                           stance="negative" if n % 3 else "neutral", parent="video")
                    for n in range(24)]
        replies = [scored("r1", 3, police=False, stance="negative", parent="c0"),
                   scored("r2", 2, police=False, stance="negative", parent="r1")]
        weather = [scored("w", 55, police=False, stance=None),
                   scored("wc", 54, police=False, stance="neutral", parent="w"),
                   scored("wr", 53, police=False, stance="negative", parent="wc")]
        # A thread whose post comes later and is not about the police either.
        market = [scored("mc", 40, police=False, stance="negative", parent="m"),
                  scored("mr", 39, police=False, stance="negative", parent="mc")]
        store(wh, comments + replies + weather + market)
        assert not any(police for police, _ in police_flags(wh).values())
        # Not about the police: the stance read in case it was is dropped; waiting: kept.
        assert stances(wh)["wc"] == stances(wh)["wr"] == (None, None)
        assert stances(wh)["mc"] == stances(wh)["mr"] == ("negative", 0.8)
        assert stances(wh)["r2"] == ("negative", 0.8)          # waits for its video too
        store(wh, [scored("video", 52, police=True, stance="negative"),   # then the video
                   scored("m", 41, police=False, stance=None)])             # and the market
        assert stances(wh)["mc"] == stances(wh)["mr"] == (None, None)

        flags = police_flags(wh)
        for name in [f"c{n}" for n in range(24)] + ["r1", "r2"]:
            assert flags[name] == (True, {True}), name        # posts and the topic bridge
        assert flags["w"] == flags["wc"] == flags["mc"] == (False, {False})

        mentions = {m.content_hash: m for m in wh.mentions_since(NOW - timedelta(hours=2), NOW)}
        assert mentions["h-c1"].police_related and mentions["h-c1"].negative
        assert mentions["h-c0"].police_related and not mentions["h-c0"].negative   # neutral
        assert not mentions["h-wc"].police_related

        settings = load_alert_settings().spike
        surges = find_surges(list(mentions.values()), wh.mentions_since, settings, NOW,
                             coverage_start=lambda: NOW - timedelta(days=10))
        volume, negative = surges[(POLICE_VOLUME, None)], surges[(POLICE_NEGATIVE, None)]
        assert volume.count == 1 + 24 + 2                      # the video and its thread
        assert negative.count == 1 + 16 + 2                    # c0, c3 … c21 are neutral

        # Rescoring reads the comments' own words again: the thread still counts.
        report = rescore_posts(wh, lambda raws, texts: [
            scored(r.external_id, int((NOW - r.fetched_at).total_seconds() // 60),
                   police=r.external_id == "video",
                   stance="negative" if r.parent_id or r.external_id == "video" else None,
                   parent=r.parent_id)
            for r in raws])
        flags = police_flags(wh)
        assert flags["r2"] == (True, {True}) and flags["wc"] == (False, {False})
        assert report.posts == 33
        assert stances(wh)["r2"] == ("negative", 0.8) and stances(wh)["wc"] == (None, None)
    finally:
        wh.close()
