"""交接班记录: what happened during a shift, what is still open, what the next shift inherits."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from alerts.incidents.timers import OPEN_STATUSES, TimerSettings
from jingyu.timeutil import shanghai
from reports.blocks import (
    STATUS_ZH,
    Labels,
    incidents_table,
    level_short,
    sources_table,
    stories_table,
    trace,
)
from reports.document import Document, Paragraph, Section, Table
from warehouse.incidents import IncidentStore
from warehouse.queries import QueryParams, local_text, run_query
from warehouse.store import Warehouse

TOP_STORIES = 5


def _hours(since: datetime, until: datetime) -> list[str]:
    """Local 'YYYY-MM-DD HH' of every hour the shift touches."""
    hour = shanghai(since).replace(minute=0, second=0, microsecond=0)
    result = []
    while hour < until:
        result.append(hour.strftime("%Y-%m-%d %H"))
        hour += timedelta(hours=1)
    return result


def build_handover(warehouse: Warehouse, since: datetime, until: datetime, *,
                   jurisdiction: str | None = None, labels: Labels | None = None,
                   timers: TimerSettings | None = None, now: datetime) -> Document:
    labels = labels or Labels()
    timers = timers or TimerSettings()
    engine = warehouse.engine
    base = QueryParams(since=since, until=until, jurisdiction=jurisdiction, limit=TOP_STORIES)
    where = labels.jurisdiction(jurisdiction) if jurisdiction else "全部辖区"

    patrol_params = replace(base, jurisdiction=None)
    patrol = run_query(engine, "patrol", patrol_params).records()
    cycles = sum(r["cycles"] for r in patrol)
    failed = sum(r["failed"] for r in patrol)
    partial = sum(r["partial"] for r in patrol)
    covered = {r["hour"] for r in patrol}
    silent = [hour for hour in _hours(since, until) if f"{hour}:00" not in covered]
    volume_params = replace(base, by=("polarity",))
    volume = {r["polarity"]: r for r in run_query(engine, "volume", volume_params).records()}
    posts = sum(r["posts"] for r in volume.values())
    negative = volume.get("negative", {}).get("posts", 0)

    alerts_params = replace(base, limit=200)
    alerts = run_query(engine, "alerts", alerts_params).records()
    alerts_table = Table(
        headers=("编号", "级别", "告警", "辖区", "首次发现", "事件状态", "签收"),
        rows=tuple((f"#{a['alert_id']}", level_short(a["level"]), a["title"],
                    labels.jurisdiction(a["jurisdiction"]), a["first_detected_at"],
                    STATUS_ZH.get(a["incident_status"] or "", a["incident_status"] or "-"),
                    f"{a['acknowledged_by']} {a['acknowledged_at']}" if a["acknowledged_by"]
                    else "未签收") for a in alerts),
        caption="本班新告警", trace=trace("alerts", alerts_params), empty="本班无新告警")
    open_table, open_states = incidents_table(
        engine, IncidentStore(warehouse), base, timers, now, "移交下一班的未结事件",
        only_open=True)
    sources, down = sources_table(engine, base, "信息源异常", only_problems=True)
    stories, _ = stories_table(engine, base, f"本班负面热点 TOP {TOP_STORIES}")
    breached = sum(1 for row in open_table.rows if row[-1] != "无")

    summary = (f"本班（{local_text(since)} 至 {local_text(until)}）{where}：巡查 {cycles} 轮"
               f"（部分失败 {partial}，失败 {failed}）"
               + (f"，{len(silent)} 个小时无巡查记录（{'、'.join(h[11:] + '时' for h in silent)}）"
                  if silent else "")
               + f"；采集信息 {posts} 条，负面 {negative} 条；新告警 {len(alerts)} 起；"
               f"移交未结事件 {len(open_states)} 起，其中超时或三同步滞后 {breached} 起；"
               f"信息源异常 {len(down)} 个。")
    return Document(
        title=f"交接班记录 {local_text(since)} 至 {local_text(until)}",
        subtitle=f"{where} · 北京时间 · 生成于 {local_text(now)}",
        sections=(
            Section("一、本班概况", (Paragraph(summary), Table(
                headers=("时段", "巡查轮次", "正常", "部分失败", "失败", "新帖", "新告警"),
                rows=tuple((r["hour"][11:], r["cycles"], r["ok"], r["partial"], r["failed"],
                            r["posts_new"], r["alerts_new"]) for r in patrol),
                caption="巡查日志（按小时）", trace=trace("patrol", patrol_params),
                empty="本班无巡查记录——监测可能已中断，请立即检查"))),
            Section("二、本班告警", (alerts_table,)),
            Section("三、未结事件（交下一班）", (open_table,)),
            Section("四、信息源异常", (sources,)),
            Section("五、本班负面热点", (stories,)),
        ),
        footnotes=(
            f"统计窗口：{base.describe()}；辖区含下级单位；巡查日志不分辖区。",
            "数据来源：警舆数据仓库；每个表格下方的命令可复现其数字。",
            f"事件状态、超时与信息源状态截至 {local_text(now)}（北京时间）。",
        ),
        facts={"cycles": cycles, "failed_cycles": failed, "silent_hours": silent,
               "posts": posts, "negative": negative,
               "alerts": [a["alert_id"] for a in alerts],
               "open_incidents": [s.id for s in open_states if s.status in OPEN_STATUSES],
               "sources_down": [r["source_id"] for r in down]},
    )
