"""舆情日报: one local day (00:00–24:00 Asia/Shanghai) of one jurisdiction and those under it."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from alerts.incidents.timers import TimerSettings
from reports import charts
from reports.blocks import (
    DEFINITIONS,
    POLARITY_ZH,
    Labels,
    appendix,
    incidents_table,
    share,
    sources_table,
    events_table,
    trace,
)
from reports.document import Chart, Document, Paragraph, Section, Table
from warehouse.incidents import IncidentStore
from warehouse.queries import QueryParams, local_text, run_query, window_of_days
from warehouse.store import Warehouse

TOP_TOPICS = 10
TOP_EVENTS = 10
POLICE = "police"          # the 涉警 category: counted by posts.police_related, as everywhere


def build_daily_brief(warehouse: Warehouse, day: date, *, jurisdiction: str | None = None,
                      labels: Labels | None = None, timers: TimerSettings | None = None,
                      now: datetime) -> Document:
    engine = warehouse.engine
    labels = (labels or Labels()).with_sources(engine)
    timers = timers or TimerSettings()
    since, until = window_of_days(day)
    week_since, _ = window_of_days(day, days=7)
    base = QueryParams(since=since, until=until, jurisdiction=jurisdiction, limit=TOP_EVENTS)
    where = labels.jurisdiction(jurisdiction) if jurisdiction else "全部辖区"

    # volume: the day by hour and polarity, and seven days by day
    hourly_params = replace(base, by=("hour", "polarity"))
    hourly = run_query(engine, "volume", hourly_params).records()
    hours = [f"{h:02d}" for h in range(24)]
    per_hour = {h: [0, 0] for h in hours}
    polarity = {"negative": 0, "neutral": 0, "positive": 0}
    police = police_negative = 0
    for r in hourly:
        slot = per_hour[r["hour"][11:13]]
        slot[0] += r["posts"]
        slot[1] += r["negative"]
        polarity[r["polarity"]] = polarity.get(r["polarity"], 0) + r["posts"]
        police += r["police_related"]
        if r["polarity"] == "negative":
            police_negative += r["police_related"]
    total, negative = sum(polarity.values()), polarity["negative"]
    week_params = replace(base, since=week_since, by=("day",))
    week = {r["day"]: r for r in run_query(engine, "volume", week_params).records()}
    days = [(week_since + timedelta(days=i)).date().isoformat() for i in range(7)]
    week_posts = [week[d]["posts"] if d in week else 0 for d in days]
    week_negative = [week[d]["negative"] if d in week else 0 for d in days]
    previous = week_posts[-2]

    # topics: 涉警 is posts.police_related (one definition with the overview), the others
    # are the topic rules' hits
    topics_params = replace(base, by=("topic",))
    topics = [(POLICE, labels.topics.get(POLICE, "涉警"), police, police_negative)
              ] if police else []
    topics += [(r["topic"], labels.topic(r["topic"]), r["posts"], r["negative"])
               for r in sorted(run_query(engine, "volume", topics_params).records(),
                               key=lambda r: (-r["posts"], r["topic"]))
               if r["topic"] != POLICE][:TOP_TOPICS - len(topics)]
    hot, hot_result = events_table(engine, base, f"负面热点 TOP {TOP_EVENTS}（按对警负面条数）",
                                   labels)
    incidents, states = incidents_table(engine, IncidentStore(warehouse), base, timers, now,
                                        "当日告警事件及在办事件", labels)
    sources, down = sources_table(engine, base, "信息源状态（截至当日24时）")

    if previous:
        change = total - previous
        compared = f"较前一日{'增加' if change >= 0 else '减少'} {abs(change)} 条"
    else:
        compared = "前一日无信息"
    summary = (f"{day.isoformat()}，{where}共监测到舆情信息 {total} 条，{compared}；"
               f"其中涉警 {police} 条，负面 {negative} 条（占 {share(negative, total)}）。"
               f"当日及仍在办的告警事件 {len(states)} 起；信息源异常 {len(down)} 个。")
    hour_alt = "；".join(f"{h}时 {per_hour[h][0]} 条（负面 {per_hour[h][1]}）"
                        for h in hours if per_hour[h][0]) or "当日无信息"
    trend = (
        Chart(title="图1 当日分时信息量（北京时间）",
              png=charts.volume_bars(hours, [per_hour[h][0] for h in hours],
                                     [per_hour[h][1] for h in hours]),
              alt=hour_alt, trace=trace("volume", hourly_params)),
        Chart(title="图2 近7日信息量",
              png=charts.volume_bars([d[5:] for d in days], week_posts, week_negative),
              alt="；".join(f"{d} {p} 条（负面 {n}）"
                           for d, p, n in zip(days, week_posts, week_negative)),
              trace=trace("volume", week_params)),
        Table(headers=("日期", "信息量", "负面", "负面占比"),
              rows=tuple((d, p, n, share(n, p)) for d, p, n in zip(days, week_posts,
                                                                     week_negative)),
              caption="近7日信息量", trace=trace("volume", week_params)),
    )
    sentiment = (
        Chart(title="图3 当日情感倾向",
              png=charts.polarity_bar(polarity, {k: charts.label(v, k)
                                                 for k, v in POLARITY_ZH.items()}),
              alt="；".join(f"{POLARITY_ZH[k]} {v} 条" for k, v in polarity.items()),
              trace=trace("volume", hourly_params)),
        Table(headers=("倾向", "条数", "占比"),
              rows=tuple((POLARITY_ZH[k], v, share(v, total)) for k, v in polarity.items()),
              caption="当日情感倾向", trace=trace("volume", hourly_params)),
    )
    topic_table = Table(
        headers=("话题", "条数", "负面", "负面占比"),
        rows=tuple((name, posts, neg, share(neg, posts)) for _, name, posts, neg in topics),
        caption=f"热点话题 TOP {TOP_TOPICS}（一条信息可属多个话题）",
        trace=trace("volume", hourly_params) + "（涉警）；" + trace("volume", topics_params),
        empty="当日无命中话题的信息")
    topic_blocks: tuple = (topic_table,)
    if topics:
        topic_blocks = (Chart(
            title="图4 热点话题（条数）",
            png=charts.topic_bars([charts.label(name, topic_id)
                                   for topic_id, name, _, _ in topics],
                                  [t[2] for t in topics], [t[3] for t in topics]),
            alt="；".join(f"{name} {posts} 条" for _, name, posts, _ in topics),
            trace=topic_table.trace),) + topic_blocks
    sections = (
        Section("一、总体情况", (Paragraph(summary),)),
        Section("二、舆情走势", trend),
        Section("三、情感分布", sentiment),
        Section("四、热点话题", topic_blocks),
        Section("五、负面热点", (hot,)),
        Section("六、告警与事件（三同步）", (incidents,)),
        Section("七、信息源状态", (sources,)),
    )
    window = f"{local_text(since)} 至 {local_text(until)}"
    return Document(
        title=f"舆情日报 {day.isoformat()}（{where}）",
        subtitle=f"统计时段：{window}（北京时间）",
        sections=sections + (appendix(
            sections, number="八", window=window,
            where=f"{where}（含下级单位）" if jurisdiction else where, now=now,
            warehouse_url=engine.url.render_as_string(hide_password=True),
            definitions=DEFINITIONS[:4]),),
        facts={"posts": total, "negative": negative, "police_related": police,
               "police_negative": police_negative, "previous_day_posts": previous,
               "polarity": polarity, "hourly": {h: v[0] for h, v in per_hour.items()},
               "week": dict(zip(days, week_posts)),
               "topics": {topic_id: posts for topic_id, _, posts, _ in topics},
               "events": [r["event_id"] for r in hot_result.records()],
               "incidents": [s.id for s in states],
               "sources_down": [r["source_id"] for r in down]},
    )
