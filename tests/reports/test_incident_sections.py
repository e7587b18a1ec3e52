"""The 专报's 对警态度与情感走势 and 传播情况 over a warehouse of planted events (real Scorer,
events grouped on load, comment and repost threads linked): every number equals SQL of the
same question written here; the report in headless Chromium and in Word."""
from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from docx import Document as Word
from sqlalchemy import text

from flows.reporting import load_labels
from jingyu.timeutil import SHANGHAI
from reports.document import Chart, Link, Paragraph, Table
from reports.incident import build_incident_report
from reports.render import to_docx, to_html
from tests.reports.planted import NOW, load, open_incident, post_ids

LABELS = load_labels()


@pytest.fixture
def planted(warehouse_url):
    w = load(warehouse_url)
    incident = open_incident(w)
    yield w, incident
    w.close()


def _rows(warehouse, sql: str, **binds) -> list:
    with warehouse.engine.connect() as conn:
        return conn.execute(text(sql), binds).all()


def _time(value) -> datetime:
    value = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return value.replace(tzinfo=timezone.utc)


def _section(report, start: str):
    return next(s for s in report.sections if s.title.startswith(start))


def _table(section, caption: str) -> Table:
    return next(b for b in section.blocks if isinstance(b, Table) and b.caption.startswith(caption))


def _incident_posts(warehouse, incident: int) -> list:
    """The 专报's posts, selected here: the event's posts, the posts of the evidence's and
    the event's stories, the evidence and the statement itself."""
    [(event, official)] = _rows(warehouse, "SELECT event_id, official_post_id FROM incidents "
                                           "WHERE id = :i", i=incident)
    evidence = [int(item["post_id"]) for (value,) in _rows(
        warehouse, "SELECT evidence FROM alerts WHERE incident_id = :i", i=incident)
        for item in (json.loads(value) if isinstance(value, str) else value)]
    assert evidence
    seeds = {r.id: r.story_id for r in _rows(
        warehouse, "SELECT id, story_id FROM posts WHERE id IN (SELECT post_id FROM "
                   "event_posts WHERE event_id = :e)", e=event)}
    seeds.update({r.id: r.story_id for r in _rows(
        warehouse, f"SELECT id, story_id FROM posts WHERE id IN ({', '.join(map(str, evidence))})")})
    stories = {s for s in seeds.values() if s is not None}
    rows = _rows(warehouse, "SELECT id, seen_at, polarity, police_stance, police_stance_p, "
                            "story_id FROM posts")
    return [r for r in rows if r.id in seeds or r.story_id in stories or r.id == official]


