"""What event grouping costs per post as the warehouse grows.

    python benchmarks/bench_events.py --posts 200000 [--database URL] [--batch 500]

Stores synthetic posts a week long (seven days of everyday words drawn Zipf-like from a
vocabulary of 20,000, plus a few concurrent happenings with their own words, placed in the
districts of the demo city) in batches, as the loader does, and times warehouse.events.
join_events alone for each batch. Prints milliseconds per post at each tenth of the way and
the size of the event index (event_terms rows), so the cost at a given size can be read off.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import sessionmaker

from warehouse.events import EventMember, join_events
from warehouse.models import EventTerm, Post, Source
from warehouse.store import Warehouse

PLACES = ("qingchuan", "qingchuan.linjiang", "qingchuan.beihu", "qingchuan.yunxi",
          "qingchuan.linjiang.linjiang_pcs", "qingchuan.beihu.beihu_pcs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database", help="warehouse URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    rng = random.Random(5)
    vocabulary = [f"词{i}" for i in range(20_000)]
    weights = [1 / (i + 1) for i in range(len(vocabulary))]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        warehouse = Warehouse(url)
        session_of = sessionmaker(warehouse.engine)
        with session_of.begin() as session:
            session.add(Source(id="bench", name="bench", kind="feed", url="http://127.0.0.1/",
                               tags=[], poll_minutes=5, enabled=True, seen_ids=[],
                               cursor_extra={}, consecutive_failures=0))
        start = datetime(2026, 11, 20)
        span = timedelta(days=7).total_seconds()
        timed = 0.0
        done = 0
        report_every = max(args.batch, args.posts // 10)
        print(f"event grouping cost, {args.posts} posts in batches of {args.batch}, "
              f"database {url.split(':')[0]}")
        while done < args.posts:
            n = min(args.batch, args.posts - done)
            rows = []
            for i in range(n):
                at = start + timedelta(seconds=span * (done + i) / args.posts)
                words = set(rng.choices(vocabulary, weights, k=8))
                if rng.random() < 0.2:       # a post of one of a few current happenings
                    happening = int((done + i) / args.posts * 400) + rng.randrange(3)
                    words |= {f"事{happening}甲", f"事{happening}乙", f"事{happening}丙"}
                rows.append({"source_id": "bench", "external_id": f"b{done + i}",
                             "title": "", "text": "", "fetched_at": at, "seen_at": at,
                             "content_hash": f"h{done + i}", "keywords": sorted(words),
                             "jurisdiction": rng.choice(PLACES), "topics": [],
                             "police_terms": [], "rule_hits": []})
            with session_of.begin() as session:
                inserted = session.execute(insert(Post).returning(Post.id, Post.seen_at,
                                                                  Post.keywords,
                                                                  Post.jurisdiction),
                                           rows).all()
                members = [EventMember(r.id, r.seen_at, tuple(r.keywords), r.jurisdiction,
                                       None, "") for r in inserted]
                began = time.perf_counter()
                join_events(session, members)
                elapsed = time.perf_counter() - began
            timed += elapsed
            done += n
            if done % report_every < args.batch or done == args.posts:
                with session_of() as session:
                    index = session.scalar(select(func.count()).select_from(EventTerm))
                print(f"  {done:9d} posts stored   event index {index:9d} rows   "
                      f"this batch {1000 * elapsed / n:6.2f} ms/post   "
                      f"mean {1000 * timed / done:6.2f} ms/post")
        warehouse.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
