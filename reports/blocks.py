"""Sections both reports share: each runs a named query, and the report's appendix says which
(数据来源), so that every number traces to warehouse rows."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Engine, text

from alerts.incidents.timers import TRACKS, TimerSettings, breaches, sync_gaps
from alerts.levels import LEVELS
from reports.document import Chart, Link, Paragraph, Section, Table, shorten
from warehouse.incidents import IncidentStore
from warehouse.queries import (
    QueryParams,
    QueryResult,
    hot_events,
    local_text,
    run_query,
)
from warehouse.records import IncidentState

STATUS_ZH = {"new": "待签收", "acknowledged": "已签收", "handling": "处置中",
             "resolved": "已处置", "closed": "已关闭"}
POLARITY_ZH = {"negative": "负面", "neutral": "中性", "positive": "正面"}


@dataclass(frozen=True)
class Labels:
    """Names people read for the ids the warehouse stores (from rules.yaml, jurisdictions.yaml)."""

    topics: Mapping[str, str] = field(default_factory=dict)
    jurisdictions: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)

    def topic(self, topic_id: str) -> str:
        return self.topics.get(topic_id, topic_id)

    def jurisdiction(self, jurisdiction_id: str | None) -> str:
        if not jurisdiction_id:
            return "-"
        return self.jurisdictions.get(jurisdiction_id, jurisdiction_id)

    def source(self, source_id: str | None) -> str:
        if not source_id:
            return "-"
        return self.sources.get(source_id, source_id)

    def with_sources(self, engine: Engine) -> Labels:
        """These labels and the names of the warehouse's sources."""
        with engine.connect() as conn:
            names = dict(conn.execute(text("SELECT id, name FROM sources")).all())
        return replace(self, sources={**names, **self.sources})

    def humanise(self, text: str) -> str:
        """Text written by jingyu (an alert title) with jurisdiction and source ids replaced
        by their names: 涉警负面舆情激增：qingchuan.linjiang -> 涉警负面舆情激增：临江区."""
        names = {**self.sources, **self.jurisdictions}
        if not names or not text:
            return text
        pattern = _id_pattern(tuple(sorted(names, key=len, reverse=True)))
        return pattern.sub(lambda m: names[m.group(0)], text)


@lru_cache(maxsize=8)
def _id_pattern(ids: tuple[str, ...]) -> re.Pattern[str]:
    # An id is replaced only where it stands alone (not inside a longer id or a URL path).
    return re.compile(r"(?<![\w.\-/])(?:" + "|".join(map(re.escape, ids)) + r")(?![\w.\-/])")


def trace(name: str, params: QueryParams) -> str:
    """The command that prints the rows behind a table (for the appendix)."""
    parts = ["jingyu query", name, f"--since '{local_text(params.since)}'",
             f"--until '{local_text(params.until)}'"]
    for option in ("topic", "jurisdiction", "source", "polarity", "stance"):
        if getattr(params, option):
            parts.append(f"--{option} {getattr(params, option)}")
    if name == "volume":
        parts.append(f"--by {','.join(params.by)}")
    if name in ("top_stories", "top_events", "posts", "alerts"):
        parts.append(f"--limit {params.limit}")
    return " ".join(parts)


def level_short(level: int) -> str:
    info = LEVELS.get(level)
    return f"{info['roman']}级{info['colour_zh']}" if info else str(level)


def share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}小时{minutes % 60}分" if minutes >= 60 else f"{minutes}分钟"


def change_text(posts: int, before: int) -> str:
    """How a count moved against the period before: 新出现 when it was not there at all."""
    if not before:
        return "新出现" if posts else "-"
    return f"{posts - before:+d}"


STORIES_SHOWN = 3            # stories listed under each hot event; the rest summed in one row
STORY_CHARS = 40


def story_label(story: Mapping) -> str:
    """A story by its first post: the title, else the start of the text."""
    return shorten(story["title"] or story["text_start"] or "", STORY_CHARS) or "(无标题)"


