"""Events in the warehouse (real SQLite and PostgreSQL): differently worded posts about one
happening join one event across cycles, with why; a neighbouring district's happening stays
apart; the official account's post marks the event; `jingyu events` lists and explains."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from flows.cli import main
from transforms.records import ScoredPost
from transforms.stories import fingerprint
from warehouse.events import EventStore, rebuild_events
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
SOURCES = [
    SourceConfig(id="police", name="青川公安", kind="feed", url="http://127.0.0.1/p.xml",
                 tags=("official",), jurisdiction="qingchuan"),
    SourceConfig(id="weibo", name="微博关键词", kind="feed", url="http://127.0.0.1/w.xml",
                 tags=("weibo",), jurisdiction="qingchuan"),
]
LJ = "qingchuan.linjiang"
BH = "qingchuan.beihu"
# (text, keywords, place): the night market in 临江, told in different words.
MARKET = [
    ("滨河路夜市出事了，辅警跟摊主吵起来直接推人", ["滨河路", "夜市", "辅警", "摊主", "推人"], LJ),
    ("刚路过滨河路，听说辅警把摆摊阿姨推倒了", ["滨河路", "辅警", "阿姨", "推倒", "摆摊"], LJ),
    ("夜市摊主被推，阿姨倒地，临江辅警太过分", ["夜市", "摊主", "阿姨", "辅警", "过分"], None),
    ("视频传遍了，滨河路夜市推人的辅警什么时候处理", ["视频", "滨河路", "夜市", "推人", "辅警"], LJ),
]
STATEMENT = ("警情通报：关于滨河路夜市一起执法纠纷的情况", ["通报", "滨河路", "夜市", "辅警", "纠纷"], LJ)
# 北湖: a crash, some words in common with the beat, another district.
CRASH = [
    ("北湖大道两车相撞一人受伤，交警到场", ["北湖大道", "相撞", "受伤", "交警", "两车"], BH),
    ("湖滨大道车祸，两车相撞堵了半小时", ["湖滨大道", "车祸", "相撞", "两车", "堵车"], BH),
    ("北湖大道相撞事故，伤者已送医，交警调查", ["北湖大道", "相撞", "事故", "送医", "交警"], BH),
]


def scored(source_id: str, n: int, item: tuple[str, list[str], str | None],
           seen: datetime) -> ScoredPost:
    text, keywords, place = item
    raw = RawPost(source_id=source_id, external_id=f"{source_id}{n}", url=None, title="",
                  body=text, author=None, published_at=seen, fetched_at=seen)
    return ScoredPost(raw=raw, text=text, content_hash=f"{source_id}{n}",
                      keywords=tuple(keywords), police_related=True, police_terms=("辅警",),
                      sentiment=0.2, polarity="negative", topics=(), rule_hits=(),
                      high_risk=False, places=(place,) if place else (),
                      story_keys=fingerprint(text))


def store(wh: Warehouse, source_id: str, posts: list[ScoredPost], now: datetime) -> None:
    result = FetchResult(source_id=source_id, status=FETCH_OK,
                         cursor=SourceCursor(seen_ids=tuple(p.raw.external_id for p in posts)),
                         posts=tuple(p.raw for p in posts), http_status=200)
    wh.store_fetch(wh.start_run(now), result, posts, now)


@pytest.fixture
def wh(warehouse_url: str):
    warehouse = Warehouse(warehouse_url)
    warehouse.sync_sources(SOURCES)
    yield warehouse
    warehouse.close()


def load_scenario(wh: Warehouse) -> None:
    t0 = NOW - timedelta(hours=2)
    # Two cycles of the market and the crash interleaved, then the statement.
    store(wh, "weibo", [scored("weibo", i, item, t0 + timedelta(minutes=5 * i))
                        for i, item in enumerate(MARKET[:2] + CRASH[:2])], t0 + timedelta(minutes=20))
    store(wh, "weibo", [scored("weibo", 10 + i, item, t0 + timedelta(minutes=30 + 5 * i))
                        for i, item in enumerate(MARKET[2:] + CRASH[2:])], t0 + timedelta(minutes=50))
    store(wh, "police", [scored("police", 1, STATEMENT, t0 + timedelta(minutes=70))],
          t0 + timedelta(minutes=75))


def groups(wh: Warehouse) -> dict[str, int]:
    return {p.source_id + p.text[:6]: p.event_id
            for p in wh.posts_since(NOW - timedelta(days=1), NOW)}


def test_one_event_per_happening_with_reasons(wh: Warehouse) -> None:
    load_scenario(wh)
    posts = wh.posts_since(NOW - timedelta(days=1), NOW)
    market = {p.event_id for p in posts if "辅警" in p.text or "夜市" in p.text}
    crash = {p.event_id for p in posts if "相撞" in p.text or "车祸" in p.text}
    assert len(market) == 1 and len(crash) == 1 and market != crash
    store_ = EventStore(wh)
    event, links = store_.event(market.pop(), NOW)
    assert event.size == 5 and event.jurisdiction == LJ
    assert event.has_official_post and event.official_first_at == NOW - timedelta(minutes=50)
    assert set(event.sources) == {"police", "weibo"} and "official" in event.platforms
    assert event.last_hour == 1 and event.before == 4 and not event.growing
    assert links[0].reason == "new"
    joined = [link for link in links if link.reason == "terms"]
    assert joined and all(len(link.shared) >= 1 and link.score > 0 for link in joined)
    # The index stays consistent when grouping is redone.
    before = groups(wh)
    rebuild_events(wh)
    after = groups(wh)
    assert len(set(before.values())) == len(set(after.values()))
    assert [before[k] == before[j] for k in before for j in before] == \
        [after[k] == after[j] for k in after for j in after]


def test_cli_lists_and_explains(wh: Warehouse, warehouse_url: str, capsys) -> None:
    load_scenario(wh)
    assert main(["events", "--database", warehouse_url, "--since", "2026-11-25"]) == 0
    listing = capsys.readouterr().out
    assert "qingchuan.linjiang" in listing and "qingchuan.beihu" in listing
    market = next(p.event_id for p in wh.posts_since(NOW - timedelta(days=1), NOW)
                  if "夜市" in p.text)
    assert main(["events", "show", str(market), "--database", warehouse_url]) == 0
    shown = capsys.readouterr().out
    assert "opened the event" in shown and "shares" in shown and "警情通报" in shown
    assert main(["events", "show", "999999", "--database", warehouse_url]) == 1


def test_top_events_query_ranks_events_with_their_stories(wh: Warehouse) -> None:
    from warehouse.queries import QueryParams, run_query

    load_scenario(wh)
    result = run_query(wh.engine, "top_events",
                       QueryParams(since=NOW - timedelta(hours=6), until=NOW, limit=5))
    rows = result.records()
    assert [r["posts"] for r in rows] == [5, 3]
    market, crash = rows
    assert market["jurisdiction"] == LJ and market["stories"] == 5 and market["sources"] == 2
    assert market["official_at"] and crash["official_at"] in (None, "")
    assert market["growth"] == 5 and market["posts_before"] == 0
    assert "警情通报" in market["title"]
    # Filters apply to the posts counted: the crash's district alone.
    only = run_query(wh.engine, "top_events", QueryParams(
        since=NOW - timedelta(hours=6), until=NOW, jurisdiction=BH)).records()
    assert [r["event_id"] for r in only] == [crash["event_id"]]
