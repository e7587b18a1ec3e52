"""专报 (`jingyu report incident N`): every number counted from the incident's rows and posts,
every quote a post's own title with its link, in HTML, Word and Markdown."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pytest
from docx import Document as Word
from sqlalchemy import text

from flows.cli import main
from reports.blocks import Labels
from reports.document import Chart, Link, Table
from reports.incident import build_incident_report
from reports.render import to_docx, to_html, to_markdown
from tests.reports.seeding import DAY_START, NOW, POSTS, STORY, seed, story_of

LABELS = Labels(topics={"police.enforcement_dispute": "执法争议"},
                jurisdictions={"qingchuan": "青川市", "qingchuan.linjiang": "临江区"})
OPENED = DAY_START + timedelta(hours=11, minutes=30)


@pytest.fixture
def warehouse(warehouse_url):
    w = seed(warehouse_url)
    with w.engine.begin() as conn:
        # evidence: the story's first copy of the day; the statement: a police post of the day
        first, official = conn.execute(text(
            "SELECT (SELECT MIN(id) FROM posts WHERE content_hash = :h AND seen_at >= :d), "
            "(SELECT MIN(id) FROM posts WHERE source_id = 'qc_police' AND seen_at >= :s)"),
            {"h": STORY, "d": DAY_START.replace(tzinfo=None),
             "s": (OPENED + timedelta(hours=2)).astimezone().replace(tzinfo=None)}).one()
        conn.execute(text("UPDATE alerts SET evidence = :e WHERE id = 1"),
                     {"e": json.dumps([{"post_id": first, "url": "x", "title": "t",
                                        "source_id": "lj_news", "published_at": None}])})
        conn.execute(text("UPDATE incidents SET official_post_id = :p, "
                          "official_statement_at = :at WHERE id = 1"),
                     {"p": official, "at": (OPENED + timedelta(hours=5)).replace(tzinfo=None)
                      - OPENED.utcoffset()})
    w.evidence, w.official = first, official
    yield w
    w.close()


def _table(document, caption: str) -> Table:
    return next(t for t in document.tables() if t.caption.startswith(caption))


def test_posts_are_the_story_of_the_evidence(warehouse):
    report = build_incident_report(warehouse, 1, labels=LABELS, now=NOW)
    story = story_of(warehouse, STORY)
    with warehouse.engine.connect() as conn:
        # the evidence's story and the statement itself
        expected = conn.execute(text(
            "SELECT id, polarity FROM posts WHERE story_id = :s OR content_hash = :h "
            "OR id = :o"), {"s": story, "h": STORY, "o": warehouse.official}).all()
    story_posts = [p for p in POSTS if p.content_hash == STORY]
    assert report.facts["posts"] == len(expected) == len(story_posts) + 1
    assert report.facts["negative"] == sum(p == "negative" for _, p in expected)
    assert story in report.facts["stories"] and report.facts["evidence"] == [warehouse.evidence]
    facts = dict(report.sections[0].blocks[1].rows)
    assert facts["事件"] == "敏感信息：临江交警执法争议<b>视频</b>"     # text, escaped by renderers
    assert facts["辖区"] == "临江区" and facts["级别"] == "III级黄色"
    assert facts["签收"].startswith("2026-11-25 11:42（值班员张三，发现后 12分钟")
    assert facts["官方发声"] == "2026-11-25 16:30（发现后 5小时0分）"
    first = min(story_posts, key=lambda p: p.seen_at)
    assert facts["首条信息"] == "2026-11-24 21:00（临江新闻）" == \
        f"{first.seen_at.astimezone(DAY_START.tzinfo):%Y-%m-%d %H:%M}（临江新闻）"


def test_timeline_spread_and_sentiment_add_up(warehouse):
    report = build_incident_report(warehouse, 1, labels=LABELS, now=NOW)
    charts = [b for s in report.sections for b in s.blocks if isinstance(b, Chart)]
    assert len(charts) == 4 and all(c.png.startswith(b"\x89PNG") for c in charts)
    assert [c.title[:2] for c in charts] == ["图1", "图2", "图3", "图4"]
    moments = _table(report, "关键节点").rows
    assert [m[1] for m in moments][:3] == ["首条信息", "首次发现并告警（III级黄色）", "签收"]
    assert any(m[1] == "依法处理启动" for m in moments)
    # spread: the stories of the evidence (the seeded incident follows no event)
    sources = _table(report, "各来源条数").rows
    assert sum(r[1] for r in sources) == report.facts["spread_total"]
    assert report.facts["spread_total"] == len([p for p in POSTS if p.content_hash == STORY])
    assert {r[0] for r in sources} == {"临江新闻"}
    over_time = _table(report, "各时段对警态度").rows
    assert sum(sum(r[1:5]) for r in over_time) == report.facts["posts"]      # stance
    assert sum(sum(r[6:9]) for r in over_time) == report.facts["posts"]      # sentiment
    assert sum(r[1] for r in over_time) == report.facts["against_police"]
    reposted = _table(report, "转发最多的内容").rows
    assert reposted[0][1] == len([p for p in POSTS if p.content_hash == STORY])
    assert isinstance(reposted[0][0], Link) and reposted[0][0].url.startswith("https://")


def test_tracks_timers_statement_and_evidence(warehouse):
    report = build_incident_report(warehouse, 1, labels=LABELS, now=NOW)
    tracks = {r[0]: r for r in _table(report, "三同步").rows}
    assert tracks["依法处理"][2].startswith("2026-11-25 12:10 法制李四（发现后 40分钟")
    assert tracks["舆论引导"][2] == "未启动"
    timers = {r[0]: r[-1] for r in _table(report, "处置时限").rows}
    assert timers["签收"] == "按时"                                   # 12 minutes of 15
    assert timers["首次官方发声"] == "超时 1小时0分"                   # 5 h of 4 h
    assert timers["进展通报"] == "未到期（剩余 3小时30分）"             # 24 h, now is +20.5 h
    assert timers["处置办结"].startswith("未到期")
    statement = dict(_table(report, "官方发声").rows)
    assert statement["发布账号"] == "青川公安" and isinstance(statement["内容（链接）"], Link)
    evidence = _table(report, "告警证据").rows
    assert [r[-1] for r in evidence] == [warehouse.evidence, warehouse.official]
    assert "内容指纹" in evidence[0][4]


def test_every_format_and_the_cli(warehouse, warehouse_url, tmp_path, capsys):
    report = build_incident_report(warehouse, 1, labels=LABELS, now=NOW)
    html = to_html(report)
    assert "&lt;b&gt;视频&lt;/b&gt;" in html and "<b>视频" not in html
    assert "jingyu" not in to_markdown(report).split("附录")[0]
    word = Word(io.BytesIO(to_docx(report)))
    assert len(word.inline_shapes) == 4 and any("专报" in p.text for p in word.paragraphs)
    out = tmp_path / "zhuanbao.docx"
    assert main(["report", "incident", "1", "--database", warehouse_url, "-o", str(out)]) == 0
    assert out.stat().st_size > 0
    assert main(["report", "incident", "99", "--database", warehouse_url]) == 1
    assert "no incident 99" in capsys.readouterr().err


def test_evidence_lists_the_kept_page_snapshots(warehouse):
    from collectors.evidence import EvidenceCapture
    from warehouse.evidence import record

    at = OPENED + timedelta(minutes=5)
    record(warehouse, 1, EvidenceCapture(
        post_id=warehouse.evidence, url="https://example.org/story/1", fetched_at=at,
        status="kept", http_status=200, sha256="ab" * 32, warc_sha256="cd" * 32, size=1234,
        path="1/post-1.warc.gz"))
    record(warehouse, 1, EvidenceCapture(
        post_id=warehouse.official, url="https://example.org/p", fetched_at=at,
        status="failed", error="HTTP 404 the page was deleted by its author"))
    report = build_incident_report(warehouse, 1, labels=LABELS, now=NOW)
    rows = {r[-1]: r[4] for r in _table(report, "告警证据").rows}
    assert rows[warehouse.evidence].endswith(
        "网页快照 2026-11-25 11:35（HTTP 200，SHA-256 abababababababab，post-1.warc.gz）")
    assert "网页快照未成功（1 次：HTTP 404" in rows[warehouse.official]


def test_timeline_chart_marks_the_moments_of_the_rows(warehouse, monkeypatch):
    """图1 marks the first post, detection, 签收, the official statement and each level change,
    where the incident's rows put them; the alt text names them with their times."""
    from alerts.incidents import actions
    from jingyu.timeutil import from_db
    from reports import charts
    from warehouse.incidents import IncidentStore
    from warehouse.queries import local_text

    store = IncidentStore(warehouse)
    raised = OPENED + timedelta(hours=1)
    actions.change_level(store, 1, 2, "带班领导王五", raised, "舆情升温")
    drawn = []
    real = charts.timeline
    monkeypatch.setattr(charts, "timeline", lambda *a: drawn.append(a) or real(*a))
    report = build_incident_report(warehouse, 1, labels=LABELS, now=NOW)
    incident = store.get(1)
    with warehouse.engine.connect() as conn:      # the first post of the evidence's story
        first = conn.execute(text("SELECT MIN(seen_at) FROM posts WHERE content_hash = :h"),
                             {"h": STORY}).scalar_one()
    first = from_db(first if isinstance(first, datetime) else datetime.fromisoformat(first))
    expected = [(first, "首条"), (incident.opened_at, "发现"),
                (incident.acknowledged_at, "签收"),
                (incident.official_statement_at, "官方发声"), (raised, "升级")]
    assert all(at is not None for at, _ in expected)
    chart = next(b for s in report.sections for b in s.blocks
                 if isinstance(b, Chart) and b.title.startswith("图1"))
    assert chart.alt.split("关键节点：")[1] == "；".join(
        f"{name} {local_text(at)}" for at, name in expected)
    labels, counts, _negative, markers = drawn[0]
    assert len(markers) == len(expected)
    # Each mark sits where its moment is: in the same order, within the chart's slots.
    positions = [at for at, _ in markers]
    by_time = sorted(range(len(expected)), key=lambda i: expected[i][0])
    assert sorted(range(len(positions)), key=lambda i: positions[i]) == by_time
    assert all(0 <= p <= len(labels) for p in positions)
    assert sum(counts) == report.facts["posts"]


def test_an_incident_found_by_content_hash_has_its_spread(warehouse):
    """An alert whose evidence names no post (its posts found by content hash) still has the
    spread of its posts' story in 三、传播情况, not "尚无可统计的传播数据" above a table of
    its first posters; figures are numbered as they appear."""
    with warehouse.engine.begin() as conn:
        conn.execute(text("UPDATE alerts SET evidence = '[]' WHERE id = 1"))
    report = build_incident_report(warehouse, 1, labels=LABELS, now=NOW)
    spread = next(s for s in report.sections if s.title == "三、传播情况")
    assert not any(getattr(b, "text", "") == "尚无可统计的传播数据。" for b in spread.blocks)
    assert report.facts["spread_total"] == len([p for p in POSTS if p.content_hash == STORY])
    charts = [b for s in report.sections for b in s.blocks if isinstance(b, Chart)]
    assert [c.title.split(" ")[0] for c in charts] == [f"图{n + 1}" for n in range(len(charts))]