def events_table(engine: Engine, params: QueryParams, caption: str,
                 labels: Labels) -> tuple[Table, QueryResult]:
    """负面热点: real-world events (warehouse.events) ranked by their posts negative toward the
    police (posts.police_stance, not general sentiment: anger at an offender or a bus
    timetable is not a hot spot against the police), with the mean probability of that
    stance, the period before, sources; under each event, its stories (reposts and
    near-copies of one text) with their first post's link, the rest summed in one row."""
    params = replace(params, stance="negative", polarity=None)
    hot = hot_events(engine, params)
    result = QueryResult(name="top_events", columns=list(hot[0].event) if hot else [],
                         rows=[tuple(h.event.values()) for h in hot], params=params)
    inside = {h.event["event_id"]: h.stories for h in hot}
    rows: list[tuple] = []
    for n, r in ((h.rank, h.event) for h in hot):
        probability = r["negative_police_p"]
        rows.append((str(n), Link(r["title"] or "(无标题)", r["url"]),
                     labels.jurisdiction(r["jurisdiction"]), r["posts"],
                     f"{probability:.0%}" if probability is not None else "-",
                     r["posts_before"], change_text(r["posts"], r["posts_before"]),
                     r["sources"], r["first_seen_at"],
                     f"E{r['event_id']}" + (f" · 热点{inside[r['event_id']][0]['story_key']}"
                                           if len(inside.get(r["event_id"], ())) == 1
                                           else "")))
        stories = inside.get(r["event_id"], [])
        if len(stories) == 1:              # one text and its copies: the event row says it all
            continue
        for m, story in enumerate(stories[:STORIES_SHOWN], start=1):
            rows.append((f"{n}.{m}", Link("└ " + story_label(story), story["url"]),
                         labels.source(story["source_id"]), story["posts"], "", "", "",
                         story["sources"], story["first_seen_at"],
                         f"热点{story['story_key']}"))
        rest = stories[STORIES_SHOWN:]
        if rest:
            rows.append((f"{n}.{STORIES_SHOWN + 1}", f"└ 其余 {len(rest)} 个热点", "",
                         sum(s["posts"] for s in rest), "", "", "", "",
                         min(s["first_seen_at"] for s in rest), ""))
    table = Table(headers=("序号", "事件 / 其中热点（首发链接）", "辖区 / 首发来源", "对警负面条数",
                           "负面概率均值", "上期", "变化", "来源数", "首次出现", "编号"),
                  rows=tuple(rows), caption=caption, trace=trace("top_events", params),
                  empty="本时段无对警负面信息")
    return table, result


