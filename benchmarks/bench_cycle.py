"""Time a monitoring cycle over N generated feeds served on 127.0.0.1: first, then unchanged.

    python benchmarks/bench_cycle.py --feeds 50 --items 40 [--database URL]

Prints the wall time of the first cycle (everything new) and of a second cycle in which
every feed answers 304 Not Modified, plus posts/s of the first.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import yaml  # noqa: E402

from collectors.replay import FeedReplayServer, Route, synthetic_feed  # noqa: E402
from jingyu.config import config_file  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--database", help="warehouse URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    from prefect import flow

    from flows.monitor import run_cycle  # after the environment is set

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        """Starts Prefect's ephemeral server, so the cycles below are timed without it."""

    started = time.perf_counter()
    warm_up()
    startup = time.perf_counter() - started

    rng = random.Random(7)
    routes = {f"/feed{n}.xml": Route(synthetic_feed(n, args.items, rng))
              for n in range(args.feeds)}
    with tempfile.TemporaryDirectory() as tmp, FeedReplayServer(routes) as server:
        config = Path(tmp)
        sources = [{"id": f"feed{n}", "name": f"Feed {n}", "kind": "feed",
                    "url": server.url(f"/feed{n}.xml"), "poll_minutes": 5}
                   for n in range(args.feeds)]
        (config / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}),
                                             encoding="utf-8")
        alerts = yaml.safe_load(config_file("alerts.yaml").read_text(encoding="utf-8"))
        alerts["channels"] = [{"name": "log", "kind": "jsonl", "path": str(config / "n.jsonl")}]
        (config / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True),
                                            encoding="utf-8")
        database = args.database or f"sqlite:///{config / 'bench.db'}"

        timings = []
        for label in ("first cycle (all new)", "second cycle (nothing new, 304s)"):
            started = time.perf_counter()
            summary = run_cycle(config_dir=str(config), database_url=database, force=True,
                                per_host_delay_s=0.0)
            elapsed = time.perf_counter() - started
            timings.append((label, elapsed, summary))
        hits = sum(server.hits(path) for path in routes)

    total = args.feeds * args.items
    print(f"\njingyu cycle benchmark: {args.feeds} feeds x {args.items} items = {total} posts,"
          f" database {database.split(':')[0]}")
    print(f"  {'Prefect start-up (not in cycles)':34s} {startup:7.2f} s")
    for label, elapsed, summary in timings:
        print(f"  {label:34s} {elapsed:7.2f} s   new posts {summary['posts_new']:6d}"
              f"   sources ok {summary['sources_ok']}/{summary['sources_total']}")
    first = timings[0]
    print(f"  first cycle throughput: {first[2]['posts_new'] / first[1]:.0f} posts/s"
          f" (fetch + score + store + detect, Prefect task overhead included)")
    print(f"  HTTP requests served: {hits}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
