"""The daily brief (舆情日报): its numbers equal the warehouse rows, and each format holds them."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from docx import Document as Word

from reports.blocks import Labels
from reports.daily import build_daily_brief
from reports.document import Chart
from reports.render import to_docx, to_html, to_markdown, write
from tests.reports.seeding import DAY, DAY_START, NOW, STORY, in_window, seed, story_of

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
    assert brief.facts["topics"]["police"] == len(in_window(DAY_START, DAY_END, topic="police"))
    assert brief.facts["stories"][0] == story_of(seeded, STORY)
    assert brief.facts["sources_down"] == ["yx_forum"]
    assert len(brief.facts["incidents"]) == 1


def test_sections_charts_and_traces(brief):
    titles = [s.title for s in brief.sections]
    assert titles == ["一、总体情况", "二、舆情走势", "三、情感分布", "四、热点话题",
                      "五、负面热点",
                      "六、告警与事件（三同步）", "七、信息源状态"]
    charts = [b for s in brief.sections for b in s.blocks if isinstance(b, Chart)]
    assert len(charts) == 4 and all(c.png.startswith(b"\x89PNG") for c in charts)
    for table in brief.tables():
        assert table.trace.startswith("数据：jingyu query ")
    assert any("2026-11-25 00:00" in note for note in brief.footnotes)


def test_stories_carry_links_counts_and_post_ids(brief):
    stories = next(t for t in brief.tables() if t.caption.startswith("负面热点"))
    first = stories.rows[0]
    assert first[1].url.startswith("https://example.org/story/")
    assert first[2:4] == (6, 5)                    # negative posts, growth over the day before
    assert isinstance(first[6], int)               # the first post's id


def test_incident_row_shows_sync_and_breaches(brief):
    incidents = next(t for t in brief.tables() if t.caption.startswith("当日告警"))
    row = incidents.rows[0]
    assert row[5] == "12分钟"
    assert "依法处理：40分钟后启动" in row[6] and "舆论引导：未启动" in row[6]
    assert "首次官方发声超时" in row[7]              # sensitive, no statement after 4 hours


def test_every_format_holds_the_numbers(brief, tmp_path):
    total = str(brief.facts["posts"])
    html = to_html(brief)
    assert "data:image/png;base64," in html and f"共采集舆情信息 {total} 条" in html
    markdown = to_markdown(brief)
    assert f"共采集舆情信息 {total} 条" in markdown and "| 日期 | 信息量 |" in markdown
    word = Word(io.BytesIO(to_docx(brief)))
    text = "\n".join(p.text for p in word.paragraphs)
    assert f"共采集舆情信息 {total} 条" in text
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
