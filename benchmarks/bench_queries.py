"""Time every named query over 30 days of a generated 1,000,000-post, 90-day warehouse.

    python benchmarks/bench_queries.py [--posts 1000000] [--days 90] [--window-days 30]
                                       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                       [--reuse]

Stories are born every day and reposted for about three days with Zipf-like popularity (the
largest gathers a few hundred posts; half the copies are reposts with a comment, another text
in the same story), so growth means something. (The stories table itself is not filled: no
named query reads it.) Creates the database
jingyu_bench on the server (dropped and rebuilt unless --reuse finds it
loaded), migrates it with the real Alembic migrations, bulk-loads posts, post_topics, runs,
run_sources, alerts and incidents with COPY, runs ANALYZE, then runs each named query three
times over the last --window-days and prints the best and median time. The target is < 1 s.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from warehouse.queries import QUERIES, QueryParams, run_query  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

DATABASE = "jingyu_bench"
JURISDICTIONS = ["qingchuan", "qingchuan.linjiang", "qingchuan.linjiang.linjiang_pcs",
                 "qingchuan.linjiang.jiangbin_pcs", "qingchuan.beihu", "qingchuan.beihu.beihu_pcs",
                 "qingchuan.beihu.xuefu_pcs", "qingchuan.yunxi", "qingchuan.yunxi.chengguan_pcs",
                 "qingchuan.yunxi.shimen_pcs"]
TOPICS = ["police", "police.enforcement_dispute", "police.misconduct", "police.bulletin",
          "police.traffic", "police.anti_fraud", "police.assault", "police.casualty",
          "police.heroes", "police.service", "politics", "stability", "stability.mass_incident",
          "stability.petition", "public_safety", "public_safety.fatal_accident",
          "public_safety.natural_disaster", "public_safety.violent_crime", "public_safety.extreme"]
SUBJECTS = ["民警", "辅警", "交警", "派出所", "网友", "市民", "摊贩", "外卖小哥", "司机", "老人"]
EVENTS = ["路口发生争执", "救起落水儿童", "查处酒驾", "破获电信诈骗案", "调解邻里纠纷",
          "被指暴力执法", "帮助走失老人回家", "处置交通事故", "开展反诈宣传", "接到报警后迅速出警"]
SOURCES = 40
STORIES_PER_DAY = 250
SINGLE_STORIES = 10_000_000     # story ids of posts that no other post copies
RUN_EVERY = timedelta(minutes=5)
NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)      # the generated data ends here


def _field(value) -> str:
    # COPY text format; generated values hold no tab, newline or backslash.
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _copy(conn: psycopg.Connection, table: str, columns: list[str], rows) -> int:
    """COPY rows as text lines in large chunks (write_row adapts value by value: too slow)."""
    n, chunk = 0, []
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            chunk.append("\t".join(map(_field, row)))
            n += 1
            if len(chunk) >= 20_000:
                copy.write(("\n".join(chunk) + "\n").encode())
                chunk = []
        if chunk:
            copy.write(("\n".join(chunk) + "\n").encode())
    return n


def generate(url: str, posts: int, days: int, now: datetime, seed: int = 7) -> None:
    rng = random.Random(seed)
    Warehouse(url).close()                          # the real migrations build the schema
    start = now - timedelta(days=days)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        sources = [(f"src{i:02d}", f"来源{i}", "feed", f"https://feeds.example/{i}.xml",
                    json.dumps(["official"] if i % 8 == 0 else []), JURISDICTIONS[i % 10], 5,
                    True, "[]", "{}", now.replace(tzinfo=None), now.replace(tzinfo=None),
                    0 if i % 13 else 5) for i in range(SOURCES)]
        _copy(conn, "sources", ["id", "name", "kind", "url", "tags", "jurisdiction",
                                "poll_minutes", "enabled", "seen_ids", "cursor_extra",
                                "last_attempt_at", "last_success_at", "consecutive_failures"],
              sources)
        # posts: 35% are copies of a story, the rest unique. Stories are born each day
        # (STORIES_PER_DAY of them, Zipf-like popularity) and are reposted for three days,
        # so windows see stories rise and fade as on Weibo.
        ranks = list(range(STORIES_PER_DAY))
        weights = list(itertools.accumulate(1 / (r + 3) for r in ranks))
        span = (now - start).total_seconds()
        stamps = sorted(start + timedelta(seconds=span * (rng.random() ** 0.98))
                        for _ in range(posts))
        topic_rows: list[tuple] = []

        def post_rows():
            for i, seen in enumerate(stamps, start=1):
                seen = seen.replace(tzinfo=None)
                source = rng.randrange(SOURCES)
                topics = rng.sample(TOPICS, k=rng.choice((0, 1, 1, 2, 2, 3)))
                polarity = rng.choices(("negative", "neutral", "positive"), (3, 5, 2))[0]
                if rng.random() < 0.35:
                    born = (seen - start.replace(tzinfo=None)).days - rng.choice((0, 0, 0, 1, 1, 2))
                    rank = rng.choices(ranks, cum_weights=weights)[0]
                    story_id = born * STORIES_PER_DAY + rank + 1
                    # Half the copies are reposts with a comment: another text, same story.
                    story = (hashlib.sha1(f"story-{born}-{rank}".encode()).hexdigest()
                             if rng.random() < 0.5 else f"{rng.getrandbits(160):040x}")
                else:
                    story_id = SINGLE_STORIES + i
                    story = f"{rng.getrandbits(160):040x}"
                title = f"{rng.choice(SUBJECTS)}{rng.choice(EVENTS)}（{i}）"
                police = rng.random() < 0.6
                for topic in topics:
                    topic_rows.append((i, topic, seen, f"src{source:02d}",
                                       JURISDICTIONS[source % 10], polarity, police))
                yield (i, f"src{source:02d}", f"e{i}", f"https://news.example/{source}/{i}",
                       title, title + "，现场视频在网上流传。", seen, seen, seen, None, story,
                       "[]", police, "[]", round(rng.random(), 3), polarity,
                       json.dumps(topics), "[]", rng.random() < 0.02, JURISDICTIONS[source % 10],
                       story_id)

        t0 = time.perf_counter()
        _copy(conn, "posts", ["id", "source_id", "external_id", "url", "title", "text",
                              "published_at", "fetched_at", "seen_at", "run_id", "content_hash",
                              "keywords", "police_related", "police_terms", "sentiment",
                              "polarity", "topics", "rule_hits", "high_risk", "jurisdiction",
                              "story_id"],
              post_rows())
        _copy(conn, "post_topics", ["post_id", "topic_id", "seen_at", "source_id", "jurisdiction",
                                    "polarity", "police_related"], topic_rows)
        conn.execute("SELECT setval(pg_get_serial_sequence('posts', 'id'), %s)", (posts,))
        print(f"loaded {posts:,} posts and {len(topic_rows):,} post_topics in "
              f"{time.perf_counter() - t0:.0f} s")
        runs = int((now - start) / RUN_EVERY)

        def run_rows():
            for r in range(1, runs + 1):
                at = (start + r * RUN_EVERY).replace(tzinfo=None)
                status = "ok" if r % 50 else "partial"
                yield (r, at, at + timedelta(seconds=20), status, SOURCES, SOURCES - 1, 1,
                       rng.randrange(50), 0, 0, "[]")

        _copy(conn, "runs", ["id", "started_at", "ended_at", "status", "sources_total",
                             "sources_ok", "sources_failed", "posts_new", "alerts_new",
                             "notifications_sent", "errors"], run_rows())

        def run_source_rows():
            n = 0
            for r in range(1, runs + 1):
                for s in range(0, SOURCES, 4):          # a quarter of the sources are due
                    n += 1
                    failed = (s + r) % 97 == 0
                    yield (n, r, f"src{s:02d}", "error" if failed else "ok",
                           432 if failed else 200, 20, rng.randrange(5),
                           "HTTP 432" if failed else None, 0.4)

        _copy(conn, "run_sources", ["id", "run_id", "source_id", "status", "http_status",
                                    "fetched", "new", "error", "elapsed_s"], run_source_rows())
        alerts = []
        for a in range(1, 2001):
            at = (start + timedelta(seconds=span * rng.random())).replace(tzinfo=None)
            alerts.append((a, f"bench:{a}", "story", rng.randint(1, 4), f"告警{a}", "bench",
                           "[]", JURISDICTIONS[a % 10], "open", 1, at, at))
        _copy(conn, "alerts", ["id", "fingerprint", "kind", "level", "title", "reason",
                               "evidence", "jurisdiction", "status", "version",
                               "first_detected_at", "last_detected_at"], alerts)
        _copy(conn, "incidents", ["id", "alert_id", "fingerprint", "kind", "level", "title",
                                  "jurisdiction", "topics", "terms", "content_hashes",
                                  "sensitive", "status", "opened_at", "updated_at",
                                  "acknowledged_at", "escalated", "repeats"],
              ((a[0], a[0], a[1], a[2], a[3], a[4], a[7], "[]", "[]", "[]", a[0] % 3 == 0,
                "acknowledged" if a[0] % 4 else "new", a[10], a[10],
                a[10] + timedelta(minutes=9) if a[0] % 4 else None, "[]", 0) for a in alerts))
        _copy(conn, "incident_tracks", ["incident_id", "track", "started_at", "notes"],
              ((a[0], track, a[10] + timedelta(minutes=30 + 20 * k), "[]")
               for a in alerts for k, track in enumerate(("legal", "opinion", "control"))))
        for table in ("runs", "run_sources", "alerts", "incidents"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def loaded(url: str, posts: int) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.execute(text("SELECT count(*) FROM posts")).scalar() or 0) >= posts
    except Exception:  # noqa: BLE001 - missing database or schema: not loaded
        return False
    finally:
        engine.dispose()


def prepare(admin_url: str, posts: int, days: int, reuse: bool) -> str:
    """The URL of jingyu_bench, generated afresh unless `reuse` finds it loaded."""
    url = admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    if not (reuse and loaded(url, posts)):
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        admin.dispose()
        generate(url, posts, days, NOW)
    return url


def cases(now: datetime, window_days: int) -> list[tuple[str, str, QueryParams]]:
    base = QueryParams(since=now - timedelta(days=window_days), until=now, limit=20)
    return [
        ("volume", "by day", replace(base, by=("day",))),
        ("volume", "by hour", replace(base, by=("hour",))),
        ("volume", "by day × topic × jurisdiction × source",
         replace(base, by=("day", "topic", "jurisdiction", "source"))),
        ("volume", "by hour, --topic police.traffic", replace(base, by=("hour",),
                                                              topic="police.traffic")),
        ("volume", "by day × topic, --jurisdiction qingchuan.linjiang",
         replace(base, by=("day", "topic"), jurisdiction="qingchuan.linjiang")),
        ("top_stories", "", base),
        ("top_stories", "--polarity negative", replace(base, polarity="negative")),
        ("top_events", "--stance negative", replace(base, stance="negative")),
        ("posts", "--polarity negative --topic police.assault",
         replace(base, polarity="negative", topic="police.assault")),
        ("alerts", "", base),
        ("incidents", "", base),
        ("source_health", "", base),
        ("patrol", "", base),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--window-days", type=int, default=30)
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--reuse", action="store_true", help="keep a loaded jingyu_bench")
    args = parser.parse_args()
    now = NOW
    url = prepare(args.admin_url, args.posts, args.days, args.reuse)
    assert set(QUERIES) <= {name for name, _, _ in cases(now, args.window_days)}
    engine = create_engine(url)
    print(f"{args.posts:,} posts over {args.days} days; each query over the last "
          f"{args.window_days} days, best and median of 3 (PostgreSQL)")
    slow = 0
    for name, label, params in cases(now, args.window_days):
        times, rows = [], 0
        for _ in range(3):
            t0 = time.perf_counter()
            rows = len(run_query(engine, name, params).rows)
            times.append(time.perf_counter() - t0)
        slow += min(times) >= 1.0
        print(f"  {name:<14} {label:<52} {min(times) * 1000:7.0f} ms  "
              f"(median {statistics.median(times) * 1000:5.0f} ms, {rows} rows)")
    engine.dispose()
    print("all under 1 s" if not slow else f"{slow} queries at or over 1 s")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
