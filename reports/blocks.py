"""Sections both reports share: each runs a named query and says how to reproduce it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine

from alerts.levels import LEVELS
from alerts.incidents.timers import TRACKS, TimerSettings, breaches, sync_gaps
from reports.document import Link, Table
from warehouse.incidents import IncidentStore
from warehouse.queries import QueryParams, QueryResult, local_text, run_query
from warehouse.records import IncidentState

STATUS_ZH = {"new": "待签收", "acknowledged": "已签收", "handling": "处置中",
             "resolved": "已处置", "closed": "已关闭"}
POLARITY_ZH = {"negative": "负面", "neutral": "中性", "positive": "正面"}


@dataclass(frozen=True)
class Labels:
    """Names people read for the ids the warehouse stores (from rules.yaml, jurisdictions.yaml)."""

    topics: Mapping[str, str] = field(default_factory=dict)
    jurisdictions: Mapping[str, str] = field(default_factory=dict)

    def topic(self, topic_id: str) -> str:
        return self.topics.get(topic_id, topic_id)

    def jurisdiction(self, jurisdiction_id: str | None) -> str:
        if not jurisdiction_id:
            return "-"
        return self.jurisdictions.get(jurisdiction_id, jurisdiction_id)


def trace(name: str, params: QueryParams) -> str:
    """The command that prints the rows behind a table."""
    parts = ["jingyu query", name, f"--since '{local_text(params.since)}'",
             f"--until '{local_text(params.until)}'"]
    for option in ("topic", "jurisdiction", "source", "polarity"):
        if getattr(params, option):
            parts.append(f"--{option} {getattr(params, option)}")
    if name == "volume":
        parts.append(f"--by {','.join(params.by)}")
    if name in ("top_stories", "posts", "alerts"):
        parts.append(f"--limit {params.limit}")
    return "数据：" + " ".join(parts)


def level_short(level: int) -> str:
    info = LEVELS.get(level)
    return f"{info['roman']}级{info['colour_zh']}" if info else str(level)


def duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}小时{minutes % 60}分" if minutes >= 60 else f"{minutes}分钟"


def stories_table(engine: Engine, params: QueryParams, caption: str) -> tuple[Table, QueryResult]:
    """Top negative stories (reposts and near-copies of one text) with link, counts, post id."""
    params = replace(params, polarity="negative")
    result = run_query(engine, "top_stories", params)
    rows = tuple(
        (n, Link(r["title"] or "(无标题)", r["url"]), r["posts"], r["growth"], r["sources"],
         r["first_seen_at"], r["first_post_id"], r["story_key"])
        for n, r in enumerate(result.records(), start=1))
    table = Table(headers=("序号", "标题（首发链接）", "负面条数", "较上期增长", "来源数",
                           "首次出现", "首条帖子ID", "热点编号"),
                  rows=rows, caption=caption, trace=trace("top_stories", params),
                  empty="本时段无负面信息")
    return table, result


def incidents_table(warehouse_engine: Engine, store: IncidentStore, params: QueryParams,
                    timers: TimerSettings, now: datetime, caption: str,
                    only_open: bool = False) -> tuple[Table, list[IncidentState]]:
    """Incidents with 三同步 status per track, timings from first detection, breached timers."""
    result = run_query(warehouse_engine, "incidents", params)
    records = result.records()
    states = store.by_ids([r["incident_id"] for r in records])
    rows, shown = [], []
    for r in records:
        state = states.get(r["incident_id"])
        if state is None or (only_open and state.status in ("resolved", "closed")):
            continue
        shown.append(state)
        tracks = {t.track: t for t in state.tracks}
        sync = []
        for track_id, (name, _roles) in TRACKS.items():
            track = tracks.get(track_id)
            if track is None or track.started_at is None:
                sync.append(f"{name}：未启动")
            elif track.done_at is not None:
                sync.append(f"{name}：已完成")
            else:
                sync.append(f"{name}：{duration(track.started_at - state.opened_at)}后启动")
        problems = [f"{b.label}超时{duration(b.overdue)}" for b in breaches(state, timers, now)]
        problems += [f"三同步：{TRACKS[g.lagging][0]}滞后{duration(g.behind)}"
                     for g in sync_gaps(state.tracks, now, timedelta(minutes=timers.sync_minutes))]
        ack = (f"{r['ack_min']:g}分钟" if r["ack_min"] is not None else "未签收")
        rows.append((f"#{state.id}", level_short(state.level), state.title,
                     STATUS_ZH.get(state.status, state.status), r["opened_at"], ack,
                     "；".join(sync), "；".join(problems) or "无"))
    table = Table(headers=("编号", "级别", "事件", "状态", "首次发现", "签收用时",
                           "三同步", "超时（截至" + local_text(now) + "）"),
                  rows=tuple(rows), caption=caption, trace=trace("incidents", params),
                  empty="无")
    return table, shown


def sources_table(engine: Engine, params: QueryParams, caption: str,
                  only_problems: bool = False) -> tuple[Table, list[dict]]:
    """Source health: polls and failures in the window, posts, consecutive failures."""
    result = run_query(engine, "source_health", replace(params, topic=None, polarity=None))
    records = [r for r in result.records() if r["enabled"]]
    down = [r for r in records if r["consecutive_failures"] or r["failed"]
            or (r["attempts"] and not r["posts"])]
    shown = down if only_problems else records
    rows = tuple((r["name"], r["source_id"], r["attempts"], r["failed"], r["posts"],
                  r["consecutive_failures"], r["last_success_at"] or "从未",
                  (r["last_error"] or "")[:120]) for r in shown)
    table = Table(headers=("信息源", "ID", "采集次数", "失败", "新帖", "连续失败", "最近成功",
                           "最近错误"),
                  rows=rows, caption=caption,
                  trace=trace("source_health", replace(params, topic=None, polarity=None)),
                  empty="全部信息源正常")
    return table, down
