"""Time from a post appearing in its feed to the webhook receiving its alert, on the real
schedule: local feeds, cycles every --poll-minutes through the real monitor flow (every
source due each cycle by its own poll_minutes), posts appearing at random moments.

    python benchmarks/bench_latency.py [--minutes 10] [--posts 16] [--feeds 4]
                                       [--poll-minutes 1] [--database URL] [--seed 7]

Runs in real time (about --minutes plus two cycles). Prints p50/p95/max of the latency, the
cycles' durations, and the goal: p95 <= poll interval + one cycle's duration (the slowest).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# On a busy machine the ephemeral server takes longer than Prefect's 20 s default to start.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

import yaml  # noqa: E402

from collectors.replay import FeedReplayServer, Route  # noqa: E402
from jingyu.config import config_file  # noqa: E402
from jingyu.timeutil import utcnow  # noqa: E402

# Distinct incidents (each its own story), negative about the police and on a high-risk topic
# (执法争议 / 袭警 / 民警伤亡): each should page the duty desk as a sensitive item.
INCIDENTS = [
    "滨河路派出所民警出警时把一名外卖员按在地上殴打，视频里外卖员满脸是血，警方至今没有说明",
    "云溪县交警查车时辱骂司机还动手推搡，路人拍下全过程，这种暴力执法谁来管",
    "临江区一名辅警在夜市暴力执法，掀翻摊位还打伤了摆摊的老人，围观群众非常愤怒",
    "北湖区有人在派出所门口被民警拖拽倒地，家属说人被打到骨折，警方却说是正常处置",
    "火车站广场两名警察把一个讨薪的农民工按在地上打，视频已经传疯了",
    "网传人民广场城管和民警联合执法时殴打卖菜大妈，大妈头部流血被送医",
    "小区门口民警处理纠纷时用警棍打伤业主，业主家属要求公开执法记录仪视频",
    "有网友爆料北湖区派出所审讯时刑讯逼供，嫌疑人身上多处淤青，警方拒绝回应",
    "云溪县一名男子在派出所留置期间死亡，家属质疑民警暴力执法，要求彻查",
    "临江高速路口交警暴力拦车，把车窗砸碎后拖出司机殴打，执法过程令人震惊",
    "滨河路夜市有人持刀袭警，一名民警颈部受伤倒地，现场一片混乱",
    "北湖区民警执法时开枪打伤一名醉酒男子，家属说对方手无寸铁，质疑执法过当",
    "网友称临江区民警查身份证时扇了一名大学生耳光，学生哭着拍下视频发到网上",
    "云溪县派出所民警被指收受贿赂后对报案人不予立案，还把报案人赶出派出所并动手推搡",
    "火车站一名辅警把问路的老人推倒在地，老人骨折住院，辅警至今没有道歉",
    "人民广场执勤民警被醉汉袭击，民警头部受伤送医，袭警者当场被控制",
    "有视频显示北湖区交警执法时掐住骑手脖子把人摔在地上，骑手当场昏迷",
    "临江区警方强制带走拍摄执法过程的记者并抢夺手机，被指暴力执法妨碍采访",
    "云溪县民警深夜踹门进入民宅殴打户主，邻居报警后才知道打人的就是警察",
    "滨河路派出所门前家属拉横幅，称亲人被民警打死在审讯室，要求公开真相",
]
ORDINARY = ["临江区开展夏季交通安全宣传", "北湖区派出所民警帮助走失老人回家",
            "云溪县举办反诈知识讲座", "滨河路夜市今晚正常营业"]


class Feeds:
    """The local feeds: a few ordinary items each, then the incidents as they appear."""

    def __init__(self, server: FeedReplayServer, feeds: int) -> None:
        self.server, self.feeds = server, feeds
        self.items: dict[int, list[str]] = {f: [] for f in range(feeds)}
        self.lock = threading.Lock()
        for feed in range(feeds):
            self._publish(feed)

    def _item(self, guid: str, text: str, link: str) -> str:
        published = format_datetime(utcnow(), usegmt=True)
        return (f"<item><title>{escape(text[:40])}</title><link>{link}</link>"
                f"<guid isPermaLink=\"false\">{guid}</guid><pubDate>{published}</pubDate>"
                f"<description>{escape(text)}</description></item>")

    def _publish(self, feed: int) -> None:
        ordinary = [self._item(f"f{feed}-o{i}", f"{text}（{feed}）",
                               f"https://news.example/{feed}/o{i}")
                    for i, text in enumerate(ORDINARY)]
        body = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
                f"<title>feed {feed}</title><link>https://news.example/</link>"
                f"<description>bench</description>{''.join(self.items[feed] + ordinary)}"
                "</channel></rss>").encode("utf-8")
        self.server.set_route(f"/feed{feed}.xml", Route(body))

    def appear(self, number: int, feed: int) -> float:
        """Put incident `number` into `feed`; the moment it is there (time.time())."""
        with self.lock:
            self.items[feed].insert(0, self._item(f"incident-{number}", INCIDENTS[number],
                                                  f"https://weibo.example/bench/{number}"))
            self._publish(feed)
            return time.time()


class AlertReceiver:
    """A webhook receiver on 127.0.0.1: when each incident's first alert arrived."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                for evidence in (payload.get("alert") or {}).get("evidence") or []:
                    url = str(evidence.get("url") or "")
                    if "/bench/" in url:
                        receiver.arrived.setdefault(int(url.rsplit("/", 1)[1]), at)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_config(config: Path, server: FeedReplayServer, feeds: int, poll_minutes: int,
                 webhook: str) -> None:
    sources = [{"id": f"bench{n}", "name": f"Bench feed {n}", "kind": "feed",
                "url": server.url(f"/feed{n}.xml"), "poll_minutes": poll_minutes}
               for n in range(feeds)]
    (config / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    for name in ("rules.yaml", "jurisdictions.yaml"):
        shutil.copyfile(config_file(name), config / name)
    alerts = yaml.safe_load(config_file("alerts.yaml").read_text(encoding="utf-8"))
    alerts["channels"] = [{"name": "duty-hook", "kind": "webhook", "url": webhook,
                           "min_level": 4}]
    (config / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True),
                                        encoding="utf-8")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="posts appear during this many minutes (real time)")
    parser.add_argument("--posts", type=int, default=16, help=f"at most {len(INCIDENTS)}")
    parser.add_argument("--feeds", type=int, default=4)
    parser.add_argument("--poll-minutes", type=int, default=1,
                        help="the schedule: a cycle every N minutes, sources polled every N")
    parser.add_argument("--database", help="warehouse URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 1 <= args.posts <= len(INCIDENTS):
        parser.error(f"--posts must be 1..{len(INCIDENTS)}")

    from prefect import flow

    from flows.monitor import run_cycle  # after the environment is set

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        """Starts Prefect's ephemeral server, so that cycles are timed without it."""

    warm_up()
    rng = random.Random(args.seed)
    period = args.poll_minutes * 60.0
    receiver = AlertReceiver()
    with tempfile.TemporaryDirectory() as tmp, FeedReplayServer() as server:
        feeds = Feeds(server, args.feeds)
        config = Path(tmp)
        write_config(config, server, args.feeds, args.poll_minutes, receiver.url)
        database = args.database or f"sqlite:///{config / 'bench.db'}"

        # Cycle 0 takes the ordinary items in; posts appear after it, at random moments.
        cycles: list[tuple[float, dict[str, Any]]] = []

        def cycle() -> None:
            started = time.perf_counter()
            summary = run_cycle(config_dir=str(config), database_url=database,
                                per_host_delay_s=0.01)
            cycles.append((time.perf_counter() - started, summary))

        cycle()
        start = time.time()
        span = args.minutes * 60.0
        moments = sorted(rng.uniform(0, span) for _ in range(args.posts))
        appeared: dict[int, float] = {}

        def publish() -> None:
            for number, moment in enumerate(moments):
                time.sleep(max(0.0, start + moment - time.time()))
                appeared[number] = feeds.appear(number, rng.randrange(args.feeds))

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        # The schedule: a cycle at every period boundary after the start (cron-like), until
        # every post has appeared and two more cycles have run.
        boundary = start + period - (start % period)
        after_last = 0
        while after_last < 2:
            time.sleep(max(0.0, boundary - time.time()))
            if not publisher.is_alive():
                after_last += 1
            cycle()
            boundary += period
            while boundary < time.time():           # a cycle longer than the period
                boundary += period
        receiver.close()

    latencies = [receiver.arrived[n] - appeared[n] for n in appeared if n in receiver.arrived]
    durations = [d for d, _ in cycles[1:]]
    due = [s["sources_total"] for _, s in cycles[1:]]
    print(f"\njingyu latency benchmark: {args.posts} posts over {args.minutes:g} min into "
          f"{args.feeds} feeds, a cycle every {args.poll_minutes} min, database "
          f"{database.split(':')[0]}")
    print(f"  cycles: {len(durations)}, sources due per cycle {min(due)}..{max(due)} "
          f"(of {args.feeds}), duration mean {statistics.mean(durations):.1f} s, "
          f"max {max(durations):.1f} s")
    print(f"  posts alerted: {len(latencies)} of {len(appeared)}")
    if not latencies:
        return 1
    p50, p95, worst = (percentile(latencies, 50), percentile(latencies, 95), max(latencies))
    goal = period + max(durations)
    print(f"  post in feed -> alert at webhook: p50 {p50:.1f} s, p95 {p95:.1f} s, "
          f"max {worst:.1f} s")
    print(f"  goal p95 <= poll interval + one cycle = {period:.0f} + {max(durations):.1f} = "
          f"{goal:.1f} s: {'met' if p95 <= goal else 'NOT met'}")
    return 0 if p95 <= goal and len(latencies) == len(appeared) else 1


if __name__ == "__main__":
    sys.exit(main())
