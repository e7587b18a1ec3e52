"""Named queries, the post_topics bridge, read-only SQL and the archive, on SQLite and PG."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tests.reports.seeding import DAY_START, POSTS, STORY, in_window, seed, story_of
from warehouse import analysis
from warehouse.reader_role import create_reader
from warehouse.queries import (
    QUERIES,
    QueryError,
    QueryParams,
    archive_posts,
    readonly_engine,
    run_query,
    run_sql,
)

DAY_END = DAY_START + timedelta(days=1)
WEEK = QueryParams(since=DAY_START - timedelta(days=6), until=DAY_END)


@pytest.fixture
def warehouse(warehouse_url):
    w = seed(warehouse_url)
    yield w
    w.close()


def test_post_topics_bridge_is_filled_on_load(warehouse):
    with warehouse.engine.connect() as conn:
        pairs = set(conn.execute(text(
            "select p.external_id, pt.topic_id from post_topics pt "
            "join posts p on p.id = pt.post_id")).all())
    assert pairs == {(p.external_id, t) for p in POSTS for t in p.topics}


def test_volume_by_day_matches_the_rows(warehouse):
    result = run_query(warehouse.engine, "volume", replace(WEEK, by=("day",))).records()
    for row in result:
        start = DAY_START.replace(day=int(row["day"][-2:]))
        posts = in_window(start, start + timedelta(days=1))
        assert row["posts"] == len(posts)
        assert row["negative"] == sum(p.polarity == "negative" for p in posts)
        assert row["negative_share"] == round(row["negative"] / row["posts"], 3)
    assert sum(r["posts"] for r in result) == len(in_window(WEEK.since, WEEK.until))


def test_volume_by_hour_is_local_time(warehouse):
    rows = run_query(warehouse.engine, "volume",
                     replace(WEEK, since=DAY_START, by=("hour",))).records()
    hours = {r["hour"]: r["posts"] for r in rows}
    # the seed posts at 01:00, 09:00, 10:00, 15:00, 21:00 Asia/Shanghai, plus the story at 11-12
    assert "2026-11-25 01:00" in hours and "2026-11-25 21:00" in hours
    assert sum(hours.values()) == len(in_window(DAY_START, DAY_END))


def test_volume_by_topic_and_filters(warehouse):
    day = QueryParams(since=DAY_START, until=DAY_END, by=("topic",))
    rows = {r["topic"]: r["posts"] for r in run_query(warehouse.engine, "volume", day).records()}
    assert rows["police.enforcement_dispute"] == len(
        in_window(DAY_START, DAY_END, topic="police.enforcement_dispute"))
    linjiang = run_query(warehouse.engine, "volume", replace(
        day, by=("day",), jurisdiction="qingchuan.linjiang", topic="police")).records()
    assert linjiang[0]["posts"] == len(in_window(DAY_START, DAY_END, topic="police",
                                                 jurisdiction="qingchuan.linjiang"))
    city = run_query(warehouse.engine, "volume", replace(day, by=(), jurisdiction="qingchuan"))
    assert city.records()[0]["posts"] == len(in_window(DAY_START, DAY_END))  # children count


def test_top_stories_rank_by_growth_with_links(warehouse):
    rows = run_query(warehouse.engine, "top_stories",
                     QueryParams(since=DAY_START, until=DAY_END, polarity="negative",
                                 limit=3)).records()
    top = rows[0]
    assert top["story_key"] == story_of(warehouse, STORY)  # the seven copies are one story
    assert (top["posts"], top["posts_before"], top["growth"]) == (6, 1, 5)
    assert top["url"].startswith("https://example.org/story/")
    assert top["first_seen_at"] == "2026-11-25 11:10"
    assert len(rows) == 3


def test_incidents_show_sync_timings(warehouse):
    rows = run_query(warehouse.engine, "incidents",
                     QueryParams(since=DAY_START, until=DAY_END)).records()
    assert len(rows) == 1
    assert rows[0]["ack_min"] == 12.0 and rows[0]["legal_start_min"] == 40.0
    assert rows[0]["opinion_start_min"] is None and rows[0]["opened_at"] == "2026-11-25 11:30"


def test_source_health_and_patrol(warehouse):
    window = QueryParams(since=DAY_END, until=DAY_END + timedelta(hours=8))
    health = {r["source_id"]: r for r in run_query(warehouse.engine, "source_health",
                                                   window).records()}
    assert health["yx_forum"]["failed"] == 2 and health["yx_forum"]["consecutive_failures"] == 2
    patrol = run_query(warehouse.engine, "patrol", window).records()
    assert [(r["hour"], r["failed"]) for r in patrol] == [("2026-11-26 06:00", 1),
                                                          ("2026-11-26 07:00", 1)]


def test_every_named_query_runs(warehouse):
    for name in QUERIES:
        assert run_query(warehouse.engine, name, WEEK).columns


def test_wrong_use_is_explained(warehouse):
    with pytest.raises(QueryError, match="does not take --topic"):
        run_query(warehouse.engine, "incidents", replace(WEEK, topic="police"))
    with pytest.raises(QueryError, match="no query"):
        run_query(warehouse.engine, "nope", WEEK)
    with pytest.raises(QueryError, match="unknown --by"):
        run_query(warehouse.engine, "volume", replace(WEEK, by=("week",)))


@pytest.fixture
def reader_url(warehouse, warehouse_url):
    """Where analysts' SQL connects: the SQLite file itself; on PostgreSQL the reader role
    (`jingyu db create-reader`; roles are server-wide, so this one is named for the test)."""
    if not warehouse_url.startswith("postgresql"):
        yield warehouse_url
        return
    role = f"jingyu_reader_{uuid.uuid4().hex[:8]}"
    create_reader(warehouse.engine, role)
    yield make_url(warehouse_url).set(username=role).render_as_string(hide_password=False)
    with warehouse.engine.begin() as conn:
        conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        conn.exec_driver_sql(f'DROP ROLE "{role}"')


def test_sql_is_read_only(warehouse, reader_url):
    engine = readonly_engine(reader_url)
    try:
        assert run_sql(engine, "select count(*) as n from posts;").rows == [(len(POSTS),)]
        for statement in ("delete from posts", "update sources set enabled = false",
                          "create table x (a int)"):
            with pytest.raises(DBAPIError):
                run_sql(engine, statement)
        with pytest.raises(QueryError, match="one statement"):
            run_sql(engine, "select 1; delete from posts")
    finally:
        engine.dispose()
    assert run_query(warehouse.engine, "volume", replace(WEEK, by=())).rows[0][0] > 0


def test_analysis_returns_dataframes(warehouse, warehouse_url, reader_url):
    frame = analysis.volume("2026-11-19", "2026-11-26", by=("day", "topic"),
                            database=warehouse_url)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:2]) == ["day", "topic"]
    assert "negative_share" in frame
    counted = analysis.sql("select count(*) as n from post_topics", database=reader_url)
    assert int(counted["n"][0]) == sum(len(p.topics) for p in POSTS)


def test_archive_exports_then_deletes(warehouse, tmp_path):
    before = DAY_START - timedelta(days=3)
    expected = {p.external_id for p in POSTS if p.seen_at < before}
    archived, kept = archive_posts(warehouse.engine, before, tmp_path / "old.parquet")
    assert (archived, kept) == (len(expected), 0)
    frame = pd.read_parquet(tmp_path / "old.parquet")
    assert set(frame["external_id"]) == expected
    with warehouse.engine.connect() as conn:
        left = conn.execute(text("select count(*) from posts")).scalar()
        orphans = conn.execute(text("select count(*) from post_topics where post_id not in "
                                    "(select id from posts)")).scalar()
    assert left == len(POSTS) - len(expected) and orphans == 0


def test_archive_deletes_nothing_when_the_file_fails(warehouse, tmp_path):
    with pytest.raises(QueryError):
        archive_posts(warehouse.engine, DAY_START, tmp_path / "old.csv")
    with warehouse.engine.connect() as conn:
        assert conn.execute(text("select count(*) from posts")).scalar() == len(POSTS)


@pytest.mark.parametrize(("candidates", "limit", "falls_back"), [(10, 4, False), (1, 1, True)])
def test_top_stories_fast_form_equals_the_exact_form(warehouse, monkeypatch, candidates, limit,
                                                     falls_back):
    # One candidate, the story's event (6 posts, 1 the day before: growth 5 < 6 posts): the bound
    # cannot prove the ranking, so run_query reruns the exact form.
    from warehouse import queries

    params = QueryParams(since=DAY_START, until=DAY_END, limit=limit)
    pg = warehouse.engine.dialect.name == "postgresql"
    with warehouse.engine.connect() as conn:
        columns, rows = queries._execute(conn, queries._top_stories(pg, params, candidates=False),
                                         params)
    exact = [dict(zip(columns, r)) for r in rows]
    calls = []
    build = queries._top_stories
    monkeypatch.setattr(queries, "_top_stories", lambda pg, p, candidates=True: (
        calls.append(candidates), build(pg, p, candidates))[1])
    monkeypatch.setattr(queries, "QUERIES", {**queries.QUERIES, "top_stories": replace(
        queries.QUERIES["top_stories"], build=queries._top_stories)})
    monkeypatch.setattr(queries, "STORY_CANDIDATES", candidates)
    fast = run_query(warehouse.engine, "top_stories", params).records()
    # top_stories ranks events (the stories inside follow): the events and their growth
    groups = list(dict.fromkeys((r["rank"], r["event_id"], r["event_growth"]) for r in fast))
    assert [(e, g) for _, e, g in groups] == [(r["event_id"], r["growth"]) for r in exact]
    assert (False in calls) == falls_back
