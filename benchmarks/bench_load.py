"""A cycle under its own load: N generated feeds x M new items through the real monitor flow.

    nice -n 10 python benchmarks/bench_load.py --feeds 200 --items 50            # accurate
    python benchmarks/bench_load.py --feeds 40 --items 50 --per-host-delay 0 \\
        --sentiment accurate --sentiment fast                                   # model cost

Each model gets a fresh warehouse (a temporary SQLite file, or --database) and one forced
cycle, as `jingyu run --force` runs it (every feed is on 127.0.0.1, so the per-host delay
spaces all of them; `jingyu run` uses 1 s). Prints whether every post was stored, the wall
time and where it went (fetching, politeness waits, scoring, storing, detection, delivery),
scoring cost per post, and the process's peak threads and memory.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import yaml  # noqa: E402

from collectors.replay import FeedReplayServer, Route, synthetic_feed  # noqa: E402
from jingyu.config import config_file  # noqa: E402


class PeakThreads:
    """Samples the process's thread count every 0.2 s while in use."""

    def __init__(self) -> None:
        self.peak = threading.active_count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, threading.active_count())

    def __enter__(self) -> PeakThreads:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def write_config(directory: Path, feeds: int, url, sentiment: str) -> None:
    sources = [{"id": f"feed{n}", "name": f"Feed {n}", "kind": "feed",
                "url": url(f"/feed{n}.xml"), "poll_minutes": 5} for n in range(feeds)]
    (directory / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}),
                                            encoding="utf-8")
    alerts = yaml.safe_load(config_file("alerts.yaml").read_text(encoding="utf-8"))
    alerts["channels"] = [{"name": "log", "kind": "jsonl", "path": str(directory / "n.jsonl")}]
    (directory / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True),
                                           encoding="utf-8")
    (directory / "scoring.yaml").write_text(f"sentiment:\n  model: {sentiment}\n",
                                            encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--per-host-delay", type=float, default=1.0, metavar="S",
                        help="politeness between requests to one host (default 1, as jingyu run)")
    parser.add_argument("--sentiment", action="append", choices=["accurate", "fast"],
                        help="model(s) to run, one fresh cycle each (default: accurate)")
    parser.add_argument("--database", help="warehouse URL (default: a temporary SQLite file "
                                           "per model); it must be empty")
    args = parser.parse_args()
    models = args.sentiment or ["accurate"]

    from flows.monitor import run_cycle  # after the environment is set
    from warehouse.store import Warehouse

    rng = random.Random(11)
    routes = {f"/feed{n}.xml": Route(synthetic_feed(n, args.items, rng))
              for n in range(args.feeds)}
    expected = args.feeds * args.items
    results = []
    with FeedReplayServer(routes) as server:
        for model in models:
            with tempfile.TemporaryDirectory() as tmp:
                config = Path(tmp)
                write_config(config, args.feeds, server.url, model)
                database = args.database or f"sqlite:///{config / 'load.db'}"
                started = time.perf_counter()
                with PeakThreads() as threads:
                    summary = run_cycle(config_dir=str(config), database_url=database,
                                        force=True, per_host_delay_s=args.per_host_delay)
                elapsed = time.perf_counter() - started
                stored = Warehouse(database).table_counts(("posts",))["posts"]
                results.append((model, elapsed, summary, stored, threads.peak))

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\njingyu load benchmark: {args.feeds} feeds x {args.items} items = {expected} new "
          f"posts, one forced cycle each, per-host delay {args.per_host_delay:g} s, "
          f"{os.cpu_count()} cores")
    failures = 0
    for model, elapsed, summary, stored, threads in results:
        t = summary["timings"]
        complete = stored == expected and summary["sources_ok"] == args.feeds
        failures += not complete
        print(f"\n  sentiment {model}: run {summary['status']}, stored {stored}/{expected} posts,"
              f" sources ok {summary['sources_ok']}/{summary['sources_total']}"
              f"{'' if complete else '  <-- INCOMPLETE'}")
        print(f"    whole call (Prefect start-up included) {elapsed:8.1f} s")
        print(f"    cycle wall time                         {t['wall_s']:8.1f} s")
        print(f"      configuration, ledger, models loaded  {t['prepare_s']:8.1f} s")
        print(f"      fetch + score + store of all sources  {t['sources_s']:8.1f} s")
        print(f"        fetching, summed over threads       {t['fetch_s']:8.1f} s"
              f"   (of it politeness waits {t['politeness_wait_s']:.1f} s)")
        print(f"        scoring (one batch at a time)       {t['score_s']:8.1f} s"
              f"   = {1000 * t['score_s'] / max(stored, 1):.1f} ms/post,"
              f" {stored / max(t['score_s'], 1e-9):.0f} posts/s")
        print(f"        storing, summed over threads        {t['store_s']:8.1f} s")
        print(f"      alert detection                       {t['detect_s']:8.1f} s")
        print(f"      incident timers + watchdog            {t['tend_s']:8.1f} s")
        print(f"      delivery                              {t['deliver_s']:8.1f} s")
        print(f"    peak threads in the process             {threads:8d}")
    print(f"\n  peak memory of the process (all runs)     {peak_mb:8.0f} MB")
    if len(results) == 2:
        (m1, _, s1, n1, _), (m2, _, s2, n2, _) = results
        c1, c2 = (s["timings"]["score_s"] / max(n, 1) for s, n in ((s1, n1), (s2, n2)))
        print(f"  scoring cost {m1} / {m2}: {c1 * 1000:.1f} / {c2 * 1000:.1f} ms per post "
              f"({c1 / max(c2, 1e-9):.1f}x)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
