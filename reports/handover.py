"""交接班记录: what happened during a shift, what is still open, what the next shift inherits."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from alerts.incidents.timers import OPEN_STATUSES, TimerSettings
from jingyu.timeutil import shanghai, to_utc
from reports.blocks import (
    DEFINITIONS,
    STATUS_ZH,
    Labels,
    appendix,
    incidents_table,
    level_short,
    sources_table,
    events_table,
    trace,
)
from reports.document import Document, Paragraph, Section, Table
from warehouse.incidents import IncidentStore
from warehouse.queries import QueryParams, local_text, run_query
from warehouse.store import Warehouse

TOP_EVENTS = 5
MAX_ALERTS = 1000


def shift_hours(since: datetime, until: datetime, now: datetime) -> list[str]:
    """Local 'YYYY-MM-DD HH:00' of every hour of the shift that has begun by `now` (an hour
    still to come is not a gap in the patrol)."""
    end = min(to_utc(until), to_utc(now))
    hour = shanghai(since).replace(minute=0, second=0, microsecond=0)
    result = []
    while hour < end:
        result.append(hour.strftime("%Y-%m-%d %H:00"))
        hour += timedelta(hours=1)
    return result


def build_handover(warehouse: Warehouse, since: datetime, until: datetime, *,
                   jurisdiction: str | None = None, labels: Labels | None = None,
                   timers: TimerSettings | None = None, now: datetime) -> Document:
    engine = warehouse.engine
    labels = (labels or Labels()).with_sources(engine)
    timers = timers or TimerSettings()
    base = QueryParams(since=since, until=until, jurisdiction=jurisdiction, limit=TOP_EVENTS)
    where = labels.jurisdiction(jurisdiction) if jurisdiction else "全部辖区"

    # One ledger for every count of the shift: cycles per hour, and the posts fetched and
    # alerts raised in each hour (of the jurisdiction), so the summary is the table's sum.
    patrol_params = base
    patrol = {r["hour"]: r for r in run_query(engine, "patrol", patrol_params).records()}
    hours = shift_hours(since, until, now)
    empty = {"cycles": 0, "ok": 0, "partial": 0, "failed": 0, "posts_new": 0,
             "negative_new": 0, "alerts_new": 0}
    ledger = [(hour, patrol.get(hour, empty)) for hour in sorted(set(hours) | set(patrol))]
    cycles = sum(r["cycles"] for _, r in ledger)
    failed = sum(r["failed"] for _, r in ledger)
    partial = sum(r["partial"] for _, r in ledger)
    posts = sum(r["posts_new"] for _, r in ledger)
    negative = sum(r["negative_new"] for _, r in ledger)
    silent = [hour for hour in hours if not patrol.get(hour, empty)["cycles"]]

    alerts_params = replace(base, limit=MAX_ALERTS)
    alerts = run_query(engine, "alerts", alerts_params).records()
    alerts_table = Table(
        headers=("编号", "级别", "告警", "辖区", "首次发现", "事件状态", "签收"),
        rows=tuple((f"#{a['alert_id']}", level_short(a["level"]), labels.humanise(a["title"]),
                    labels.jurisdiction(a["jurisdiction"]), a["first_detected_at"],
                    STATUS_ZH.get(a["incident_status"] or "", a["incident_status"] or "-"),
                    f"{a['acknowledged_by']} {a['acknowledged_at']}" if a["acknowledged_by"]
                    else "未签收") for a in alerts),
        caption="本班新告警", trace=trace("alerts", alerts_params), empty="本班无新告警")
    open_table, open_states = incidents_table(
        engine, IncidentStore(warehouse), base, timers, now, "移交下一班的未结事件", labels,
        only_open=True)
    sources, down = sources_table(engine, base, "信息源异常", only_problems=True)
    hot, hot_result = events_table(engine, base,
                                   f"本班负面热点 TOP {TOP_EVENTS}（按对警负面条数）", labels)
    breached = sum(1 for row in open_table.rows if row[-1] != "无")

    ongoing = to_utc(until) > to_utc(now)
    span = f"{local_text(since)} 至 {local_text(until)}"
    summary = (f"本班（{span}{'，截至 ' + local_text(now) if ongoing else ''}）{where}："
               f"巡查 {cycles} 轮（部分失败 {partial}，失败 {failed}）"
               + (f"，{len(silent)} 个小时无巡查记录（"
                  f"{'、'.join(h[11:13] + '时' for h in silent)}）" if silent else "")
               + f"；采集信息 {posts} 条，其中负面 {negative} 条；新告警 {len(alerts)} 起；"
               f"移交未结事件 {len(open_states)} 起，其中超时或三同步滞后 {breached} 起；"
               f"信息源异常 {len(down)} 个。")
    patrol_table = Table(
        headers=("时段", "巡查轮次", "正常", "部分失败", "失败", "新帖", "其中负面", "新告警"),
        rows=tuple((hour[5:] + ("（无巡查记录）" if not r["cycles"] and hour in hours else ""),
                    r["cycles"], r["ok"], r["partial"], r["failed"], r["posts_new"],
                    r["negative_new"], r["alerts_new"]) for hour, r in ledger),
        caption=("巡查日志（按小时；新帖、新告警为本辖区，巡查轮次为全部信息源）" if jurisdiction
                 else "巡查日志（按小时）"),
        trace=trace("patrol", patrol_params),
        empty="本班无巡查记录——监测可能已中断，请立即检查")
    sections = (
        Section("一、本班概况", (Paragraph(summary), patrol_table)),
        Section("二、本班告警", (alerts_table,)),
        Section("三、未结事件（交下一班）", (open_table,)),
        Section("四、信息源异常", (sources,)),
        Section("五、本班负面热点", (hot,)),
    )
    return Document(
        title=f"交接班记录 {span}",
        subtitle=f"{where} · 北京时间 · 生成于 {local_text(now)}",
        sections=sections + (appendix(
            sections, number="六", window=span,
            where=f"{where}（含下级单位）" if jurisdiction else where, now=now,
            warehouse_url=engine.url.render_as_string(hide_password=True),
            definitions=DEFINITIONS),),
        facts={"cycles": cycles, "failed_cycles": failed, "silent_hours": silent,
               "posts": posts, "negative": negative,
               "alerts": [a["alert_id"] for a in alerts],
               "events": [r["event_id"] for r in hot_result.records()],
               "open_incidents": [s.id for s in open_states if s.status in OPEN_STATUSES],
               "sources_down": [r["source_id"] for r in down]},
    )