def test_stance_and_sentiment_over_time_equal_the_rows(planted):
    warehouse, incident = planted
    report = build_incident_report(warehouse, incident, labels=LABELS, now=NOW)
    posts = _incident_posts(warehouse, incident)
    assert report.facts["posts"] == len(posts)
    section = _section(report, "四、对警态度")
    summary = next(b.text for b in section.blocks if isinstance(b, Paragraph))
    against = [p for p in posts if p.police_stance == "negative"]
    police = [p for p in posts if p.police_stance is not None]
    mean = sum(p.police_stance_p for p in against) / len(against)
    assert (f"事件帖子 {len(posts)} 条，其中涉警 {len(police)} 条：对警负面 {len(against)} 条"
            f"（占涉警 {len(against) / len(police):.1%}，判定概率均值 {mean:.0%}）") in summary
    assert f"对警中性 {sum(p.police_stance == 'neutral' for p in posts)} 条" in summary
    assert len(against) >= 20 and len(police) > len(against)     # the statement is not against

    charts = [b for b in section.blocks if isinstance(b, Chart)]
    assert [c.title[:2] for c in charts] == ["图3", "图4"]
    step = {"每10分钟": timedelta(minutes=10), "每小时": timedelta(hours=1),
            "每天": timedelta(days=1)}[re.search(r"（(每\S+?)）", charts[0].title).group(1)]
    form = {timedelta(minutes=10): "%m-%d %H:%M", timedelta(hours=1): "%m-%d %H时",
            timedelta(days=1): "%m-%d"}[step]

    def slot(p) -> str:
        local = _time(p.seen_at).astimezone(SHANGHAI)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight + step * ((local - midnight) // step)).strftime(form)

    expected = {}
    for p in posts:
        counts = expected.setdefault(slot(p), Counter())
        counts[p.police_stance or "none"] += 1
        counts["mood:" + p.polarity] += 1
    table = _table(section, "各时段对警态度")
    assert [r[0] for r in table.rows] == sorted(expected)
    for row in table.rows:
        c = expected[row[0]]
        in_police = c["negative"] + c["neutral"] + c["positive"]
        assert row[1:] == (c["negative"], c["neutral"], c["positive"], c["none"],
                           f"{c['negative'] / in_police:.1%}" if in_police else "-",
                           c["mood:negative"], c["mood:neutral"], c["mood:positive"]), row[0]


def _held(warehouse, own: set[int]) -> dict[int, object]:
    """The event's posts and their comments and reposts, five levels down."""
    rows = {r.id: r for r in _rows(warehouse, "SELECT id, parent_id, relation, platform, "
                                              "author, reposts, comments, source_id FROM posts")}
    held, frontier = set(own), set(own)
    for _ in range(5):
        frontier = {i for i, r in rows.items() if r.parent_id in frontier} - held
        held |= frontier
    return {i: rows[i] for i in held}


def test_spread_equals_the_rows(planted):
    warehouse, incident = planted
    report = build_incident_report(warehouse, incident, labels=LABELS, now=NOW)
    [(event,)] = _rows(warehouse, "SELECT event_id FROM incidents WHERE id = :i", i=incident)
    own = {r.post_id for r in _rows(warehouse, "SELECT post_id FROM event_posts "
                                               "WHERE event_id = :e", e=event)}
    held = _held(warehouse, own)
    threads = set(held) - own
    assert threads and threads <= set(post_ids(warehouse, "thread"))
    names = dict(_rows(warehouse, "SELECT id, name FROM sources"))
    relations = Counter(r.relation for r in held.values() if r.parent_id is not None)

    section = _section(report, "三、传播情况")
    summary = next(b.text for b in section.blocks if isinstance(b, Paragraph))
    assert (f"按舆情事件 E{event} 统计：帖子 {len(own)} 条，另采集到其评论、转发 {len(threads)} 条"
            f"（全部 {len(held)} 条中评论 {relations['comment']} 条、转发 {relations['repost']} 条）"
            ) in summary
    platforms = Counter(r.platform or names[r.source_id] for r in held.values())
    assert dict(_table(section, "传播平台").rows) == platforms
    assert dict(_table(section, "各来源条数").rows) == Counter(names[r.source_id]
                                                           for r in held.values())
    chart = next(b for b in section.blocks if isinstance(b, Chart))
    assert chart.title.startswith("图2 传播曲线")
    assert sum(map(int, re.findall(r"帖子 (\d+) 条", chart.alt))) == len(own)
    assert sum(map(int, re.findall(r"评论转发 (\d+) 条", chart.alt))) == len(threads)

    # most reposted and commented: the platform's count, or the replies we hold if more
    got = Counter((r.parent_id, r.relation) for r in held.values() if r.parent_id in held)
    spread_rows = _table(section, "转发、评论最多的帖子").rows
    assert spread_rows and isinstance(spread_rows[0][0], Link)
    scores = []
    for row in spread_rows:
        r = held[row[-1]]
        reposts = max(r.reposts or 0, got[(r.id, "repost")])
        comments = max(r.comments or 0, got[(r.id, "comment")])
        assert (row[3], row[4]) == (reposts, comments) and row[2] == r.author
        scores.append(reposts + comments)
    assert scores == sorted(scores, reverse=True) and scores[0] == 120 + 45
    accounts = {row[0]: row[1:] for row in _table(section, "转发、评论最多的账号").rows}
    witness = [r for r in held.values() if r.author == "夜市目击者"]
    assert accounts["夜市目击者"][0] == len(witness)
    assert report.facts["spread_event"] == event and report.facts["spread_total"] == len(held)


def test_the_report_in_a_browser_and_in_word(planted, page, screenshot, tmp_path):
    warehouse, incident = planted
    report = build_incident_report(warehouse, incident, labels=LABELS, now=NOW)
    path = tmp_path / "zhuanbao.html"
    path.write_text(to_html(report), encoding="utf-8")
    page.goto(path.as_uri())
    titles = page.locator("h2").all_inner_texts()
    assert titles[2:4] == ["三、传播情况", "四、对警态度与情感走势"]
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 4 and all(w > 300 for w in widths)       # four charts drawn
    body = page.inner_text("body")
    assert "夜市目击者" in body and "对警负面" in body
    whole = screenshot(page, "zhuanbao")
    for n, name in ((2, "spread"), (3, "stance")):          # the two sections, close up
        page.locator("section").nth(n).screenshot(
            path=str(whole.with_name(f"{whole.stem}-{name}.png")))
    word = Word(io.BytesIO(to_docx(report)))
    assert len(word.inline_shapes) == 4
    text_of_tables = ["\n".join(c.text for c in t.rows[0].cells) for t in word.tables]
    assert any("对警负面占比" in t for t in text_of_tables)
    assert any("被转发" in t for t in text_of_tables)
    paragraphs = "\n".join(p.text for p in word.paragraphs)
    assert "图3 对警态度走势" in paragraphs and "图2 传播曲线" in paragraphs


def test_search_hits_link_to_their_event_and_its_incident(planted):
    from warehouse.search import SearchQuery, search

    warehouse, incident = planted
    [(event,)] = _rows(warehouse, "SELECT event_id FROM incidents WHERE id = :i", i=incident)
    members = {r.post_id for r in _rows(warehouse, "SELECT post_id FROM event_posts "
                                                   "WHERE event_id = :e", e=event)}
    result = search(warehouse.engine, SearchQuery(text="滨河路 夜市", limit=100))
    in_event = [h for h in result.hits if h.post_id in members]
    assert len(in_event) >= 20 and all(h.event_id == event for h in in_event)
    # the incident follows the event: every post of it links there, not only its evidence
    assert all(incident in h.incident_ids for h in in_event)
    outside = [h for h in result.hits if h.post_id not in members]
    assert all(h.event_id != event and incident not in h.incident_ids for h in outside)


def test_places_and_tracks_with_units_and_notes(planted):
    warehouse, incident = planted
    report = build_incident_report(warehouse, incident, labels=LABELS, now=NOW)
    posts = {p.id for p in _incident_posts(warehouse, incident)}
    places = Counter(r.jurisdiction for r in _rows(warehouse, "SELECT id, jurisdiction FROM posts")
                     if r.id in posts)
    names = dict(LABELS.jurisdictions)
    table = _table(_section(report, "五、涉及地点"), "信息涉及的辖区")
    assert {r[0]: r[1] for r in table.rows} == {names.get(j, j) if j else "未定位": n
                                               for j, n in places.items()}
    tracks = {r[0]: r for r in _table(_section(report, "六、三同步"), "三同步").rows}
    assert tracks["舆论引导"][1] == "临江分局政工室"
    assert tracks["舆论引导"][2].startswith("2026-11-25 21:40 政工刘六（发现后 40分钟")
    assert tracks["舆论引导"][4] == "2026-11-25 21:55 政工刘六：已联系属地网信，准备情况通报"
    assert tracks["依法处理"][2] == "未启动"
