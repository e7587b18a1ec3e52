"""舆情日报: one local day (00:00–24:00 Asia/Shanghai) of one jurisdiction and those under it."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from alerts.incidents.timers import TimerSettings
from reports import charts
from reports.blocks import (
    POLARITY_ZH,
    Labels,
    incidents_table,
    sources_table,
    stories_table,
    trace,
)
from reports.document import Chart, Document, Paragraph, Section, Table
from warehouse.incidents import IncidentStore
from warehouse.queries import QueryParams, local_text, run_query, window_of_days
from warehouse.store import Warehouse

TOP_TOPICS = 10
TOP_STORIES = 10


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def build_daily_brief(warehouse: Warehouse, day: date, *, jurisdiction: str | None = None,
                      labels: Labels | None = None, timers: TimerSettings | None = None,
                      now: datetime) -> Document:
    labels = labels or Labels()
    timers = timers or TimerSettings()
    engine = warehouse.engine
    since, until = window_of_days(day)
    week_since, _ = window_of_days(day, days=7)
    base = QueryParams(since=since, until=until, jurisdiction=jurisdiction, limit=TOP_STORIES)
    where = labels.jurisdiction(jurisdiction) if jurisdiction else "全部辖区"

    # volume: the day by hour and polarity, and seven days by day
    hourly_params = replace(base, by=("hour", "polarity"))
    hourly = run_query(engine, "volume", hourly_params).records()
    hours = [f"{h:02d}" for h in range(24)]
    per_hour = {h: [0, 0] for h in hours}
    polarity = {"negative": 0, "neutral": 0, "positive": 0}
    police = 0
    for r in hourly:
        slot = per_hour[r["hour"][11:13]]
        slot[0] += r["posts"]
        slot[1] += r["negative"]
        polarity[r["polarity"]] = polarity.get(r["polarity"], 0) + r["posts"]
        police += r["police_related"]
    total, negative = sum(polarity.values()), polarity["negative"]
    week_params = replace(base, since=week_since, by=("day",))
    week = {r["day"]: r for r in run_query(engine, "volume", week_params).records()}
    days = [(week_since + timedelta(days=i)).date().isoformat() for i in range(7)]
    week_posts = [week[d]["posts"] if d in week else 0 for d in days]
    week_negative = [week[d]["negative"] if d in week else 0 for d in days]
    previous = week_posts[-2]
    change = total - previous

    topics_params = replace(base, by=("topic",))
    topics = sorted(run_query(engine, "volume", topics_params).records(),
                    key=lambda r: (-r["posts"], r["topic"]))[:TOP_TOPICS]
    stories, story_result = stories_table(engine, base, f"负面热点 TOP {TOP_STORIES}")
    incidents, states = incidents_table(engine, IncidentStore(warehouse), base, timers, now,
                                        "当日告警事件及在办事件")
    sources, down = sources_table(engine, base, "信息源状态")

    summary = (f"{day.isoformat()}，{where}共采集舆情信息 {total} 条，较前一日"
               f"{'增加' if change >= 0 else '减少'} {abs(change)} 条；其中涉警 {police} 条，"
               f"负面 {negative} 条（占 {_share(negative, total)}）。"
               f"当日及仍在办的告警事件 {len(states)} 起；"
               f"信息源异常 {len(down)} 个。")
    trend = Section("舆情走势", (
        Chart(title=charts.label("当日分时走势（北京时间）", "Posts by hour (Asia/Shanghai)"),
              png=charts.volume_bars(hours, [per_hour[h][0] for h in hours],
                                     [per_hour[h][1] for h in hours],
                                     charts.label("当日分时信息量", "Posts by hour")),
              alt="；".join(f"{h}时 {per_hour[h][0]} 条（负面 {per_hour[h][1]}）"
                           for h in hours if per_hour[h][0])),
        Chart(title=charts.label("近7日走势", "Last 7 days"),
              png=charts.volume_bars([d[5:] for d in days], week_posts, week_negative,
                                     charts.label("近7日信息量", "Posts per day")),
              alt="；".join(f"{d} {p} 条（负面 {n}）"
                           for d, p, n in zip(days, week_posts, week_negative))),
        Table(headers=("日期", "信息量", "负面", "负面占比"),
              rows=tuple((d, p, n, _share(n, p)) for d, p, n in zip(days, week_posts,
                                                                      week_negative)),
              caption="近7日信息量", trace=trace("volume", week_params)),
    ))
    sentiment = Section("情感分布", (
        Chart(title=charts.label("情感倾向", "Polarity"),
              png=charts.polarity_bar(polarity, {k: charts.label(v, k)
                                                 for k, v in POLARITY_ZH.items()},
                                      charts.label("当日情感倾向", "Polarity of the day")),
              alt="；".join(f"{POLARITY_ZH[k]} {v} 条" for k, v in polarity.items())),
        Table(headers=("倾向", "条数", "占比"),
              rows=tuple((POLARITY_ZH[k], v, _share(v, total)) for k, v in polarity.items()),
              trace=trace("volume", hourly_params)),
    ))
    topic_blocks: tuple = (
        Table(headers=("话题", "话题ID", "条数", "负面", "负面占比"),
              rows=tuple((labels.topic(r["topic"]), r["topic"], r["posts"], r["negative"],
                          _share(r["negative"], r["posts"])) for r in topics),
              caption=f"热点话题 TOP {TOP_TOPICS}（一条信息可属多个话题）",
              trace=trace("volume", topics_params), empty="当日无命中话题的信息"),)
    if topics:
        topic_blocks = (Chart(
            title=charts.label("热点话题", "Top topics"),
            png=charts.topic_bars([charts.label(labels.topic(r["topic"]), r["topic"])
                                   for r in topics], [r["posts"] for r in topics],
                                  [r["negative"] for r in topics],
                                  charts.label("热点话题（条数）", "Top topics (posts)")),
            alt="；".join(f"{labels.topic(r['topic'])} {r['posts']} 条" for r in topics)),
        ) + topic_blocks
    document = Document(
        title=f"舆情日报 {day.isoformat()}（{where}）",
        subtitle=f"统计时段：{local_text(since)} 至 {local_text(until)}（北京时间）",
        sections=(
            Section("一、总体情况", (Paragraph(summary),)),
            replace(trend, title="二、" + trend.title),
            replace(sentiment, title="三、" + sentiment.title),
            Section("四、热点话题", topic_blocks),
            Section("五、负面热点", (stories, Paragraph(
                "转发、转载及改写的近似文本归入同一热点；"
                "某一热点的全部帖子：jingyu query --sql \"select id, url from posts where "
                "story_id = <热点编号>\"。"))),
            Section("六、告警与事件（三同步）", (incidents,)),
            Section("七、信息源状态", (sources,)),
        ),
        footnotes=(
            f"统计窗口：{base.describe()}；辖区含下级单位。",
            "数据来源：警舆数据仓库（posts、post_topics、alerts、incidents、sources、runs 表）；"
            "每个表格下方的命令可复现其数字，帖子ID与链接指向原始记录。",
            f"报告生成于 {local_text(now)}（北京时间）；事件状态与超时截至生成时刻。",
        ),
        facts={"posts": total, "negative": negative, "police_related": police,
               "previous_day_posts": previous, "polarity": polarity,
               "hourly": {h: v[0] for h, v in per_hour.items()},
               "week": dict(zip(days, week_posts)),
               "topics": {r["topic"]: r["posts"] for r in topics},
               "stories": [r["story_key"] for r in story_result.records()],
               "incidents": [s.id for s in states],
               "sources_down": [r["source_id"] for r in down]},
    )
    return document
