"""Events and incidents, measured: planted concurrent events through real monitor cycles.

    python benchmarks/eval_events.py [--seed 1] [--cycles 8] [--database URL]

A scenario generator writes several concurrent happenings in neighbouring districts of the
demo city, each told in many wordings (templates below, with varied actors, places and
details: no two posts are copies unless they are reposts), posts that name only one of its
specifics and say the rest their own way ("辅警到底有没有执法权？…": one word in common with
the event, as bursts are written), reposts, a sensitive item, a surge, an official statement
(one before detection), and background chatter about the police and about other things. Feeds are served on 127.0.0.1 and the real monitor flow runs a cycle
every 30 minutes of scenario time. Prints:

- B-cubed precision / recall / F1 of posts -> events (each background post is its own truth);
- wrong merges: stored events holding posts of two planted events;
- incidents per planted event that alerted (goal 1.00) and the pages its alerts sent (a new
  alert, a risen level; the reminders and escalations of an unacknowledged incident apart);
- the statement recorded for each event's incident and its delay.

The templates are written for this file only: the grouping has no vocabulary of its own
(its weights come from the stored posts), so nothing here is shared with it.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

import yaml  # noqa: E402

from collectors.replay import FeedReplayServer, Route  # noqa: E402
from jingyu.config import config_file, load_yaml  # noqa: E402
from jingyu.timeutil import utcnow  # noqa: E402


@dataclass(frozen=True)
class Planted:
    """One happening: where, when it starts, how many posts, its wording pools."""

    name: str
    district: str                      # Chinese name, as posts write it
    start_min: int                     # minutes after the scenario starts
    posts: int
    spread_min: int                    # over how many minutes
    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]
    sensitive: str | None = None       # one text that is a sensitive item
    statement: str | None = None       # the official account's 通报
    statement_min: int | None = None   # when (minutes after the start of the scenario)
    # Posts of the burst that name one of its specifics and say the rest their own way
    # ("辅警到底有没有执法权？强烈要求严查"): they share one word with the event, not two.
    loose: tuple[str, ...] = ()


EVENTS = (
    Planted(
        "market", "临江区", 30, 45, 150,
        ("{d}{street}{market}，{actor}跟{victim}起了冲突，{act}，{reaction}",
         "刚从{street}回来，{market}那边围了好多人，说是{actor}{act}",
         "{victim}在{market}摆摊好好的，{actor}上来就{act}，{reaction}",
         "有视频！{street}{market}{actor}{act}，旁边{bystander}也被碰倒了",
         "{d}的{actor}能不能管管？今晚{market}又{act}，{reaction}",
         "{market}出的事我亲眼看见了，{victim}根本没动手，是{actor}先{act}",
         "听说{street}{market}今晚{bystander}受伤了，{actor}{act}，有没有知情的",
         "{street}这事必须给个说法，{actor}对{victim}{act}，{reaction}"),
        {"street": ("滨河路", "滨河路口", "滨河路东段"), "market": ("夜市", "夜市摊位", "小吃夜市"),
         "actor": ("辅警", "几个辅警", "穿制服的辅警"),
         "victim": ("卖烤红薯的大爷", "摆摊的老人", "摊主大爷", "卖红薯的摊主"),
         "act": ("把人推倒在地", "掀了摊子", "动手推人", "把秤摔了", "拖着人往车上拽"),
         "reaction": ("太过分了", "看着心寒", "这还有没有王法", "必须严查", "视频都传开了"),
         "bystander": ("路过的阿姨", "一个阿姨", "围观的大姐"), "d": ("临江", "临江区", "")},
        sensitive="临江滨河路夜市辅警把摆摊大爷推倒在地还掀了摊子，暴力执法，必须严查！",
        loose=("{actor}到底有没有执法权？上来就动手，出了事谁负责？强烈要求严查",
               "{street}又聚了一批人，有人拉起了横幅，写着还我公道",
               "老家的事上热搜了，{actor}对一个七十岁的老人下这么重的手，看不下去",
               "人越聚越多，{street}整条街都堵死了，围观的人都在喊要个说法"),
        statement="警情通报：关于临江区滨河路夜市一起执法纠纷的情况通报。涉事辅警已停止执行职务，"
                  "受伤群众已送医，调查处理结果将及时公布。",
        statement_min=200),
    Planted(
        "crash", "北湖区", 60, 20, 120,
        ("{d}{road}{what}，{who}{hurt}，{police}已经到场",
         "{road}又出事了，{what}，堵了{long}",
         "路过{road}看到{what}，{who}{hurt}，希望没事",
         "{road}{what}，{police}在疏导交通，大家绕行",
         "刚才{road}那边{what}，{who}{hurt}，现场一片狼藉"),
        {"road": ("湖滨大道", "湖滨大道和学府路口", "湖滨大道高架下"),
         "what": ("两车相撞", "一辆货车和轿车撞了", "发生追尾事故", "连环追尾"),
         "who": ("一名司机", "轿车司机", "一个骑电动车的"),
         "hurt": ("被困车内", "受了伤", "被救护车拉走了"),
         "police": ("交警", "北湖交警", "交警和消防"), "long": ("半小时", "四十分钟", "一个小时"),
         "d": ("北湖", "北湖区", "")},
        statement="北湖交警通报：今日湖滨大道发生一起两车相撞交通事故，一人受伤送医，事故原因正在调查。",
        statement_min=50,
        loose=("{road}现在还堵着吗？要赶去火车站", "每次下雨{road}都出事，早该整治了")),
    Planted(
        "petition", "云溪县", 90, 18, 140,
        ("{town}{crowd}聚集在{site}，{claim}",
         "{site}门口来了{crowd}，说是{claim}",
         "{town}的事闹大了，{crowd}围在{site}，{claim}",
         "听说{town}{crowd}去{site}讨说法，{claim}，派出所民警在维持秩序"),
        {"town": ("云溪县石门镇", "石门镇", "云溪石门镇"),
         "crowd": ("一百多村民", "上百名村民", "不少村民"),
         "site": ("镇政府", "镇政府大院", "镇政府门口"),
         "claim": ("为了山林征地补偿", "要求公开征地补偿款", "说林地补偿一直没到位")},
        statement="云溪县公安局通报：石门镇部分村民因山林征地补偿问题到镇政府反映诉求，"
                  "民警已到场维护秩序，县里已安排专人接待。",
        statement_min=95,
        loose=("{town}的事有人知道后续吗？村里人都不敢说话", "都是乡里乡亲，{town}这回是真急了")),
    Planted(
        "school", "临江区", 120, 15, 90,
        ("{school}门口{what}，{police}赶到{did}",
         "{school}放学时{what}，{police}{did}",
         "今天{school}门口{what}，还好{police}{did}",
         "{school}那边{what}，家长都吓坏了，{police}{did}"),
        {"school": ("江滨中学", "临江江滨中学", "江滨中学东门"),
         "what": ("几个社会青年围堵学生", "有人拿棍子堵学生", "发生学生斗殴"),
         "police": ("民警", "巡逻民警", "江滨派出所民警"),
         "did": ("把人控制住了", "及时制止", "把学生护送回家")},
        loose=("{school}的家长群都炸了，今晚谁去接孩子", "{school}门口以后能不能多派点人守着")),
)
# Background: everyday talk composed from several pools, so two chatter posts rarely say
# the same thing (identical texts are one story, and one truth).
CHATTER = (
    "{place}{who}{did}，{feel}",
    "今天在{place}{did}，{feel}",
    "{feel}！{place}{who}{did}",
    "有没有人知道{place}{ask}？",
    "{place}{thing}{state}，{feel}",
)
CHATTER_SLOTS = {
    "place": ("临江区", "北湖区", "云溪县", "青川市", "江滨", "学府路", "人民广场", "火车站",
              "体育馆", "老城区"),
    "who": ("派出所民警", "交警", "社区民警", "辅警", "巡逻民警", "快递小哥", "外卖骑手", "老板",
            "邻居", "同事"),
    "did": ("帮我补办了身份证", "在查酒驾", "上门做反诈宣传", "帮忙找回了钱包", "指挥交通",
            "排了一上午队才办完户口", "开了罚单", "帮老人过马路", "调解了邻里纠纷", "送错了快递"),
    "feel": ("点个赞", "挺暖心的", "有点无语", "辛苦了", "效率挺高", "等得好累", "服气",
             "希望改进", "真不错", "大家注意"),
    "ask": ("哪家火锅店好吃", "地铁什么时候通", "周末哪里人少", "驾照怎么换证", "社保去哪办",
            "菜市场几点关门", "哪里可以打羽毛球", "图书馆开到几点"),
    "thing": ("新开的商场", "菜价", "地铁工地", "公园的菊花", "图书馆", "早高峰", "夜里的灯",
              "小区停车"),
    "state": ("人特别多", "又涨了", "吵得睡不着", "开得正好", "开放了", "堵得厉害", "修好了",
              "越来越难"),
}
USERS = ("青川同城热点", "临江吃瓜", "北湖生活圈", "云溪发布会", "小城故事")


@dataclass
class Item:
    source: str
    external_id: str
    text: str
    at: datetime
    truth: str                         # planted event name, or "bg:<n>"


def scenario(start: datetime, rng: random.Random) -> list[Item]:
    items: list[Item] = []
    for event in EVENTS:
        texts: list[str] = []
        for n in range(event.posts):
            at = start + timedelta(minutes=event.start_min
                                   + rng.uniform(0, event.spread_min) * (n / event.posts) ** 0.7)
            if texts and rng.random() < 0.2:     # a repost of an earlier post
                text = f"转发微博//@{rng.choice(USERS)}:{rng.choice(texts)}"
            elif event.loose and n >= 3 and rng.random() < 0.15:
                text = rng.choice(event.loose).format(
                    **{k: rng.choice(v) for k, v in event.slots.items()})
                texts.append(text)
            else:
                template = rng.choice(event.templates)
                text = template.format(**{k: rng.choice(v) for k, v in event.slots.items()})
                texts.append(text)
            source = "forum" if rng.random() < 0.25 else "weibo"
            items.append(Item(source, f"{event.name}-{n}", text, at, event.name))
        if event.sensitive:
            items.append(Item("weibo", f"{event.name}-s", event.sensitive,
                              start + timedelta(minutes=event.start_min + 20), event.name))
        if event.statement and event.statement_min is not None:
            items.append(Item("police", f"{event.name}-st", event.statement,
                              start + timedelta(minutes=event.statement_min), event.name))
    for n in range(int(6 * 60 / 4)):               # a background post every ~4 minutes
        # The same chatter text twice is one story (a copy), so it is one truth too.
        text = rng.choice(CHATTER).format(**{k: rng.choice(v) for k, v in CHATTER_SLOTS.items()})
        items.append(Item(rng.choice(("weibo", "forum")), f"bg-{n}", text,
                          start + timedelta(minutes=rng.uniform(0, 360)), f"bg:{text}"))
    return sorted(items, key=lambda i: i.at)


def feed(items: list[Item], until: datetime) -> bytes:
    entries = "".join(
        f"<item><title>{escape(i.text[:30])}</title>"
        f"<link>https://weibo.example/{i.external_id}</link>"
        f"<guid isPermaLink=\"false\">{i.external_id}</guid>"
        f"<pubDate>{format_datetime(i.at, usegmt=True)}</pubDate>"
        f"<description>{escape(i.text)}</description></item>"
        for i in items if i.at <= until)
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
            "<title>eval</title><link>https://weibo.example/</link><description>eval</description>"
            f"{entries}</channel></rss>").encode("utf-8")


def bcubed(truth: dict[str, str], predicted: dict[str, int]) -> tuple[float, float, float]:
    by_truth: dict[str, set[str]] = defaultdict(set)
    by_pred: dict[int, set[str]] = defaultdict(set)
    for key, label in truth.items():
        by_truth[label].add(key)
        by_pred[predicted[key]].add(key)
    precision = recall = 0.0
    for key in truth:
        mine = by_pred[predicted[key]]
        same = by_truth[truth[key]]
        both = len(mine & same)
        precision += both / len(mine)
        recall += both / len(same)
    p, r = precision / len(truth), recall / len(truth)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Outcome:
    """What one evaluation measured."""

    items: list[Item]
    truth: dict[str, str]              # scenario post -> planted event or background text
    predicted: dict[str, int]          # scenario post -> stored event
    incidents: dict[str, set[int]]     # planted event -> incidents its alerts ended in
    pages: Counter[str]                # planted event -> pages about its alerts
    statements: dict[str, float]       # planted event -> statement delay (minutes)
    history: int
    elapsed: float

    @property
    def planted(self) -> set[str]:
        return {e.name for e in EVENTS}

    def bcubed(self) -> tuple[float, float, float]:
        return bcubed(self.truth, self.predicted)

    def wrong_merges(self) -> int:
        holding: dict[int, set[str]] = defaultdict(set)
        for key, label in self.truth.items():
            if label in self.planted:
                holding[self.predicted[key]].add(label)
        return sum(len(labels) > 1 for labels in holding.values())

    def shared_incidents(self) -> int:
        """Incidents carrying alerts of two planted events (goal 0)."""
        seen = Counter(i for ids in self.incidents.values() for i in ids)
        return sum(n > 1 for n in seen.values())


def evaluate(seed: int = 1, cycles: int = 12, database: str | None = None) -> Outcome:
    """Run the scenario of `seed` through `cycles` real monitor cycles and measure it."""
    from sqlalchemy import select

    from flows.demo.history import seed_history
    from flows.monitor import run_cycle
    from flows.settings import load_cycle_settings
    from warehouse.events import EventStore
    from warehouse.incidents import IncidentStore
    from warehouse.models import AlertRow, OutboxRow, Post
    from warehouse.store import Warehouse

    rng = random.Random(seed)
    first_cycle = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=30 * cycles)
    items = scenario(first_cycle - timedelta(minutes=30), rng)
    by_source: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_source[item.source].append(item)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, FeedReplayServer() as server:
        config = Path(tmp)
        sources = [
            {"id": "weibo", "name": "微博关键词", "kind": "feed", "url": server.url("/weibo.xml"),
             "tags": ["social", "weibo"], "jurisdiction": "qingchuan", "poll_minutes": 5},
            {"id": "forum", "name": "青川论坛", "kind": "feed", "url": server.url("/forum.xml"),
             "tags": ["forum"], "jurisdiction": "qingchuan", "poll_minutes": 5},
            {"id": "police", "name": "青川公安", "kind": "feed", "url": server.url("/police.xml"),
             "tags": ["official", "police"], "jurisdiction": "qingchuan", "poll_minutes": 5}]
        (config / "sources.yaml").write_text(yaml.safe_dump({"sources": sources},
                                                            allow_unicode=True), encoding="utf-8")
        for name in ("rules.yaml", "jurisdictions.yaml"):
            (config / name).write_text(config_file(name).read_text("utf-8"), encoding="utf-8")
        alerts = load_yaml(config_file("alerts.yaml"))
        alerts["channels"] = [{"name": "log", "kind": "jsonl", "min_level": 4,
                               "path": str(config / "notifications.jsonl")}]
        (config / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True),
                                            encoding="utf-8")
        database = database or f"sqlite:///{config / 'eval.db'}"
        warehouse = Warehouse(database)
        settings = load_cycle_settings(config)
        warehouse.sync_sources(settings.sources)
        history = seed_history(warehouse, [s for s in settings.sources if s.id != "police"],
                               first_cycle - timedelta(minutes=60))
        for cycle in range(cycles):
            now = first_cycle + timedelta(minutes=30 * cycle)
            for source in ("weibo", "forum", "police"):
                server.set_route(f"/{source}.xml", Route(feed(by_source[source], now)))
            run_cycle(config_dir=str(config), database_url=database, force=True, now=now,
                      per_host_delay_s=0.0)
        elapsed = time.perf_counter() - started

        with warehouse.engine.connect() as conn:
            stored = {(s, e): i for i, s, e in conn.execute(
                select(Post.id, Post.source_id, Post.external_id))}
            alerts_rows = conn.execute(select(AlertRow.id, AlertRow.evidence,
                                              AlertRow.incident_id)).all()
            # Pages about the alert itself (new, level risen), not reminders or escalations.
            outbox = Counter(r.alert_id for r in conn.execute(
                select(OutboxRow.alert_id).where(~OutboxRow.idempotency_key.like("incident:%"))))
        post_of = {i.external_id: stored.get((i.source, i.external_id)) for i in items}
        events = EventStore(warehouse).events_of_posts([p for p in post_of.values() if p])
        truth = {i.external_id: i.truth for i in items if post_of[i.external_id] in events}
        predicted = {k: events[post_of[k]] for k in truth}
        planted = {e.name for e in EVENTS}
        # Incidents and notifications per planted event: an alert belongs to the planted
        # event holding most of its evidence posts.
        truth_of_post = {post_of[i.external_id]: i.truth for i in items if post_of[i.external_id]}
        incidents: dict[str, set[int]] = defaultdict(set)
        notes: Counter[str] = Counter()
        store = IncidentStore(warehouse)
        for alert_id, evidence, incident_id in alerts_rows:
            labels = Counter(truth_of_post.get(e.get("post_id")) for e in evidence or ()
                             if truth_of_post.get(e.get("post_id")) in planted)
            if not labels:
                continue
            label = labels.most_common(1)[0][0]
            incident = store.get(incident_id or alert_id)
            while incident.merged_into is not None:
                incident = store.get(incident.merged_into)
            incidents[label].add(incident.id)
            notes[label] += outbox.get(alert_id, 0)
        statements = {}
        for label, ids in incidents.items():
            for incident_id in ids:
                incident = store.get(incident_id)
                if incident.official_statement_at is not None:
                    delay = (incident.official_statement_at - incident.opened_at).total_seconds()
                    statements[label] = delay / 60
        warehouse.close()
    return Outcome(items, truth, predicted, dict(incidents), notes, statements, history,
                   elapsed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cycles", type=int, default=12, help="30-minute cycles (default 12)")
    parser.add_argument("--database", help="warehouse URL (default: a temporary SQLite file)")
    parser.add_argument("--show", action="store_true",
                        help="also print each stored event holding posts of several truths, "
                             "and each planted event split over several stored events")
    args = parser.parse_args()
    outcome = evaluate(args.seed, args.cycles, args.database)
    items, truth, predicted = outcome.items, outcome.truth, outcome.predicted
    incidents, notes, history, elapsed = (outcome.incidents, outcome.pages, outcome.history,
                                          outcome.elapsed)
    statements = {k: f"{v:+.0f} min" for k, v in outcome.statements.items()}
    planted = outcome.planted
    p, r, f1 = outcome.bcubed()
    wrong = outcome.wrong_merges()
    absorbed = sum(1 for k, label in truth.items() if label.startswith("bg:")
                   and any(predicted[k] == predicted[j] for j, lab in truth.items()
                           if lab in planted))

    planted_posts = sum(1 for label in truth.values() if label in planted)
    background = len({label for label in truth.values() if label.startswith("bg:")})
    print(f"\njingyu events evaluation (seed {args.seed}): {args.cycles} cycles of 30 min, "
          f"{len(items)} scenario posts ({planted_posts} in {len(EVENTS)} planted events, "
          f"{len(items) - planted_posts} background in {background} distinct texts), "
          f"{history} history posts; {elapsed:.0f} s")
    print(f"  posts -> events B-cubed: precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}"
          f"   (goal F1 >= 0.90)")
    print(f"  wrong merges (stored events holding two planted events): {wrong}   (goal 0)")
    print(f"  background posts pulled into a planted event: {absorbed}")
    if args.show:
        mixed: dict[int, Counter[str]] = defaultdict(Counter)
        for key, label in truth.items():
            mixed[predicted[key]][label if label in planted else label[:16]] += 1
        for event_id, labels in sorted(mixed.items()):
            if len(labels) > 1:
                print(f"    event {event_id}: " + ", ".join(f"{k} {n}" for k, n in
                                                          labels.most_common()))
        split: dict[str, Counter[int]] = defaultdict(Counter)
        for key, label in truth.items():
            if label in planted:
                split[label][predicted[key]] += 1
        for label, parts in sorted(split.items()):
            if len(parts) > 1:
                print(f"    {label} split: " + ", ".join(f"event {e} {n}" for e, n in
                                                       parts.most_common()))
    alerted = sorted(incidents)
    if alerted:
        mean = sum(len(incidents[e]) for e in alerted) / len(alerted)
        print(f"  incidents per alerted event: {mean:.2f}   (goal 1.00)")
        print(f"  incidents carrying alerts of two planted events: "
              f"{outcome.shared_incidents()}   (goal 0)")
    for label in alerted:
        print(f"    {label:9s} incidents {sorted(incidents[label])}  alert pages "
              f"{notes[label]}  statement {statements.get(label, 'none recorded')}")
    for label in sorted(planted - set(alerted)):
        print(f"    {label:9s} raised no alert")
    return 0


if __name__ == "__main__":
    sys.exit(main())
