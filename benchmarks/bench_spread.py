"""What the 传播路径 of an incident costs to read (warehouse.spread.event_spread, drawn on
every view of the incident page and in the 专报) as its event and threads grow.

    python benchmarks/bench_spread.py [--database URL] [--background 100000]
                                      [--sizes 100,1000,10000] [--comments 4]

Stores `background` unrelated posts (each with one comment), then, for each size, an event of
that many posts on three platforms, each post with `comments` comments and a reply to the
first; the event's posts are put together with warehouse.events.move_posts as an analyst's
split would. Prints the median of 5 reads per size in milliseconds, with the posts and
thread posts read.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text, update
from sqlalchemy.orm import sessionmaker

from warehouse.events import move_posts
from warehouse.models import Post, Source
from warehouse.spread import event_spread
from warehouse.store import Warehouse

START = datetime(2026, 11, 20)
PLATFORMS = ("微博", "抖音", "今日头条")


def _insert(session, rows: list[dict]) -> list[int]:
    ids: list[int] = []
    for chunk in range(0, len(rows), 2000):
        ids += list(session.scalars(insert(Post).returning(Post.id), rows[chunk:chunk + 2000]))
    return ids


def _row(external: str, at: datetime, parent: int | None = None, **extra) -> dict:
    return {"source_id": "bench", "external_id": external, "title": external, "text": "",
            "fetched_at": at, "seen_at": at, "content_hash": external, "keywords": [],
            "topics": [], "police_terms": [], "rule_hits": [], "parent_id": parent,
            "relation": "comment" if parent else None, **extra}


def thread(session, prefix: str, count: int, comments: int, hours: float) -> list[int]:
    """`count` posts over `hours`, each with `comments` comments and a reply: their ids."""
    posts = _insert(session, [
        _row(f"{prefix}-{i}", START + timedelta(hours=hours * i / count),
             platform=PLATFORMS[i % len(PLATFORMS)], author=f"账号{i % 50}",
             reposts=i % 97, comments=comments)
        for i in range(count)])
    children = [_row(f"{prefix}-{i}-c{j}", START + timedelta(hours=hours * i / count,
                                                            minutes=5 + j), parent=post)
                for i, post in enumerate(posts) for j in range(comments)]
    first = _insert(session, children)[::comments] if comments else []
    _insert(session, [_row(f"{prefix}-r{k}", START + timedelta(hours=hours, minutes=k),
                           parent=c) for k, c in enumerate(first)])
    return posts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="warehouse URL (default: a temporary SQLite file)")
    parser.add_argument("--background", type=int, default=100_000)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--comments", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        warehouse = Warehouse(url)
        session_of = sessionmaker(warehouse.engine)
        with session_of.begin() as session:
            session.add(Source(id="bench", name="bench", kind="mediacrawler", url="/data",
                               tags=[], poll_minutes=5, enabled=True, seen_ids=[],
                               cursor_extra={}, consecutive_failures=0))
        with session_of.begin() as session:
            thread(session, "bg", args.background, 1, 24 * 7)
        with warehouse.engine.begin() as conn:      # table statistics, as autovacuum keeps them
            conn.execute(text("ANALYZE"))
        print(f"event spread read, database {url.split(':')[0]}, {args.background} background "
              f"posts with a comment each, {args.comments} comments per event post + a reply")
        for size in (int(s) for s in args.sizes.split(",")):
            with session_of.begin() as session:
                posts = thread(session, f"ev{size}", size, args.comments, 48)
                event = move_posts(session, posts, None, "split")
                # the comments are in no event of their own: only their thread brings them
                session.execute(update(Post).where(Post.id.in_(posts[:1])).values(author="首发"))
            with warehouse.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
            times = []
            event_spread(warehouse.engine, event)        # a warm connection, as a served page has
            for _ in range(5):
                began = time.perf_counter()
                spread = event_spread(warehouse.engine, event)
                times.append(time.perf_counter() - began)
            assert spread is not None and spread.posts == size
            print(f"  event of {size:6d} posts + {spread.thread_posts:6d} thread posts: "
                  f"{1000 * statistics.median(times):8.1f} ms median of 5 "
                  f"({len(spread.curve)} buckets of {spread.step}, "
                  f"{len(spread.platforms)} platforms)")
        warehouse.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
