"""The shift handover (交接班): the shift's patrol, alerts, open incidents and dead sources."""
from __future__ import annotations

from datetime import timedelta

import pytest

from reports.handover import build_handover
from reports.render import to_markdown
from tests.reports.seeding import DAY_START, NOW, in_window, seed

NIGHT = (DAY_START + timedelta(hours=24), DAY_START + timedelta(hours=32))   # 00:00-08:00
DAY_SHIFT = (DAY_START + timedelta(hours=8), DAY_START + timedelta(hours=20))  # 08:00-20:00


@pytest.fixture
def warehouse(warehouse_url):
    w = seed(warehouse_url)
    yield w
    w.close()


def test_night_shift_sees_failures_and_silent_hours(warehouse):
    report = build_handover(warehouse, *NIGHT, now=NOW)
    assert report.facts["cycles"] == 2 and report.facts["failed_cycles"] == 2
    assert [h[11:13] for h in report.facts["silent_hours"]] == ["00", "01", "02", "03", "04",
                                                                "05"]
    assert report.facts["sources_down"] == ["yx_forum"]
    assert report.facts["open_incidents"] == [1]          # opened the day before, still open
    assert report.facts["alerts"] == []
    text = to_markdown(report)
    assert "6 个小时无巡查记录" in text and "| 云溪论坛 |" in text and "HTTP 432 blocked" in text
    assert "yx\\_forum" not in text.split("附录")[0]          # names, not ids, above the appendix


def test_day_shift_lists_its_alert_posts_and_breached_timers(warehouse):
    report = build_handover(warehouse, *DAY_SHIFT, now=NOW)
    shift = in_window(*DAY_SHIFT)
    assert report.facts["posts"] == len(shift)
    assert report.facts["negative"] == sum(p.polarity == "negative" for p in shift)
    assert report.facts["alerts"] == [1]
    open_table = next(t for t in report.tables() if t.caption.startswith("移交"))
    assert "首次官方发声超时" in open_table.rows[0][-1]
    assert "三同步：舆论引导滞后" in open_table.rows[0][-1]
    stories = next(t for t in report.tables() if t.caption.startswith("本班负面热点"))
    assert stories.rows[0][3] == 6


def test_the_jurisdiction_filter_applies(warehouse):
    report = build_handover(warehouse, *DAY_SHIFT, jurisdiction="qingchuan.yunxi", now=NOW)
    assert report.facts["alerts"] == [] and report.facts["open_incidents"] == []
    assert report.facts["posts"] == len(in_window(*DAY_SHIFT, jurisdiction="qingchuan.yunxi"))
