"""专报: the special report on one incident — its timeline, spread, sentiment, places, the
三同步 tracks, timers, the official statement and the evidence. Every number is counted from
the incident's rows and posts; every quote is a post's own title with its link."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from alerts.incidents.timers import (
    ACK,
    CLOSURE,
    PROGRESS,
    STATEMENT,
    TIMER_NAMES,
    TRACKS,
    TimerSettings,
)
from jingyu.timeutil import from_db, shanghai
from reports import charts
from reports.blocks import POLARITY_ZH, STATUS_ZH, Labels, duration, level_short, share
from reports.document import Chart, Document, Link, Paragraph, Section, Table, shorten
from warehouse.incident_posts import SELECTION, IncidentPost, posts_of_incident
from warehouse.incidents import IncidentStore
from warehouse.queries import local_text
from warehouse.records import IncidentEvent, IncidentState
from warehouse.spread import Spread, incident_spread
from warehouse.store import Warehouse

TOP = 10
QUOTE_CHARS = 60
TAGS_ZH = {"official": "官方账号", "weibo": "微博", "wechat": "微信", "news": "新闻网站",
           "forum": "论坛", "social": "社交媒体", "video": "视频", "government": "政务网站"}
ACTIONS_ZH = {"opened": "首次发现并告警", "level_raised": "级别上调", "level_lowered": "级别下调",
              "reopened": "重新打开", "acknowledged": "签收", "official_statement": "官方首次发声",
              "official_progress": "官方进展通报", "escalated": "超时升级至带班领导",
              "resolved": "处置完成", "closed": "关闭"}
MARKS_ASCII = {"首条": "first post", "发现": "alert", "签收": "ack", "官方发声": "statement",
               "升级": "level up", "降级": "level down"}
TRACK_ACTIONS_ZH = {"track_start": "启动", "track_done": "完成", "track_note": "备注"}


@dataclass(frozen=True)
class Slots:
    """Equal time slots covering the incident, for its charts."""

    start: datetime
    size: timedelta
    count: int

    @classmethod
    def covering(cls, first: datetime, last: datetime) -> Slots:
        span = last - first
        size = (timedelta(minutes=10) if span <= timedelta(hours=6) else
                timedelta(hours=1) if span <= timedelta(days=2) else timedelta(days=1))
        local = shanghai(first)
        if size == timedelta(days=1):
            start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        elif size == timedelta(hours=1):
            start = local.replace(minute=0, second=0, microsecond=0)
        else:
            start = local.replace(minute=local.minute - local.minute % 10, second=0,
                                  microsecond=0)
        return cls(start, size, int((last - start) // size) + 1)

    def index(self, at: datetime) -> int:
        return int((at - self.start) // self.size)

    def position(self, at: datetime) -> float:
        return (at - self.start) / self.size

    def labels(self) -> list[str]:
        form = ("%m-%d" if self.size >= timedelta(days=1) else
                "%m-%d %H时" if self.size >= timedelta(hours=1) else "%m-%d %H:%M")
        return [(self.start + i * self.size).strftime(form) for i in range(self.count)]

    def describe(self) -> str:
        return ("每天" if self.size >= timedelta(days=1) else
                "每小时" if self.size >= timedelta(hours=1) else "每10分钟")


def _at(value: datetime | None) -> str:
    return local_text(value) if value else "-"


def _after(later: datetime | None, earlier: datetime) -> str:
    if later is None:
        return "-"
    delta = later - earlier
    return ("提前" + duration(-delta)) if delta < timedelta(0) else duration(delta)


def _quote(post: IncidentPost) -> Link:
    return Link(shorten(post.title or post.text, QUOTE_CHARS) or "(无标题)", post.url)


def _platform(post: IncidentPost) -> str:
    return "、".join(TAGS_ZH.get(t, t) for t in post.source_tags) or "-"


def build_incident_report(warehouse: Warehouse, incident_id: int, *,
                          labels: Labels | None = None, timers: TimerSettings | None = None,
                          now: datetime) -> Document:
    engine = warehouse.engine
    labels = (labels or Labels()).with_sources(engine)
    timers = timers or TimerSettings()
    store = IncidentStore(warehouse)
    incident = store.get(incident_id)
    events = store.events(incident_id)
    official = [incident.official_post_id] if incident.official_post_id else []
    # The evidence of its alerts (and of the alerts that joined it), their stories, its event.
    evidence_ids, posts = posts_of_incident(store, incident)
    by_id = {p.id: p for p in posts}
    # Where it spread: the incident's event and the comments and reposts of its posts (else
    # the stories of its posts, found by evidence or by content hash, less its official
    # statement), counted by warehouse.spread.
    spread = incident_spread(engine, incident.event_id,
                             [p.id for p in posts if p.id != incident.official_post_id])
    title = labels.humanise(incident.title)
    place = labels.jurisdiction(incident.jurisdiction) if incident.jurisdiction else "全部辖区"

    moments = [m for m in (posts[0].seen_at if posts else None, incident.opened_at,
                           incident.acknowledged_at, incident.official_statement_at,
                           incident.resolved_at, *(e.at for e in events)) if m]
    first_post = posts[0] if posts else None
    slots = Slots.covering(min(moments), max(moments + [p.seen_at for p in posts]))
    sections = (
        Section("一、事件概况", _overview(incident, posts, title, place, labels)),
        Section("二、时间线", _timeline(incident, events, posts, slots)),
        Section("三、传播情况", _spread(posts, spread)),
        Section("四、对警态度与情感走势", _sentiment(posts, slots)),
        Section("五、涉及地点", (_places(posts, labels),)),
        Section("六、三同步", (_tracks(incident),)),
        Section("七、时限", (_timers(incident, timers, now),)),
        Section("八、官方发声", _statement(incident, by_id, first_post)),
        Section("九、证据清单", (_evidence(evidence_ids, incident.official_post_id, by_id,
                                        _captures(engine, evidence_ids + official)),)),
    )
    sections = _numbered(sections)
    stories = sorted({p.story_id for p in posts if p.story_id is not None})
    appendix = Section("十、附录：数据来源", (
        Paragraph(f"事件编号 #{incident.id}（告警编号 {incident.alert_id}）；报告生成于 "
                  f"{local_text(now)}（北京时间），数据取自警舆数据仓库 "
                  f"{engine.url.render_as_string(hide_password=True)}。"
                  "事件状态、三同步与时限截至报告生成时刻。"),
        Paragraph(f"事件帖子的范围：{SELECTION}。共 {len(posts)} 条帖子，"
                  f"{len(stories)} 个热点。"),
        Table(headers=("内容", "复现"), rows=(
            ("事件、三同步、处置记录", f"jingyu alerts show {incident.id}"),
            ("告警证据", f"jingyu query --sql \"select evidence from alerts where id = "
                     f"{incident.alert_id}\""),
            ("热点编号（story_id）", "、".join(str(s) for s in stories) or "无"),
            ("传播情况", _spread_trace(spread)),
            ("网页快照（固证，WARC 文件）",
             f"jingyu evidence export {incident.id} -o bundle.zip"),
            ("对警态度", "事件帖子的 police_stance（对警负面/中性/正面）与 police_stance_p（判定概率）"
                     "两列；非涉警帖子无此值"),
            ("事件帖子", "jingyu query --sql \"select * from posts where story_id in ("
                     + (", ".join(str(s) for s in stories) or "NULL") + ") or id in ("
                     + (", ".join(str(i) for i in evidence_ids + official) or "NULL") + ")"
                     + (f" or id in (select post_id from event_posts where event_id = "
                        f"{incident.event_id})" if incident.event_id is not None else "")
                     + "\""),
        ), caption="复现本报告的数字"),
    ))
    return Document(
        title=f"专报：{title}",
        subtitle=f"事件编号 #{incident.id} · {level_short(incident.level)} · {place} · "
                 f"生成于 {local_text(now)}（北京时间）",
        sections=sections + (appendix,),
        facts={"posts": len(posts), "negative": sum(p.polarity == "negative" for p in posts),
               "sources": len({p.source_id for p in posts}), "stories": stories,
               "evidence": evidence_ids, "first_post": first_post.id if first_post else None,
               "slots": slots.count,
               "against_police": sum(p.police_stance == "negative" for p in posts),
               "spread_posts": spread.posts if spread else 0,
               "spread_total": spread.total if spread else 0,
               "spread_event": spread.event_id if spread else None},
    )


def _numbered(sections: tuple[Section, ...]) -> tuple[Section, ...]:
    """Figures numbered in the order they appear: without a spread there is no 传播曲线, and
    a leader reading 图1 then 图3 looks for the missing figure."""
    count = 0

    def number(block):
        nonlocal count
        if not isinstance(block, Chart):
            return block
        count += 1
        return replace(block, title=re.sub(r"^图\d+", f"图{count}", block.title))

    return tuple(replace(s, blocks=tuple(number(b) for b in s.blocks)) for s in sections)


def _overview(incident: IncidentState, posts: list[IncidentPost], title: str, place: str,
              labels: Labels) -> tuple:
    negative = sum(p.polarity == "negative" for p in posts)
    first = posts[0] if posts else None
    facts = [("事件", title), ("编号", f"#{incident.id}"),
             ("级别", level_short(incident.level)),
             ("状态", STATUS_ZH.get(incident.status, incident.status)),
             ("辖区", place),
             ("话题", "、".join(labels.topic(t) for t in incident.topics) or "-"),
             ("首条信息", f"{_at(first.seen_at)}（{first.source_name}）" if first else "-"),
             ("首次发现", _at(incident.opened_at)),
             ("签收", f"{_at(incident.acknowledged_at)}（{incident.acknowledged_by}，发现后 "
                     f"{_after(incident.acknowledged_at, incident.opened_at)}）"
              if incident.acknowledged_at else "未签收"),
             ("官方发声", f"{_at(incident.official_statement_at)}（发现后 "
                      f"{_after(incident.official_statement_at, incident.opened_at)}）"
              if incident.official_statement_at else "尚无"),
             ("信息量", f"{len(posts)} 条，负面 {negative} 条（{share(negative, len(posts))}），"
                     f"来源 {len({p.source_id for p in posts})} 个")]
    summary = (f"首条相关信息发布于 {_at(first.seen_at) if first else '-'}；截至报告生成，"
               f"共 {len(posts)} 条（负面 {negative} 条），来源 "
               f"{len({p.source_id for p in posts})} 个；{_at(incident.opened_at)} 首次发现并告警；"
               f"当前{level_short(incident.level)}，"
               f"{STATUS_ZH.get(incident.status, incident.status)}。")
    return (Paragraph(summary), Table(headers=("项目", "情况"), rows=tuple(facts)))


def _event_text(event: IncidentEvent) -> tuple[str, str]:
    detail = event.detail
    if event.action in TRACK_ACTIONS_ZH:
        name = TRACKS.get(detail.get("track", ""), (detail.get("track", ""),))[0]
        what = f"{name}{TRACK_ACTIONS_ZH[event.action]}"
        unit = f"（{detail['unit']}）" if detail.get("unit") else ""
        return what + unit, detail.get("note", "")
    what = ACTIONS_ZH.get(event.action, event.action)
    if event.action in ("level_raised", "level_lowered", "opened") and "to" in detail:
        what += f"：{level_short(int(detail['from']))} → {level_short(int(detail['to']))}"
    if event.action == "opened" and "level" in detail:
        what += f"（{level_short(int(detail['level']))}）"
    if event.action == "escalated" and detail.get("timer"):
        what += f"（{TIMER_NAMES.get(detail['timer'], detail['timer'])}）"
    return what, str(detail.get("note") or detail.get("reason") or "")


def timeline_marks(incident: IncidentState, events: list[IncidentEvent],
                   posts: list[IncidentPost]) -> list[tuple[datetime, str]]:
    """The moments marked on the timeline chart: first post, detection, acknowledgement,
    official statement and each level change, from the incident's rows."""
    marks: list[tuple[datetime, str]] = []
    if posts:
        marks.append((posts[0].seen_at, "首条"))
    marks.append((incident.opened_at, "发现"))
    if incident.acknowledged_at:
        marks.append((incident.acknowledged_at, "签收"))
    if incident.official_statement_at:
        marks.append((incident.official_statement_at, "官方发声"))
    marks += [(e.at, "升级" if e.action == "level_raised" else "降级")
              for e in events if e.action in ("level_raised", "level_lowered")]
    return marks


