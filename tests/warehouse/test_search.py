"""Search (warehouse.search, `jingyu search`): substrings of titles and texts, AND/OR/NOT,
filters, ranking and links to stories and incidents, on real SQLite files and PostgreSQL."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from alerts.incidents.incident import IncidentOpening, take_alert
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from transforms.rules import AllOf, AnyOf, Not, Term, compile_expression
from transforms.stories import fingerprint
from warehouse.db import _alembic_config
from warehouse.incidents import IncidentStore
from warehouse.models import Post, Run, Source
from warehouse.queries import archive_posts
from warehouse.search import SearchError, SearchQuery, search
from warehouse.store import Warehouse

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
SOURCES = [SourceConfig(id="lj_news", name="临江新闻", kind="feed", url="http://127.0.0.1/n",
                        jurisdiction="qingchuan.linjiang"),
           SourceConfig(id="bh_forum", name="北湖论坛", kind="feed", url="http://127.0.0.1/f",
                        jurisdiction="qingchuan.beihu")]


def _scored(source: str, n: int, title: str, body: str, at: datetime, *,
            topics: tuple[str, ...] = (), polarity: str = "neutral",
            content_hash: str | None = None, story: str | None = None) -> ScoredPost:
    raw = RawPost(source_id=source, external_id=f"{source}-{n}", url=f"https://ex.org/{n}",
                  title=title, body=body, author=None, published_at=at, fetched_at=at)
    return ScoredPost(raw=raw, text=body, content_hash=content_hash or f"h{source}{n}",
                      keywords=(), police_related=True, police_terms=(), sentiment=0.5,
                      polarity=polarity, topics=topics, rule_hits=(), high_risk=False,
                      story_keys=fingerprint(story or f"{title} {body} {n}"))


def _store(warehouse: Warehouse, posts: list[ScoredPost]) -> None:
    run = warehouse.start_run(T0)
    for source in SOURCES:
        mine = [p for p in posts if p.raw.source_id == source.id]
        warehouse.store_fetch(run, FetchResult(source_id=source.id, status=FETCH_OK,
                                               cursor=SourceCursor(),
                                               posts=tuple(p.raw for p in mine)), mine, T0)
    warehouse.finish_run(run, T0, alerts_new=0, notifications_sent=0, errors=[])


STORY_TEXT = "滨河路夜市一名辅警推搡摊主的视频在网上流传，现场多人围观"
CORPUS = [
    ("lj_news", "滨河路辅警推搡摊主", STORY_TEXT, 0, ("police.enforcement_dispute",), "negative"),
    ("lj_news", "转发", "转发：" + STORY_TEXT + "，求真相", 1, ("police.enforcement_dispute",),
     "negative"),
    ("bh_forum", "北湖交警查酒驾", "北湖交警夜查酒驾，两名司机被查处", 2, ("police.traffic",),
     "neutral"),
    ("bh_forum", "袭警演练", "北湖派出所开展防范袭警演练", 3, ("police.assault",), "neutral"),
    ("lj_news", "男子袭警被刑拘", "临江一男子酒后袭警，已被刑事拘留", 4, ("police.assault",),
     "negative"),
    ("lj_news", "iPhone 丢失", "市民的 iPhone 在公交车上丢失，民警帮忙找回", 5,
     ("police.service",), "positive"),
    ("bh_forum", "100%好评", "这家店100%好评，老板人很好", 6, (), "positive"),
    ("bh_forum", "优惠", "全场1000折扣_限时", 7, (), "neutral"),
]


@pytest.fixture
def warehouse(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    warehouse.sync_sources(SOURCES)
    posts = [_scored(source, n, title, body, T0 + timedelta(hours=n), topics=topics,
                     polarity=polarity, content_hash="story-hash" if n == 0 else None,
                     story=STORY_TEXT if n < 2 else None)
             for source, title, body, n, topics, polarity in CORPUS]
    _store(warehouse, posts)
    yield warehouse
    warehouse.close()


def _numbers(warehouse: Warehouse, words: str, **options) -> list[int]:
    """The CORPUS numbers (external id suffix) of the hits, in hit order."""
    result = search(warehouse.engine, SearchQuery(text=words, **options))
    with warehouse.engine.connect() as conn:
        numbers = dict(conn.execute(text("SELECT id, external_id FROM posts")).all())
    return [int(numbers[h.post_id].rsplit("-", 1)[1]) for h in result.hits]


def test_words_side_by_side_must_all_occur(warehouse):
    assert _numbers(warehouse, "滨河路 辅警") == [1, 0]          # newest first
    assert _numbers(warehouse, "滨河路 AND 辅警 AND 求真相") == [1]
    assert _numbers(warehouse, "辅警 交警") == []


def test_or_not_brackets_and_phrases(warehouse):
    assert _numbers(warehouse, "袭警 NOT 演练") == [4]
    assert _numbers(warehouse, "(交警 OR 辅警) NOT 转发") == [2, 0]
    assert _numbers(warehouse, '"查酒驾" OR "刑事拘留"') == [4, 2]
    assert _numbers(warehouse, "（交警 OR 辅警） NOT 转发") == [2, 0]   # full-width brackets


def test_substrings_single_characters_and_case(warehouse):
    assert _numbers(warehouse, "警") == [5, 4, 3, 2, 1, 0]
    assert _numbers(warehouse, "IPHONE") == [5]
    assert _numbers(warehouse, "北湖交警") == [2]


def test_special_characters_are_literal(warehouse):
    assert _numbers(warehouse, '"100%"') == [6]
    assert _numbers(warehouse, '"0%"') == [6]               # not "anything then %"
    assert _numbers(warehouse, "折扣_限时") == [7]
    assert _numbers(warehouse, "扣_") == [7]
    assert _numbers(warehouse, "'; DROP TABLE posts; --") == []
    assert _numbers(warehouse, '"a""b"') == []
    assert _numbers(warehouse, "警") != []                  # the table is still there


def test_filters(warehouse):
    assert _numbers(warehouse, "警", jurisdiction="qingchuan.beihu") == [3, 2]
    assert _numbers(warehouse, "警", jurisdiction="qingchuan") == [5, 4, 3, 2, 1, 0]
    assert _numbers(warehouse, "警", source="lj_news") == [5, 4, 1, 0]
    assert _numbers(warehouse, "警", topic="police.assault") == [4, 3]
    assert _numbers(warehouse, "警", polarity="negative") == [4, 1, 0]
    assert _numbers(warehouse, "警", since=T0 + timedelta(hours=2),
                    until=T0 + timedelta(hours=4)) == [3, 2]


def test_relevance_and_paging(warehouse):
    # both hold 袭警 in title and text; the shorter text ranks first, unlike by time
    assert _numbers(warehouse, "袭警") == [4, 3]
    assert _numbers(warehouse, "袭警", order="relevance") == [3, 4]
    assert _numbers(warehouse, "北湖", order="relevance") == [2, 3]   # title hit first
    result = search(warehouse.engine, SearchQuery(text="袭警", order="relevance"))
    assert result.hits[0].score >= result.hits[1].score > 0
    page = search(warehouse.engine, SearchQuery(text="警", limit=2, offset=2))
    assert page.total == 6 and not page.total_capped and len(page.hits) == 2
    everything = search(warehouse.engine, SearchQuery(text="警"))
    assert [h.post_id for h in page.hits] == [h.post_id for h in everything.hits[2:4]]


def test_hits_carry_links_snippet_and_names(warehouse):
    [hit] = search(warehouse.engine, SearchQuery(text="求真相")).hits
    assert hit.source_name == "临江新闻" and hit.url == "https://ex.org/1"
    assert "求真相" in hit.snippet and hit.text.endswith("求真相")
    assert hit.story_id is not None
    assert hit.topics == ("police.enforcement_dispute",)


def test_hits_link_to_incidents_through_text_or_story(warehouse):
    opening = IncidentOpening(
        fingerprint="story:x", kind="sensitive", level=3, title="滨河路辅警", jurisdiction=None,
        topics=(), terms=(), content_hashes=("story-hash",), sensitive=True,
        detected_at=T0 + timedelta(hours=1), track_units={}, notified=False, detail={})
    alert, _, _ = IncidentStore(warehouse).record(
        _alert(), lambda _a, _v: [],
        lambda stored, first, current: take_alert(current, stored.alert_id, opening, first, True))
    hits = search(warehouse.engine, SearchQuery(text="滨河路")).hits
    # post 0 carries the incident's hash; post 1 (a repost with a comment) shares its story
    assert [h.incident_ids for h in hits] == [(alert.alert_id,), (alert.alert_id,)]
    assert search(warehouse.engine, SearchQuery(text="交警")).hits[0].incident_ids == ()


def _alert():
    from alerts.detection.records import Alert

    return Alert(fingerprint="story:x", kind="sensitive", level=3, title="滨河路辅警",
                 reason="test", evidence=(), jurisdiction=None, detected_at=T0)


def test_bad_searches_say_what_is_wrong(warehouse):
    for words, problem in [("", "empty"), ("NOT 演练", "none of its terms"),
                        ("(辅警", "never closed"), ("辅警 NEAR/5 打人", "NEAR"),
                        ("x" * 501, "at most 500")]:
        with pytest.raises(SearchError, match=problem):
            search(warehouse.engine, SearchQuery(text=words))
    with pytest.raises(SearchError, match="order"):
        search(warehouse.engine, SearchQuery(text="警", order="popular"))


def test_index_follows_archiving(warehouse, tmp_path):
    """Archived (deleted) posts leave the index: nothing ghostly is found or counted."""
    archive_posts(warehouse.engine, T0 + timedelta(hours=3), tmp_path / "old.parquet")
    assert _numbers(warehouse, "警") == [5, 4, 3]
    assert search(warehouse.engine, SearchQuery(text="北湖")).total == 1


def test_migration_indexes_posts_stored_before_it(warehouse_url):
    """A warehouse at 0005 with posts gets them searchable when 0006 runs."""
    engine = create_engine(warehouse_url)
    config = _alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
    engine.dispose()
    old = Warehouse(warehouse_url, migrate=False)
    # Stored as that schema stores it: only the columns its tables had at 0005 (later
    # migrations add others, which today's models write).
    for source in SOURCES:
        _insert_as_of(old, Source.__table__, {
            "id": source.id, "name": source.name, "kind": source.kind, "url": source.url,
            "tags": list(source.tags), "jurisdiction": source.jurisdiction,
            "poll_minutes": source.poll_minutes, "enabled": source.enabled, "seen_ids": [],
            "cursor_extra": {}, "consecutive_failures": 0})
    run_id = _insert_as_of(old, Run.__table__, {"started_at": T0.replace(tzinfo=None),
                                                "status": "running", "errors": []})
    _insert_as_of(old, Post.__table__, Warehouse._post_values(
        _scored("lj_news", 1, "旧帖", "迁移之前的袭警视频", T0), run_id, None))
    old.close()
    warehouse = Warehouse(warehouse_url)            # migrates to head
    try:
        assert [h.title for h in search(warehouse.engine, SearchQuery("袭警视频")).hits] == ["旧帖"]
        assert [h.title for h in search(warehouse.engine, SearchQuery("袭警")).hits] == ["旧帖"]
    finally:
        warehouse.close()


def _insert_as_of(warehouse: Warehouse, table, values: dict) -> int:
    existing = {column["name"] for column in inspect(warehouse.engine).get_columns(table.name)}
    with warehouse.engine.begin() as conn:
        inserted = conn.execute(table.insert().values(
            {key: value for key, value in values.items() if key in existing}))
        return inserted.inserted_primary_key[0]


# ---- randomised: every search equals a plain substring evaluation of the same expression ----

ALPHABET = "警民辅打夜市路a"


def _holds(node, title: str, body: str) -> bool:
    if isinstance(node, Term):
        return node.text in title.casefold() or node.text in body.casefold()
    if isinstance(node, Not):
        return not _holds(node.operand, title, body)
    if isinstance(node, AllOf):
        return all(_holds(o, title, body) for o in node.operands)
    assert isinstance(node, AnyOf)
    return any(_holds(o, title, body) for o in node.operands)


def _random_query(rng: random.Random) -> str:
    def term() -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.choice((1, 2, 2, 3, 4))))

    def expr(depth: int) -> str:
        if depth == 0 or rng.random() < 0.4:
            return term()
        op = rng.choice(("AND", "OR", ""))
        right = ("NOT " if rng.random() < 0.3 else "") + expr(depth - 1)
        return f"({expr(depth - 1)} {op} {right})".replace("  ", " ")

    return expr(3)


def test_random_searches_equal_substring_evaluation(warehouse_url):
    rng = random.Random(20261120)
    warehouse = Warehouse(warehouse_url)
    warehouse.sync_sources(SOURCES)
    posts = []
    for n in range(120):
        title = "".join(rng.choice(ALPHABET + "，A") for _ in range(rng.randrange(0, 6)))
        body = "".join(rng.choice(ALPHABET + "。 A") for _ in range(rng.randrange(1, 30)))
        posts.append(_scored(rng.choice(SOURCES).id, n, title, body,
                             T0 + timedelta(minutes=n)))
    _store(warehouse, posts)
    try:
        checked = 0
        while checked < 60:
            words = _random_query(rng)
            try:
                expression = compile_expression(words, implicit_and=True)
            except ValueError:              # unbalanced, or true for a text without terms
                continue
            expected = sorted((p.raw.published_at for p in posts
                               if _holds(expression.root, p.raw.title, p.text)), reverse=True)
            result = search(warehouse.engine, SearchQuery(text=words, limit=1000))
            assert [h.seen_at for h in result.hits] == expected, words
            assert result.total == len(expected), words
            ranked = search(warehouse.engine, SearchQuery(text=words, limit=1000,
                                                          order="relevance"))
            assert sorted(h.seen_at for h in ranked.hits) == sorted(expected), words
            assert ranked.total == len(expected), words
            checked += 1
    finally:
        warehouse.close()
