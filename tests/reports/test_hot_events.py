"""负面热点 over a warehouse of planted events, scored by the real Scorer and grouped on load:
the daily brief and the shift handover list events ranked by posts negative toward the police
(police_stance), the 25-text night-market surge as one hot event with its stories inside;
texts general sentiment calls negative but that are not against the police are absent.
Every number is checked against SQL of the same question written here."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from flows.reporting import load_labels
from jingyu.timeutil import as_utc_naive
from reports.daily import build_daily_brief
from reports.document import Link
from reports.handover import build_handover
from reports.render import to_html
from tests.reports.planted import DAY_START, NOT_AGAINST, NOW, RESCUE, load, post_ids
from tests.reports.test_report_numbers import _between, _posts, _table, check_hot_events

DAY_END = DAY_START + timedelta(days=1)
LABELS = load_labels()


@pytest.fixture
def warehouse(warehouse_url):
    w = load(warehouse_url)
    yield w
    w.close()


def _against_by_event(warehouse, since, until) -> list[tuple[int, int, float]]:
    """(event, posts negative toward the police, their mean probability), most first."""
    with warehouse.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT ep.event_id, COUNT(*) AS n, AVG(p.police_stance_p) AS p "
            "FROM posts p JOIN event_posts ep ON ep.post_id = p.id "
            "WHERE p.police_stance = 'negative' AND p.seen_at >= :since AND p.seen_at < :until "
            "GROUP BY ep.event_id ORDER BY COUNT(*) DESC, ep.event_id"),
            {"since": as_utc_naive(since), "until": as_utc_naive(until)}).all()
    return [(r.event_id, r.n, float(r.p)) for r in rows]


def _shown(table) -> set[str]:
    return {c.url for row in table.rows for c in row if isinstance(c, Link)}


def _event_rows(table) -> list[tuple]:
    return [row for row in table.rows if "." not in row[0]]


def test_brief_ranks_events_by_stance_toward_the_police(warehouse):
    brief = build_daily_brief(warehouse, DAY_START.date(), labels=LABELS, now=NOW)
    hot = _table(brief, "负面热点")
    names = dict(LABELS.jurisdictions)
    posts = _posts(warehouse, None)
    check_hot_events(warehouse, hot, _between(posts, "seen_at", DAY_START, DAY_END),
                     _between(posts, "seen_at", DAY_START - timedelta(days=1), DAY_START),
                     limit=10, names=names)
    expected = _against_by_event(warehouse, DAY_START, DAY_END)
    rows = _event_rows(hot)
    assert [(int(r[-1][1:].split(" ")[0]), r[3], r[4]) for r in rows] == \
        [(e, n, f"{round(p, 3):.0%}") for e, n, p in expected]
    assert brief.facts["events"] == [e for e, _, _ in expected]

    # the surge is one hot event, first, with all its texts negative toward the police
    # inside it: the five copies one story, the twenty other wordings beneath
    market, arrest = post_ids(warehouse, "market"), post_ids(warehouse, "arrest")
    with warehouse.engine.connect() as conn:
        events = dict(conn.execute(text("SELECT post_id, event_id FROM event_posts")).all())
        stance = dict(conn.execute(text("SELECT id, police_stance FROM posts")).all())
    assert len({events[i] for i in market}) == 1
    assert rows[0][-1] == f"E{events[market[0]]}"
    # (comments under the surge's posts may join it too)
    assert rows[0][3] >= sum(stance[i] == "negative" for i in market) >= 20
    under = [r for r in hot.rows if r[0].startswith("1.")]
    assert under[0][3] == 5 and under[-1][1].startswith("└ 其余")
    assert sum(r[3] for r in under) == rows[0][3]
    assert rows[1][-1].startswith(f"E{events[arrest[0]]}")
    assert rows[0][2] in ("临江区", "临江派出所")           # a place by name

    # not against the police: absent, though general sentiment calls them negative
    with warehouse.engine.connect() as conn:
        others = conn.execute(text(
            "SELECT id, url, polarity, police_stance FROM posts "
            "WHERE external_id LIKE 'other-%' OR external_id LIKE 'rescue-%'")).all()
    assert len(others) == len(NOT_AGAINST) + len(RESCUE)
    assert all(o.police_stance != "negative" for o in others)
    assert sum(o.polarity == "negative" for o in others) >= len(NOT_AGAINST)
    assert not _shown(hot) & {o.url for o in others}
    assert {events[o.id] for o in others}.isdisjoint({e for e, _, _ in expected})
    html = to_html(brief)
    for phrase in ("反诈宣传讲座", "末班车", "酒驾醉驾", "畜生", "尽快破案", "落水"):
        assert phrase not in html.split("五、负面热点")[1].split("六、")[0], phrase


def test_handover_ranks_the_same_way(warehouse):
    evening = (DAY_START + timedelta(hours=12), DAY_START + timedelta(hours=24))
    report = build_handover(warehouse, *evening, labels=LABELS, now=NOW)
    hot = _table(report, "本班负面热点")
    posts = _posts(warehouse, None)
    check_hot_events(warehouse, hot, _between(posts, "seen_at", *evening),
                     _between(posts, "seen_at", evening[0] - timedelta(hours=12), evening[0]),
                     limit=5, names=dict(LABELS.jurisdictions))
    expected = _against_by_event(warehouse, *evening)
    assert report.facts["events"] == [e for e, _, _ in expected][:5]
    assert _event_rows(hot)[0][3] == expected[0][1] >= 20
    # a narrower shift without the surge: the arrest leads
    afternoon = (DAY_START + timedelta(hours=12), DAY_START + timedelta(hours=18))
    report = build_handover(warehouse, *afternoon, labels=LABELS, now=NOW)
    rows = _event_rows(_table(report, "本班负面热点"))
    assert [r[3] for r in rows] == [n for _, n, _ in _against_by_event(warehouse, *afternoon)]
    assert len(rows) == 1 and rows[0][2] == "北湖区"


def test_the_brief_in_a_browser(warehouse, page, screenshot, tmp_path):
    brief = build_daily_brief(warehouse, DAY_START.date(), labels=LABELS, now=NOW)
    path = tmp_path / "brief.html"
    path.write_text(to_html(brief), encoding="utf-8")
    page.goto(path.as_uri())
    section = page.locator("section", has_text="五、负面热点").first
    section.scroll_into_view_if_needed()
    rows = section.locator("tbody tr")
    assert rows.count() == len(_table(brief, "负面热点").rows)
    assert "其余" in section.inner_text() and "反诈" not in section.inner_text()
    screenshot(page, "brief")
