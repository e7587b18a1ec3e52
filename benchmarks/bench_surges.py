"""What live spike detection costs a monitoring cycle on a large warehouse (PostgreSQL).

    python benchmarks/bench_surges.py [--posts 1000000] [--days 90] [--reuse]

Uses the generated warehouse of bench_queries.py (database jingyu_bench: ~11,000 posts a day,
ten jurisdictions, nineteen topics). Each cycle reads the last hour of posts; when some
series has min_count new texts in it (always, at this volume), it reads the mentions of the
detector's history (14 days, from local midnight) and replays the detector over every
candidate series. Prints each step's time, best and median of 3, and the series replayed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alerts.settings import SpikeSettings  # noqa: E402
from alerts.detection.surges import find_surges, series_of, series_start  # noqa: E402
from bench_queries import NOW, prepare  # noqa: E402
from warehouse.records import Mention  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402


def _timed(step, repeat: int = 3):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - t0)
    return result, min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--admin-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--reuse", action="store_true", help="keep a loaded jingyu_bench")
    args = parser.parse_args()
    now = NOW
    url = prepare(args.admin_url, args.posts, args.days, args.reuse)
    warehouse = Warehouse(url)
    settings = SpikeSettings()
    start = series_start(now, settings, warehouse.coverage_start())
    print(f"{args.posts:,} posts over {args.days} days (PostgreSQL); detector history from "
          f"{start:%Y-%m-%d %H:%M} UTC; best and median of 3")

    recent, best, median = _timed(lambda: warehouse.posts_since(now - settings.window, now))
    print(f"  posts of the latest hour        {best * 1000:7.0f} ms  (median {median * 1000:5.0f}"
          f" ms, {len(recent):,} posts)")
    history, best, median = _timed(lambda: warehouse.mentions_since(start, now))
    print(f"  mentions of the history         {best * 1000:7.0f} ms  (median {median * 1000:5.0f}"
          f" ms, {len(history):,} mentions)")

    def detect():
        return find_surges([Mention.of(p) for p in recent], lambda since, until: history,
                           settings, now, coverage_start=warehouse.coverage_start)

    surges, best, median = _timed(detect)
    series = len({key for post in recent for key in series_of(Mention.of(post))})
    print(f"  replay the detector             {best * 1000:7.0f} ms  (median {median * 1000:5.0f}"
          f" ms, {series} series with posts in the hour, {len(surges)} surging)")
    warehouse.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