def _timeline(incident: IncidentState, events: list[IncidentEvent],
              posts: list[IncidentPost], slots: Slots) -> tuple:
    counts, negative = [0] * slots.count, [0] * slots.count
    for p in posts:
        counts[slots.index(p.seen_at)] += 1
        negative[slots.index(p.seen_at)] += p.polarity == "negative"
    marks = timeline_marks(incident, events, posts)
    labels = slots.labels()
    chart = Chart(
        title=f"图1 信息量走势（北京时间，{slots.describe()}；虚线为关键节点）",
        png=charts.timeline(labels, counts, negative,
                            [(slots.position(at), charts.label(text, MARKS_ASCII[text]))
                             for at, text in marks]),
        alt=("；".join(f"{labels[i]} {counts[i]} 条（负面 {negative[i]}）"
                      for i in range(slots.count) if counts[i]) or "无信息")
        + "。关键节点：" + "；".join(f"{text} {local_text(at)}" for at, text in marks),
        )
    rows = []
    if posts:
        first = posts[0]
        rows.append((local_text(first.seen_at), "首条信息",
                     f"{first.source_name}：{shorten(first.title or first.text, QUOTE_CHARS)}"))
    rows += [(local_text(e.at), *_event_text(e)) for e in events
             if e.action not in ("renotified", "notification_silenced")]
    rows.sort(key=lambda r: r[0])
    table = Table(headers=("时间", "节点", "说明"), rows=tuple(rows),
                  caption="关键节点（处置记录）")
    return chart, table


