"""Run the monitor flow for many cycles over a local world of faulty sources and check it.

    python benchmarks/bench_faulty_world.py --cycles 6 [--mixed 5]

Serves collectors.faulty_world's faults (blocked, captcha, login redirect, expired cookie,
empty 200, slow, broken, RSSHub error page and item, 404, 5xx ...) plus working feeds on
127.0.0.1, runs forced cycles, and prints: failures classified right / wrong (run ledger's
failure_class against the fault's expected class), rows stored vs distinct (source, id),
and the cycle times. --mixed N adds N working sources of each other kind (html list pages,
JSON APIs, MediaCrawler folders with comments, weibo-crawler files; benchmarks/bench_cycle.py
makes them) and the faults behind html and JSON sources too, and prints the comments linked
to the posts they answer.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import yaml  # noqa: E402

from collectors.faulty_world import FAULTS  # noqa: E402
from collectors.replay import FeedReplayServer  # noqa: E402
from jingyu.config import config_file  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--mixed", type=int, default=0,
                        help="N working sources of each other kind, and faults behind them")
    args = parser.parse_args()
    from sqlalchemy import create_engine, func, select

    from flows.monitor import run_cycle
    from warehouse.models import Post, RunSource

    by_path = {f.path: f for f in FAULTS}
    # source id -> (the failure class expected, what it is, its path)
    expected = {f"fault{n}": (f.expected, f.what, f.path) for n, f in enumerate(FAULTS)}
    with tempfile.TemporaryDirectory() as tmp, \
            FeedReplayServer({f.path: f.route for f in FAULTS}) as server:
        config = Path(tmp)
        sources = [{"id": source_id, "name": what, "kind": "feed",
                    "url": server.url(path), "poll_minutes": 1}
                   for source_id, (_, what, path) in expected.items()]
        if args.mixed:
            sources += mixed_world(args.mixed, server, config, by_path, expected)
        (config / "sources.yaml").write_text(yaml.safe_dump({"sources": sources},
                                                            allow_unicode=True), "utf-8")
        (config / "scoring.yaml").write_text("sentiment:\n  model: fast\n", "utf-8")
        alerts = yaml.safe_load(config_file("alerts.yaml").read_text(encoding="utf-8"))
        alerts["channels"] = [{"name": "log", "kind": "jsonl", "path": str(config / "n.jsonl")}]
        (config / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True), "utf-8")
        database = f"sqlite:///{config / 'world.db'}"
        times = []
        for _ in range(args.cycles):
            started = time.perf_counter()
            run_cycle(config_dir=str(config), database_url=database, force=True,
                      per_host_delay_s=0.0)
            times.append(time.perf_counter() - started)
        engine = create_engine(database)
        with engine.connect() as conn:
            ledger = conn.execute(select(RunSource.source_id, RunSource.status,
                                         RunSource.failure_class)).all()
            rows = conn.scalar(select(func.count()).select_from(Post))
            answers = conn.scalar(select(func.count()).select_from(Post)
                                  .where(Post.parent_external_id.is_not(None)))
            linked = conn.scalar(select(func.count()).select_from(Post)
                                 .where(Post.parent_id.is_not(None)))
            distinct = conn.scalar(select(func.count()).select_from(
                select(Post.source_id, Post.external_id).distinct().subquery()))
        engine.dispose()
    right = wrong = 0
    mistakes = []
    for source_id, status, failure in ledger:
        want, what, path = expected[source_id]
        if path == "/slow":
            want = None     # 3 s is slow for the tests' 0.5 s read timeout, not the cycle's 20 s
        got = failure if status == "error" else None
        if got == want:
            right += 1
        else:
            wrong += 1
            mistakes.append(f"{source_id} ({what}): {got} != {want}")
    print(f"\nfaulty world: {len(expected)} sources ({len(FAULTS)} feeds"
          + (f", {len(expected) - len(FAULTS)} of other kinds" if args.mixed else "")
          + f") x {args.cycles} forced cycles")
    print(f"  fetches classified right {right}, wrong {wrong}")
    for mistake in sorted(set(mistakes)):
        print(f"    {mistake}")
    print(f"  posts stored {rows}, distinct (source, id) {distinct}")
    print(f"  comments and reposts {answers}, linked to the post they answer {linked}")
    print(f"  cycle seconds: " + ", ".join(f"{t:.1f}" for t in times))
    return 1 if wrong or rows != distinct or linked != answers else 0


# Faults behind the other HTTP kinds: the base collector judges them as for a feed.
KIND_FAULTS = (("html", "/captcha"), ("html", "/gone"), ("html", "/login-redirect"),
               ("html", "/js-challenge"), ("json", "/waf"), ("json", "/weibo-432"),
               ("json", "/changed"), ("json", "/down"), ("json", "/rsshub-cookie"))
OPTIONS = {"html": {"items": "ul.list li", "date": "span.d"},
           "json": {"items": "data.list", "fields": {"id": "id", "title": "title",
                                                     "text": "content", "url": "url"}}}


def mixed_world(count: int, server, config: Path, by_path: dict, expected: dict) -> list[dict]:
    """`count` working sources of each kind but feeds, and KIND_FAULTS (entered in
    `expected`); sources.yaml entries."""
    import random

    from bench_cycle import MIXED, make_source

    rng = random.Random(5)
    sources = []
    for kind in MIXED[1:]:
        for i in range(count):
            n = 100 + len(sources)
            source, _routes = make_source(kind, n, 20, rng, server, config)
            sources.append({**source, "poll_minutes": 1})
            expected[source["id"]] = (None, f"a working {kind} source", "")
    for kind, path in KIND_FAULTS:
        source_id = f"{kind}-fault{len(sources)}"
        fault = by_path[path]
        sources.append({"id": source_id, "name": fault.what, "kind": kind,
                        "url": server.url(path), "poll_minutes": 1, "options": OPTIONS[kind]})
        expected[source_id] = (fault.expected, f"{kind}: {fault.what}", path)
    return sources


if __name__ == "__main__":
    sys.exit(main())
