"""Time ten typical searches (`jingyu search`) over 1,000,000 posts on PostgreSQL and
200,000 on SQLite.

    python benchmarks/bench_search.py [--posts 1000000] [--sqlite-posts 200000]
        [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--reuse]
        [--skip-postgres] [--skip-sqlite]

Texts are real Chinese Weibo posts and reviews (the _train files of ../shared/data/sentiment,
one to three joined per post, ~33,000 distinct), half of them with a police phrase put in
(subject, optional place, act: 辅警在滨河路推搡摊主), so two-character words such as 民警 are
as common as on a police keyword feed and rare ones (疫苗) as rare as in real text. Posts span
90 days, 40 sources in 10 jurisdictions, with topics. The warehouse is built by the real
Alembic migrations; on PostgreSQL the posts are loaded with COPY with the search index
dropped, and the index is then built by migration 0006's own statement (timed). Each search
runs three times (first page of 50 hits and the number of matches, as the console shows
them); the best and median are printed. The target is < 1 s for each.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from bench_queries import JURISDICTIONS, TOPICS, _copy  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from warehouse.search import SearchQuery, search  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# ../shared next to the checkout, or $JINGYU_SHARED (a git worktree lives elsewhere)
SHARED = Path(os.environ.get("JINGYU_SHARED") or ROOT.parent / "shared") / "data" / "sentiment"
CORPORA = ("smp2020_ewect_weibo_train.csv.gz", "osm2022_weibo_events_train.csv.gz",
           "chnsenticorp_train.csv.gz")
DATABASE = "jingyu_bench_search"
SOURCES = 40
DAYS = 90
NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
SUBJECTS = ["民警", "辅警", "交警", "派出所", "特警", "网警", "城管", "保安"]
PLACES = ["滨河路", "人民路", "解放大道", "临江夜市", "北湖公园", "云溪镇", "火车站", "学府路",
          "江滨广场", "石门村"]
ACTS = ["推搡摊主", "暴力执法", "袭警", "打人", "查酒驾", "调解纠纷", "电信诈骗", "出警",
        "被投诉", "救起落水儿童", "开展演练", "暴力抗法", "执法记录仪"]


def typical(now: datetime) -> list[tuple[str, SearchQuery]]:
    week = now - timedelta(days=7)
    return [
        ("two words (3 + 2 characters)", SearchQuery("滨河路 辅警")),
        ("one word, 2 characters", SearchQuery("袭警")),
        ("one word, by relevance", SearchQuery("暴力执法", order="relevance")),
        ("OR and NOT", SearchQuery("(袭警 OR 暴力抗法) NOT 演练")),
        ("a very common word", SearchQuery("民警")),
        ("a very common word, by relevance", SearchQuery("民警", order="relevance")),
        ("two words, last 7 days", SearchQuery("夜市 城管", since=week, until=now)),
        ("two words, one jurisdiction", SearchQuery("派出所 投诉",
                                                    jurisdiction="qingchuan.linjiang")),
        ("phrase, one topic", SearchQuery('"电信诈骗"', topic="police.anti_fraud")),
        ("a rare word", SearchQuery("疫苗")),
    ]


def texts() -> list[str]:
    found: list[str] = []
    for name in CORPORA:
        with gzip.open(SHARED / name, "rt", encoding="utf-8") as handle:
            found += [row["text"] for row in csv.DictReader(handle) if row["text"].strip()]
    return found


def generate_posts(n: int, seed: int = 7):
    """(id, source, seen_at naive UTC, title, text, topics, polarity, jurisdiction) rows."""
    rng = random.Random(seed)
    corpus = texts()
    start = (NOW - timedelta(days=DAYS)).replace(tzinfo=None)
    for i in range(1, n + 1):
        parts = [rng.choice(corpus) for _ in range(rng.choice((1, 1, 2, 3)))]
        if rng.random() < 0.5:
            phrase = (rng.choice(SUBJECTS) + rng.choice(("在", "", "于"))
                      + (rng.choice(PLACES) if rng.random() < 0.3 else "") + rng.choice(ACTS))
            parts.insert(rng.randrange(len(parts) + 1), phrase)
        body = "，".join(parts)[:600].replace("\\", "/")
        source = rng.randrange(SOURCES)
        topics = rng.sample(TOPICS, k=rng.choice((0, 1, 1, 2)))
        yield (i, f"src{source:02d}", start + timedelta(seconds=rng.random() * DAYS * 86400),
               body[:rng.randrange(12, 31)], body, topics,
               rng.choices(("negative", "neutral", "positive"), (3, 5, 2))[0],
               JURISDICTIONS[source % 10])


def _migration_0006():
    path = ROOT / "warehouse" / "migrations" / "versions" / "0006_post_search.py"
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _source_rows():
    return [(f"src{i:02d}", f"来源{i}", "feed", f"https://feeds.example/{i}.xml", "[]",
             JURISDICTIONS[i % 10], 5, True, "[]", "{}", 0) for i in range(SOURCES)]


SOURCE_COLUMNS = ["id", "name", "kind", "url", "tags", "jurisdiction", "poll_minutes",
                  "enabled", "seen_ids", "cursor_extra", "consecutive_failures"]
POST_COLUMNS = ["id", "source_id", "external_id", "url", "title", "text", "published_at",
                "fetched_at", "seen_at", "content_hash", "keywords", "police_related",
                "police_terms", "sentiment", "polarity", "topics", "rule_hits", "high_risk",
                "jurisdiction", "story_id"]


def _post_values(row) -> tuple:
    i, source, seen, title, body, topics, polarity, jurisdiction = row
    return (i, source, f"e{i}", f"https://weibo.example/{source}/{i}", title, body, seen, seen,
            seen, f"{i:040x}", "[]", True, "[]", 0.5, polarity, json.dumps(topics), "[]",
            False, jurisdiction, i)


def _topic_rows(rows):
    for i, source, seen, _t, _b, topics, polarity, jurisdiction in rows:
        for topic in topics:
            yield (i, topic, seen, source, jurisdiction, polarity, True)


def prepare_postgres(admin_url: str, posts: int, reuse: bool) -> str:
    url = admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    if reuse and _count(url) >= posts:
        return url
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    Warehouse(url).close()                          # the real migrations build the schema
    rows = list(generate_posts(posts))
    migration = _migration_0006()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("DROP INDEX ix_posts_search_bigrams")
        _copy(conn, "sources", SOURCE_COLUMNS, _source_rows())
        t0 = time.perf_counter()
        _copy(conn, "posts", POST_COLUMNS, map(_post_values, rows))
        _copy(conn, "post_topics", ["post_id", "topic_id", "seen_at", "source_id",
                                    "jurisdiction", "polarity", "police_related"],
              _topic_rows(rows))
        print(f"loaded {posts:,} posts in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        for statement in migration.POSTGRES_UP:
            if statement.startswith(("SET", "CREATE INDEX")):
                conn.execute(statement)
        conn.commit()
        print(f"built the search index (migration 0006) in {time.perf_counter() - t0:.0f} s")
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return url


def prepare_sqlite(path: Path, posts: int, reuse: bool) -> str:
    url = f"sqlite:///{path}"
    if reuse and path.exists() and _count(url) >= posts:
        return url
    path.unlink(missing_ok=True)
    Warehouse(url).close()
    rows = list(generate_posts(posts))
    engine = create_engine(url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        marks = ", ".join(f":{c}" for c in SOURCE_COLUMNS)
        conn.execute(text(f"INSERT INTO sources ({', '.join(SOURCE_COLUMNS)}) VALUES ({marks})"),
                     [dict(zip(SOURCE_COLUMNS, r)) for r in _source_rows()])
        marks = ", ".join(f":{c}" for c in POST_COLUMNS)
        conn.execute(text(f"INSERT INTO posts ({', '.join(POST_COLUMNS)}) VALUES ({marks})"),
                     [dict(zip(POST_COLUMNS, _post_values(r))) for r in rows])
        topic_columns = ["post_id", "topic_id", "seen_at", "source_id", "jurisdiction",
                         "polarity", "police_related"]
        marks = ", ".join(f":{c}" for c in topic_columns)
        conn.execute(text(f"INSERT INTO post_topics ({', '.join(topic_columns)}) "
                          f"VALUES ({marks})"),
                     [dict(zip(topic_columns, r)) for r in _topic_rows(rows)])
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"loaded {posts:,} posts (search index filled by its triggers) in "
          f"{time.perf_counter() - t0:.0f} s")
    return url


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM posts")).scalar() or 0
    except Exception:  # noqa: BLE001 - missing database or schema: not loaded
        return 0
    finally:
        engine.dispose()


def run(url: str, label: str) -> int:
    engine = create_engine(url)
    print(f"{label}: best and median of 3; first page of 50 hits and the number of matches")
    slow = 0
    for name, query in typical(NOW):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            result = search(engine, query)
            times.append(time.perf_counter() - t0)
        slow += min(times) >= 1.0
        print(f"  {name:<34} {query.text:<28} {min(times) * 1000:6.0f} ms  (median "
              f"{statistics.median(times) * 1000:5.0f} ms, {result.total_text:>6} matches)")
    engine.dispose()
    print("  all under 1 s" if not slow else f"  {slow} searches at or over 1 s")
    return slow


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--sqlite-posts", type=int, default=200_000)
    parser.add_argument("--admin-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite-path", default="data/bench/search.db")
    parser.add_argument("--reuse", action="store_true", help="keep loaded warehouses")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    slow = 0
    if not args.skip_postgres:
        url = prepare_postgres(args.admin_url, args.posts, args.reuse)
        slow += run(url, f"PostgreSQL, {args.posts:,} posts")
    if not args.skip_sqlite:
        path = Path(args.sqlite_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        slow += run(prepare_sqlite(path, args.sqlite_posts, args.reuse),
                    f"SQLite, {args.sqlite_posts:,} posts")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
