"""`jingyu query top_stories` ranks real-world events with their stories inside (issue 13):
over the planted night-market day (25 differently worded texts of one happening, hostile
posts among them, other happenings beside it), scored by the real Scorer and grouped on load,
on SQLite and PostgreSQL. The surge is one hot event holding all its stories, not a story of
5 and many of 1; every number is checked against SQL written here; the Excel export keeps
Chinese headers and the event beside each story."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from jingyu.timeutil import as_utc_naive
from reports.blocks import Labels
from reports.tables import write_table
from tests.reports.planted import DAY_START, add_hostile, load, post_ids
from warehouse.queries import QueryParams, run_query

DAY = QueryParams(since=DAY_START, until=DAY_START + timedelta(days=1), limit=5)


@pytest.fixture
def warehouse(warehouse_url):
    w = load(warehouse_url)
    add_hostile(w)
    yield w
    w.close()


def _sql_groups(warehouse, params: QueryParams) -> dict[int, tuple[int, int, int]]:
    """event -> (posts in the window, posts the window before, stories in the window)."""
    since, until = as_utc_naive(params.since), as_utc_naive(params.until)
    before = since - (until - since)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT ep.event_id, "
            "SUM(CASE WHEN p.seen_at >= :since THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN p.seen_at < :since THEN 1 ELSE 0 END), "
            "COUNT(DISTINCT CASE WHEN p.seen_at >= :since THEN COALESCE(p.story_id, -p.id) END) "
            "FROM posts p JOIN event_posts ep ON ep.post_id = p.id "
            "WHERE p.seen_at >= :before AND p.seen_at < :until GROUP BY ep.event_id"),
            {"since": since, "until": until, "before": before}).all()
    return {int(e): (int(n), int(b), int(s)) for e, n, b, s in rows}


def test_the_surge_is_one_hot_event_with_its_stories_inside(warehouse):
    rows = run_query(warehouse.engine, "top_stories", DAY).records()
    groups = _sql_groups(warehouse, DAY)
    ranked = sorted(((n - b, n, e) for e, (n, b, _) in groups.items() if n), reverse=True)
    expected = [e for _, _, e in sorted(ranked, key=lambda g: (-g[0], -g[1], g[2]))][:5]
    assert [r["event_id"] for r in rows if r["rank"] != (rows[rows.index(r) - 1]["rank"]
                                                         if rows.index(r) else None)] == expected
    market = post_ids(warehouse, "market")
    with warehouse.engine.connect() as conn:
        [surge] = set(conn.execute(text(
            "SELECT DISTINCT event_id FROM event_posts WHERE post_id IN "
            f"({', '.join(map(str, market))})")).scalars())
    top = [r for r in rows if r["rank"] == 1]
    assert {r["event_id"] for r in top} == {surge}
    posts, before, stories = groups[surge]
    assert len(top) == stories > 1 and sum(r["posts"] for r in top) == posts
    for r in top:                                     # the event beside each of its stories
        assert (r["event_posts"], r["event_posts_before"], r["event_growth"],
                r["event_stories"]) == (posts, before, posts - before, stories)
    assert [r["posts"] for r in top] == sorted((r["posts"] for r in top), reverse=True)
    # the market's stories are under its event only, never ranked as hot spots of their own
    assert not [r for r in rows if r["rank"] != 1 and r["story_key"] in
                {t["story_key"] for t in top}]
    with warehouse.engine.connect() as conn:
        against = conn.execute(text(
            "SELECT COUNT(*) FROM posts p JOIN event_posts ep ON ep.post_id = p.id "
            "WHERE ep.event_id = :e AND p.police_stance = 'negative' AND p.seen_at >= :since "
            "AND p.seen_at < :until"), {"e": surge, "since": as_utc_naive(DAY.since),
                                        "until": as_utc_naive(DAY.until)}).scalar_one()
    assert top[0]["event_negative_police"] == against > 0


def test_fast_form_equals_the_exact_form(warehouse, monkeypatch):
    from warehouse import queries

    exact = run_query(warehouse.engine, "top_stories", replace(DAY, limit=3)).records()
    monkeypatch.setattr(queries, "STORY_CANDIDATES", 1)    # too few: the bound reruns exact
    fast = run_query(warehouse.engine, "top_stories", replace(DAY, limit=3)).records()
    assert [(r["event_id"], r["story_key"], r["posts"]) for r in fast] == [
        (r["event_id"], r["story_key"], r["posts"]) for r in exact]


def test_excel_export_has_chinese_headers_and_the_event_beside_each_story(warehouse,
                                                                          tmp_path):
    result = run_query(warehouse.engine, "top_stories", replace(DAY, limit=2))
    path = write_table(result, tmp_path / "top.xlsx", labels=Labels())
    sheet = load_workbook(path).worksheets[0]
    headers = [c.value for c in sheet[1]]
    for header in ("排名", "事件编号（event_id）", "事件标题", "事件条数", "事件较上期变化",
                   "事件对警负面条数", "热点编号", "条数", "链接"):
        assert header in headers, headers
    rank, event = headers.index("排名"), headers.index("事件编号（event_id）")
    body = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(body) == len(result.rows)
    assert {row[rank] for row in body} == {1, 2}
    assert [row[event] for row in body] == [r["event_id"] for r in result.records()]


def test_cli_prints_each_event_with_its_stories_below(warehouse, warehouse_url, capsys):
    from flows.cli import main

    assert main(["query", "top_stories", "--database", warehouse_url, "--since", "2026-11-25",
                 "--until", "2026-11-26", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    rows = run_query(warehouse.engine, "top_stories", replace(DAY, limit=3)).records()
    top = [r for r in rows if r["rank"] == 1]
    lines = out.splitlines()
    event_lines = [line for line in lines if re.match(r"^\d+\s+E\d+ ", line)]
    assert [int(re.match(r"^(\d+)\s+E(\d+)", line).group(2)) for line in event_lines] == list(
        dict.fromkeys(r["event_id"] for r in rows))
    assert re.match(rf"^1\s+E{top[0]['event_id']} .*\s{top[0]['event_posts']}\s+0\s+"
                    rf"\+{top[0]['event_posts']}\s+{top[0]['event_negative_police']}\s+"
                    rf"{len(top)}\s", event_lines[0])
    first = lines.index(event_lines[0])
    assert re.search(rf"└ 热点{top[0]['story_key']} .*\s{top[0]['posts']}\s", lines[first + 1])
    assert f"└ 其余 {len(top) - 5} 个热点" in out
    assert f"3 events, {len(rows)} stories: top_stories" in out
    assert "\x1b" not in out and "\u200b" not in out     # hostile titles made plain