def incidents_table(warehouse_engine: Engine, store: IncidentStore, params: QueryParams,
                    timers: TimerSettings, now: datetime, caption: str, labels: Labels,
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
            unit = f"（{track.unit}）" if track is not None and track.unit else ""
            if track is None or track.started_at is None:
                sync.append(f"{name}{unit}：未启动")
            elif track.done_at is not None:
                sync.append(f"{name}{unit}：已完成")
            else:
                sync.append(f"{name}{unit}：{duration(track.started_at - state.opened_at)}后启动")
        problems = [f"{b.label}超时{duration(b.overdue)}" for b in breaches(state, timers, now)]
        problems += [f"三同步：{TRACKS[g.lagging][0]}滞后{duration(g.behind)}"
                     for g in sync_gaps(state.tracks, now, timedelta(minutes=timers.sync_minutes))]
        ack = (f"{r['ack_min']:g}分钟" if r["ack_min"] is not None else "未签收")
        rows.append((f"#{state.id}", level_short(state.level), labels.humanise(state.title),
                     STATUS_ZH.get(state.status, state.status), r["opened_at"], ack,
                     "；".join(sync), "；".join(problems) or "无"))
    table = Table(headers=("编号", "级别", "事件", "状态", "首次发现", "签收用时",
                           "三同步", "超时（截至" + local_text(now) + "）"),
                  rows=tuple(rows), caption=caption, trace=trace("incidents", params),
                  empty="无")
    return table, shown


ERROR_CHARS = 60


def sources_table(engine: Engine, params: QueryParams, caption: str,
                  only_problems: bool = False) -> tuple[Table, list[dict]]:
    """Source health as it stood at the end of the window: polls and failures in it, posts
    fetched, consecutive failures, last success, the last error of a failing source."""
    params = replace(params, topic=None, polarity=None, stance=None)
    result = run_query(engine, "source_health", params)
    records = [r for r in result.records() if r["enabled"]]
    down = [r for r in records if r["consecutive_failures"] or r["failed"]
            or (r["attempts"] and not r["posts"])]
    shown = down if only_problems else records
    rows = tuple((r["name"], r["attempts"], r["failed"], r["posts"], r["consecutive_failures"],
                  r["last_success_at"] or "从未", _error_text(r)) for r in shown)
    table = Table(headers=("信息源", "采集次数", "失败", "新帖", "连续失败",
                           "最近成功", "最近错误"),
                  rows=rows, caption=caption, trace=trace("source_health", params),
                  empty="全部信息源正常")
    return table, down


def _error_text(record: Mapping) -> str:
    error = (record["last_error"] or "").removeprefix(f"{record['source_id']}: ")
    return shorten(error, ERROR_CHARS)


DEFINITIONS = (
    "信息量：发布时间（无发布时间的取采集时间）在统计时段内的帖子条数；辖区含下级单位。",
    "涉警：经涉警识别判定与公安机关、民警辅警相关的帖子，总体情况与话题统计中的“涉警”为同一口径。",
    "负面/中性/正面：帖子整体的情感倾向。",
    "负面热点：按事件排列。事件是讲述同一件事的全部帖子（措辞不同亦归为一件，事件编号即数据仓库中的"
    "编号 E13 即 event_id 13，可用 jingyu events show 13 查看每条帖子归入的理由）；排序依据为对公安机关持负面态度"
    "（对警负面，police_stance）的帖子条数，而非帖子的整体情感：批评违法者、咨询公交、发布提醒不计入。"
    "“负面概率均值”为这些帖子对警负面判定概率的平均值。事件下列出其中的热点：同一文本的转发、转载"
    "及改写（近似文本）归为一个热点，热点编号即 story_id（热点42 即 story_id 42）。“上期”为紧邻的前一个等长时段。",
    "采集：本时段内新存入数据仓库的帖子（按采集时间），与巡查日志中的“新帖”为同一口径。",
)


def appendix(sections: Sequence[Section], *, number: str, window: str, where: str,
             now: datetime, warehouse_url: str, definitions: Sequence[str]) -> Section:
    """附录：数据来源与口径 — the window, when and from which warehouse the report was made,
    what each figure counts, and the query behind each table and chart."""
    queries: dict[str, str] = {}
    for section in sections:
        for block in section.blocks:
            if isinstance(block, (Table, Chart)) and block.trace:
                name = block.caption if isinstance(block, Table) else block.title
                queries.setdefault(f"{section.title}：{name or '表'}", block.trace)
    facts = (f"统计时段：{window}（北京时间）；范围：{where}。"
             f"报告生成于 {local_text(now)}（北京时间），数据取自警舆数据仓库 {warehouse_url}。"
             "信息源状态为统计时段结束时的状态；事件状态与超时截至报告生成时刻。")
    blocks: list = [Paragraph(facts)] + [Paragraph(d) for d in definitions]
    blocks.append(Table(headers=("内容", "数据查询（jingyu query，可复现表中数字）"),
                        rows=tuple(queries.items()), caption="各图表的数据来源"))
    return Section(f"{number}、附录：数据来源与口径", tuple(blocks))