STANCE_ZH = {"negative": "对警负面", "neutral": "对警中性", "positive": "对警正面"}
NOT_POLICE = "none"


def _spread_trace(spread: Spread | None) -> str:
    if spread is None:
        return "无"
    if spread.event_id is not None:
        return (f"舆情事件 E{spread.event_id} 的帖子（jingyu events show {spread.event_id}）及其"
                "评论、转发（posts.parent_id，至多5层）")
    return "告警证据帖子所在热点的帖子及其评论、转发（posts.parent_id，至多5层）"


def _bucket_label(at: datetime, step: timedelta) -> str:
    form = ("%m-%d" if step >= timedelta(days=1) else
            "%m-%d %H时" if step >= timedelta(hours=1) else "%m-%d %H:%M")
    return shanghai(at).strftime(form)


def _step_text(step: timedelta) -> str:
    if step >= timedelta(days=1) and step % timedelta(days=1) == timedelta(0):
        return f"每{step.days}天" if step.days > 1 else "每天"
    if step >= timedelta(hours=1):
        hours = int(step.total_seconds() // 3600)
        return f"每{hours}小时" if hours > 1 else "每小时"
    return f"每{int(step.total_seconds() // 60)}分钟"


def _spread(posts: list[IncidentPost], spread: Spread | None) -> tuple:
    """Where it spread (warehouse.spread): the event's posts and the comments and reposts of
    them we hold — the curve, platforms, sources, the most reposted posts and accounts — and
    from the incident's posts the first posters and the texts copied most."""
    blocks: list = []
    if spread is None:
        blocks.append(Paragraph("尚无可统计的传播数据。"))
    else:
        scope = (f"舆情事件 E{spread.event_id} " if spread.event_id is not None
                 else "告警证据所在热点")
        first = spread.first
        blocks.append(Paragraph(
            f"按{scope}统计：帖子 {spread.posts} 条，另采集到其评论、转发 {spread.thread_posts} 条"
            f"（全部 {spread.total} 条中评论 {spread.comments} 条、转发 {spread.reposts} 条）；"
            f"覆盖平台 {len(spread.platforms)} 个、来源 {len(spread.sources)} 个。"
            f"首发：{local_text(first.seen_at)}，{first.source}"
            + (f"，{first.author}" if first.author else "") + "。"))
        labels = [_bucket_label(b.start, spread.step) for b in spread.curve]
        blocks.append(Chart(
            title=f"图2 传播曲线（北京时间，{_step_text(spread.step)}；帖子及其评论、转发）",
            png=charts.spread_bars(labels, [b.posts for b in spread.curve],
                                   [b.threads for b in spread.curve]),
            alt="；".join(f"{label} 帖子 {b.posts} 条、评论转发 {b.threads} 条"
                         for label, b in zip(labels, spread.curve) if b.total) or "无信息"))
        blocks.append(Table(headers=("平台", "条数（含评论、转发）"),
                            rows=tuple(spread.platforms), caption="传播平台", empty="无"))
        blocks.append(Table(headers=("来源", "条数（含评论、转发）"),
                            rows=tuple(spread.sources), caption="各来源条数", empty="无"))
        blocks.append(Table(
            headers=("内容（链接）", "平台", "作者", "转发", "评论", "发布时间", "帖子ID"),
            rows=tuple((Link(shorten(p.title, QUOTE_CHARS) or "(无标题)", p.url), p.platform,
                        p.author or "-", p.reposts, p.comments, local_text(p.seen_at), p.id)
                       for p in spread.most_spread),
            caption="转发、评论最多的帖子", empty="无转发、评论记录"))
        blocks.append(Table(
            headers=("账号", "帖子", "被转发", "被评论"),
            rows=tuple((a.author, a.posts, a.reposts, a.comments) for a in spread.accounts),
            caption="转发、评论最多的账号", empty="无"))
    blocks.append(Table(
        headers=("时间", "来源", "作者", "首发内容（链接）"),
        rows=tuple((local_text(p.seen_at), p.source_name, p.author or "-", _quote(p))
                   for p in posts[:5]),
        caption="最早发布者（前5条）", empty="无"))
    stories: dict[int, list[IncidentPost]] = {}
    for p in posts:
        stories.setdefault(p.story_id if p.story_id is not None else -p.id, []).append(p)
    blocks.append(Table(
        headers=("内容（首发链接）", "转发/转载条数", "来源数", "首次出现", "热点编号"),
        rows=tuple((_quote(items[0]), len(items), len({p.source_id for p in items}),
                    local_text(items[0].seen_at), key)
                   for key, items in sorted(stories.items(),
                                            key=lambda kv: (-len(kv[1]), kv[1][0].seen_at))
                   [:TOP]),
        caption=f"转发最多的内容（前{TOP}）", empty="无"))
    return tuple(blocks)


def _stance_key(post: IncidentPost) -> str:
    return post.police_stance if post.police_stance in STANCE_ZH else NOT_POLICE


def _sentiment(posts: list[IncidentPost], slots: Slots) -> tuple:
    """Stance toward the police (posts.police_stance) and general sentiment per time slot."""
    stance = {k: [0] * slots.count for k in (*STANCE_ZH, NOT_POLICE)}
    mood = {k: [0] * slots.count for k in POLARITY_ZH}
    for p in posts:
        stance[_stance_key(p)][slots.index(p.seen_at)] += 1
        if p.polarity in mood:
            mood[p.polarity][slots.index(p.seen_at)] += 1
    labels = slots.labels()
    against = [p for p in posts if p.police_stance == "negative"]
    police = sum(p.police_stance in STANCE_ZH for p in posts)
    probability = (f"，判定概率均值 {sum(p.police_stance_p or 0 for p in against) / len(against):.0%}"
                   if against else "")
    summary = Paragraph(
        f"事件帖子 {len(posts)} 条，其中涉警 {police} 条：对警负面 {len(against)} 条"
        f"（占涉警 {share(len(against), police)}{probability}），"
        f"对警中性 {sum(stance['neutral'])} 条，对警正面 {sum(stance['positive'])} 条；"
        f"非涉警 {sum(stance[NOT_POLICE])} 条。整体情感：负面 {sum(mood['negative'])} 条、"
        f"中性 {sum(mood['neutral'])} 条、正面 {sum(mood['positive'])} 条。"
        "对警态度看帖子是否批评、质疑公安机关，整体情感看帖子的情绪（对违法者的愤怒也是负面情感）。")
    names = {**{k: charts.label(v, k) for k, v in STANCE_ZH.items()},
             NOT_POLICE: charts.label("非涉警", "not police")}
    stance_chart = Chart(
        title=f"图3 对警态度走势（{slots.describe()}）",
        png=charts.polarity_bars(labels, stance, names),
        alt="；".join(f"{labels[i]} 对警负面 {stance['negative'][i]}、中性 {stance['neutral'][i]}、"
                     f"正面 {stance['positive'][i]}、非涉警 {stance[NOT_POLICE][i]}"
                     for i in range(slots.count) if any(stance[k][i] for k in stance))
        or "无信息")
    mood_chart = Chart(
        title=f"图4 整体情感走势（{slots.describe()}）",
        png=charts.polarity_bars(labels, mood, {k: charts.label(v, k)
                                                for k, v in POLARITY_ZH.items()}),
        alt="；".join(f"{labels[i]} 负面 {mood['negative'][i]}、中性 {mood['neutral'][i]}、"
                     f"正面 {mood['positive'][i]}" for i in range(slots.count)
                     if any(mood[k][i] for k in mood)) or "无信息")
    rows = tuple(
        (labels[i], stance["negative"][i], stance["neutral"][i], stance["positive"][i],
         stance[NOT_POLICE][i],
         share(stance["negative"][i], sum(stance[k][i] for k in STANCE_ZH)),
         mood["negative"][i], mood["neutral"][i], mood["positive"][i])
        for i in range(slots.count) if any(stance[k][i] for k in stance))
    table = Table(headers=("时段", "对警负面", "对警中性", "对警正面", "非涉警", "对警负面占比",
                           "负面情感", "中性情感", "正面情感"), rows=rows,
                  caption="各时段对警态度与整体情感（仅列有信息的时段；占比为涉警帖子中）",
                  empty="无信息")
    return summary, stance_chart, mood_chart, table


def _places(posts: list[IncidentPost], labels: Labels) -> Table:
    places = Counter(p.jurisdiction for p in posts)
    negative = Counter(p.jurisdiction for p in posts if p.polarity == "negative")
    return Table(headers=("辖区", "条数", "负面"),
                 rows=tuple((labels.jurisdiction(j) if j else "未定位", n, negative[j])
                            for j, n in places.most_common()),
                 caption="信息涉及的辖区（按帖子所提地名，未提及的按来源所属辖区）", empty="无")


def _tracks(incident: IncidentState) -> Table:
    rows = []
    tracks = {t.track: t for t in incident.tracks}
    for track_id, (name, _) in TRACKS.items():
        t = tracks.get(track_id)
        if t is None:
            rows.append((name, "-", "未启动", "-", "-"))
            continue
        started = (f"{_at(t.started_at)} {t.started_by or ''}（发现后 "
                   f"{_after(t.started_at, incident.opened_at)}）" if t.started_at else "未启动")
        done = f"{_at(t.done_at)} {t.done_by or ''}" if t.done_at else "-"
        notes = "；".join(f"{_note_time(n.get('at'))} {n.get('by', '')}：{n.get('note', '')}"
                         for n in t.notes) or "-"
        rows.append((name, t.unit or "-", started, done, notes))
    return Table(headers=("工作线", "责任单位", "启动", "完成", "工作记录"), rows=tuple(rows),
                 caption="三同步：依法处理、舆论引导、社会面管控")


def _note_time(value: object) -> str:
    # stored as naive UTC (alerts.incidents.incident): not as local time, 8 hours early
    try:
        return local_text(from_db(datetime.fromisoformat(str(value))))
    except ValueError:
        return ""


def _timers(incident: IncidentState, timers: TimerSettings, now: datetime) -> Table:
    closed_at = incident.resolved_at or incident.closed_at
    done = {ACK: incident.acknowledged_at, STATEMENT: incident.official_statement_at,
            PROGRESS: incident.progress_at, CLOSURE: closed_at}
    rows = []
    for timer in (ACK, STATEMENT, PROGRESS, CLOSURE):
        limit = timers.deadline(timer)
        due = incident.opened_at + limit
        applies = timer in (ACK, CLOSURE) or incident.sensitive
        at = done[timer]
        if at is not None:
            result = "按时" if at <= due else f"超时 {duration(at - due)}"
        elif not applies:
            result = "不适用（非敏感事件）"
        elif now >= due:
            result = f"未完成，已超时 {duration(now - due)}"
        else:
            result = f"未到期（剩余 {duration(due - now)}）"
        rows.append((TIMER_NAMES[timer], f"发现后 {duration(limit)} 内", local_text(due),
                     _at(at), result))
    return Table(headers=("时限", "要求", "截止时间", "完成时间", "结果"), rows=tuple(rows),
                 caption=f"处置时限（自首次发现 {local_text(incident.opened_at)} 起算，"
                         f"截至 {local_text(now)}）")


def _statement(incident: IncidentState, by_id: dict[int, IncidentPost],
               first: IncidentPost | None) -> tuple:
    if incident.official_statement_at is None:
        return (Paragraph("截至报告生成时，尚未发现官方发声（警情通报）。"),)
    post = by_id.get(incident.official_post_id) if incident.official_post_id else None
    delay = f"首次发现后 {_after(incident.official_statement_at, incident.opened_at)}"
    if first is not None:
        delay += f"，首条信息后 {_after(incident.official_statement_at, first.seen_at)}"
    rows = [("发声时间", local_text(incident.official_statement_at)), ("用时", delay)]
    if post is not None:
        rows += [("发布账号", post.source_name), ("内容（链接）", _quote(post))]
    if incident.progress_at:
        rows.append(("进展通报", local_text(incident.progress_at)))
    return (Table(headers=("项目", "情况"), rows=tuple(rows), caption="官方发声（警情通报）"),)


def _captures(engine, post_ids: list[int]) -> dict[int, object]:
    """The 固证 of each post (warehouse evidence table: its page kept as a WARC file)."""
    from sqlalchemy import select

    from warehouse.models import EvidenceRow

    if not post_ids:
        return {}
    with engine.connect() as conn:
        return {row.post_id: row for row in conn.execute(
            select(EvidenceRow.post_id, EvidenceRow.status, EvidenceRow.fetched_at,
                   EvidenceRow.http_status, EvidenceRow.sha256, EvidenceRow.path,
                   EvidenceRow.error, EvidenceRow.attempts)
            .where(EvidenceRow.post_id.in_(post_ids)))}


def _capture_text(post: IncidentPost, capture: object | None) -> str:
    kept = f"{local_text(post.fetched_at)} 采集；内容指纹 {post.content_hash[:16]}"
    if capture is None:
        return kept
    if capture.status == "kept":
        return (f"{kept}；网页快照 {local_text(from_db(capture.fetched_at))}"
                f"（HTTP {capture.http_status or '-'}，SHA-256 {(capture.sha256 or '')[:16]}，"
                f"{PurePosixPath(capture.path or '').name or 'WARC'}）")
    return f"{kept}；网页快照未成功（{capture.attempts} 次：{shorten(capture.error or '', 40)}）"


def _evidence(evidence_ids: list[int], official_id: int | None,
              by_id: dict[int, IncidentPost], captures: dict[int, object]) -> Table:
    ids = list(dict.fromkeys(evidence_ids + ([official_id] if official_id else [])))
    rows = []
    for n, post_id in enumerate(ids, start=1):
        post = by_id.get(post_id)
        if post is None:
            rows.append((n, "-", "-", f"帖子 {post_id}（已归档或删除）", "-", post_id))
            continue
        rows.append((n, local_text(post.seen_at), post.source_name, _quote(post),
                     _capture_text(post, captures.get(post_id)), post_id))
    return Table(headers=("序号", "发布时间", "来源", "内容（原文链接）", "固证", "帖子ID"),
                 rows=tuple(rows),
                 caption="告警证据与官方发声（原文链接；采集时间、内容指纹与网页快照）",
                 empty="无")
