"""The daily brief (舆情日报): its numbers equal the warehouse rows, and each format holds them."""
from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

import pytest
from docx import Document as Word

from reports.blocks import Labels
from reports.daily import build_daily_brief
from reports.document import Chart, Table
from reports.render import to_docx, to_html, to_markdown, write
from tests.reports.seeding import (
    DAY,
    DAY_START,
    NOW,
    STORY,
    event_of,
    in_window,
    seed,
    stance_p,
    story_of,
)

DAY_END = DAY_START + timedelta(days=1)
LABELS = Labels(topics={"police": "涉警", "police.enforcement_dispute": "执法争议"},
                jurisdictions={"qingchuan": "青川市", "qingchuan.linjiang": "临江区"})


@pytest.fixture
def seeded(warehouse_url):
    warehouse = seed(warehouse_url)
    yield warehouse
    warehouse.close()


@pytest.fixture
def brief(seeded):
    return build_daily_brief(seeded, DAY, labels=LABELS, now=NOW)


def test_numbers_trace_to_rows(brief, seeded):
    day = in_window(DAY_START, DAY_END)
    assert brief.facts["posts"] == len(day)
    assert brief.facts["negative"] == sum(p.polarity == "negative" for p in day)
    assert brief.facts["previous_day_posts"] == len(in_window(DAY_START - timedelta(days=1),
                                                              DAY_START))
    assert sum(brief.facts["hourly"].values()) == len(day)
    assert brief.facts["hourly"]["12"] == sum(p.seen_at.astimezone(DAY_START.tzinfo).hour == 12
                                              for p in day)
    assert brief.facts["week"]["2026-11-19"] == len(in_window(DAY_START - timedelta(days=6),
                                                              DAY_START - timedelta(days=5)))
    # 涉警 is one number: posts.police_related, in the overview and in the topic table alike
    # (the seed's posts are all police-related, fewer carry the police topic)
    assert brief.facts["topics"]["police"] == brief.facts["police_related"] == len(day)
    assert len(in_window(DAY_START, DAY_END, topic="police")) < len(day)
    topics = next(t for t in brief.tables() if t.caption.startswith("热点话题"))
    assert topics.rows[0][:2] == ("涉警", len(day))
    assert brief.facts["events"][0] == event_of(seeded, STORY)
    # yx_forum broke the next morning: the day's brief shows it as it was that day
    assert brief.facts["sources_down"] == []
    next_day = build_daily_brief(seeded, DAY + timedelta(days=1), labels=LABELS, now=NOW)
    assert next_day.facts["sources_down"] == ["yx_forum"]
    assert len(brief.facts["incidents"]) == 1


def test_sections_charts_and_traces(brief):
    titles = [s.title for s in brief.sections]
    assert titles == ["一、总体情况", "二、舆情走势", "三、情感分布", "四、热点话题",
                      "五、负面热点", "六、告警与事件（三同步）", "七、信息源状态",
                      "八、附录：数据来源与口径"]
    charts = [b for s in brief.sections for b in s.blocks if isinstance(b, Chart)]
    assert len(charts) == 4 and all(c.png.startswith(b"\x89PNG") for c in charts)
    assert all(c.title.startswith("图") for c in charts)          # captions in Chinese
    # provenance in the appendix, not under the tables a leader reads
    appendix = brief.sections[-1]
    queries = next(b for b in appendix.blocks if isinstance(b, Table))
    body = [t for s in brief.sections[:-1] for t in s.blocks if isinstance(t, (Table, Chart))]
    assert all(t.trace.startswith("jingyu query ") for t in body)
    assert {t.trace for t in body} == {q for _, q in queries.rows}
    assert "2026-11-25 00:00" in appendix.blocks[0].text and "生成于 2026-11-26 08:00" in \
        appendix.blocks[0].text
    assert "jingyu query" not in to_markdown(replace(brief, sections=brief.sections[:-1]))


def test_hot_events_carry_links_counts_and_ids(brief, seeded):
    hot = next(t for t in brief.tables() if t.caption.startswith("负面热点"))
    first = hot.rows[0]
    assert first[1].url.startswith("https://example.org/story/")
    assert first[2] == "临江区"                      # the event's place, by name
    today = [p for p in in_window(DAY_START, DAY_END) if p.content_hash == STORY]
    mean = sum(map(stance_p, today)) / len(today)
    # negative toward the police now, its mean probability, the day before, change
    assert first[3:7] == (6, f"{round(mean, 3):.0%}", 1, "+5")
    # one story only: no rows under it, its number beside the event's
    assert first[-1] == f"E{event_of(seeded, STORY)} · 热点{story_of(seeded, STORY)}"
    assert hot.rows[1][0] == "2"
    new = [row for row in hot.rows if row[5] == 0]
    assert new and all(row[6] == "新出现" for row in new)


def test_incident_row_shows_sync_and_breaches(brief):
    incidents = next(t for t in brief.tables() if t.caption.startswith("当日告警"))
    row = incidents.rows[0]
    assert row[5] == "12分钟"
    assert "依法处理：40分钟后启动" in row[6] and "舆论引导：未启动" in row[6]
    assert "首次官方发声超时" in row[7]              # sensitive, no statement after 4 hours


def test_every_format_holds_the_numbers(brief, tmp_path):
    total = str(brief.facts["posts"])
    html = to_html(brief)
    assert "data:image/png;base64," in html and f"共监测到舆情信息 {total} 条" in html
    markdown = to_markdown(brief)
    assert f"共监测到舆情信息 {total} 条" in markdown and "| 日期 | 信息量 |" in markdown
    word = Word(io.BytesIO(to_docx(brief)))
    text = "\n".join(p.text for p in word.paragraphs)
    assert f"共监测到舆情信息 {total} 条" in text
    assert len(word.inline_shapes) == 4 and len(word.tables) == len(
        [t for t in brief.tables() if t.rows])
    for suffix in (".html", ".md", ".docx"):
        assert write(brief, tmp_path / f"brief{suffix}").stat().st_size > 0
    with pytest.raises(ValueError, match="use one of"):
        write(brief, tmp_path / "brief.pdf")


def test_jurisdiction_narrows_the_brief(warehouse_url):
    warehouse = seed(warehouse_url)
    try:
        brief = build_daily_brief(warehouse, DAY, jurisdiction="qingchuan.linjiang",
                                  labels=LABELS, now=NOW)
    finally:
        warehouse.close()
    assert brief.title == "舆情日报 2026-11-25（临江区）"
    assert brief.facts["posts"] == len(in_window(DAY_START, DAY_END,
                                                 jurisdiction="qingchuan.linjiang"))
    assert brief.facts["sources_down"] == []
