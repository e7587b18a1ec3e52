"""Time a monitoring cycle over N generated feeds served on 127.0.0.1: first, then unchanged.

    python benchmarks/bench_cycle.py --feeds 50 --items 40 [--database URL]
    python benchmarks/bench_cycle.py --feeds 200 --items 50 --mixed --fast

Prints the wall time of the first cycle (everything new) and of a second cycle in which
every feed answers 304 Not Modified (files: unchanged), plus posts/s of the first.
--mixed spreads the sources over every kind: RSS feeds, html list pages, JSON APIs,
MediaCrawler JSON Lines folders (posts and comments) and weibo-crawler JSON files, all
served through one group (an RSSHub-like upstream: 8 at once, no delay). --fast scores
with the fast sentiment model.
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
    parser.add_argument("--mixed", action="store_true", help="sources of every kind")
    parser.add_argument("--fast", action="store_true", help="the fast sentiment model")
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
    with tempfile.TemporaryDirectory() as tmp, FeedReplayServer({}) as server:
        config = Path(tmp)
        sources, routes = [], []
        for n in range(args.feeds):
            kind = MIXED[n % len(MIXED)] if args.mixed else "feed"
            source, route = make_source(kind, n, args.items, rng, server, config)
            sources.append(source)
            routes += route
        document = {"sources": sources}
        if args.mixed:
            document["groups"] = [{"id": "local", "hosts": [f"127.0.0.1:{server.port}"],
                                   "concurrency": 8, "delay_s": 0}]
        (config / "sources.yaml").write_text(yaml.safe_dump(document, allow_unicode=True),
                                             encoding="utf-8")
        if args.fast:
            (config / "scoring.yaml").write_text("sentiment:\n  model: fast\n",
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
        if args.mixed:
            from sqlalchemy import create_engine, func, select

            from warehouse.models import Post
            engine = create_engine(database)
            with engine.connect() as conn:
                linked = conn.scalar(select(func.count()).select_from(Post)
                                     .where(Post.parent_id.is_not(None)))
                rows = conn.scalar(select(func.count()).select_from(Post))
            engine.dispose()
            print(f"  posts stored {rows}, comments linked to their post {linked}")

    total = args.feeds * args.items
    kinds = "mixed kinds " + "/".join(MIXED) if args.mixed else "RSS feeds"
    print(f"\njingyu cycle benchmark: {args.feeds} sources ({kinds}) x {args.items} items ="
          f" {total} items, database {database.split(':')[0]}, sentiment "
          f"{'fast' if args.fast else 'accurate'}")
    print(f"  {'Prefect start-up (not in cycles)':34s} {startup:7.2f} s")
    for label, elapsed, summary in timings:
        print(f"  {label:34s} {elapsed:7.2f} s   new posts {summary['posts_new']:6d}"
              f"   sources ok {summary['sources_ok']}/{summary['sources_total']}")
    first = timings[0]
    print(f"  first cycle throughput: {first[2]['posts_new'] / first[1]:.0f} posts/s"
          f" (fetch + score + store + detect, Prefect task overhead included)")
    print(f"  HTTP requests served: {hits}")
    return 0


MIXED = ("feed", "html", "json", "mediacrawler", "weibo-crawler")


def _texts(n: int, items: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(id, title, text) of generated police-news posts, unique to the source."""
    from collectors.replay import _EVENTS, _PLACES, _SUBJECTS, _TAILS

    out = []
    for i in range(items):
        text = (f"{rng.choice(_PLACES)}{rng.choice(_SUBJECTS)}{rng.choice(_EVENTS)}，"
                f"{rng.choice(_TAILS)}（{n}-{i}）")
        out.append((f"s{n}-{i}", text[:30], text))
    return out


def make_source(kind: str, n: int, items: int, rng: random.Random, server: FeedReplayServer,
                folder: Path) -> tuple[dict, list[str]]:
    """A sources.yaml entry of `kind` with `items` items (files written, routes served)."""
    import json
    from html import escape

    entry = {"id": f"{kind}-{n}", "name": f"{kind} {n}", "kind": kind, "poll_minutes": 5}
    if kind == "feed":
        server.set_route(f"/feed{n}.xml", Route(synthetic_feed(n, items, rng)))
        return {**entry, "url": server.url(f"/feed{n}.xml")}, [f"/feed{n}.xml"]
    posts = _texts(n, items, rng)
    if kind == "html":
        rows = "".join(f'<li><a href="/page{n}/{pid}.html">{escape(title)}</a>'
                       f'<span class="d">{rng.randint(1, 23)}小时前</span></li>'
                       for pid, title, _ in posts)
        page = f"<html><body><nav><a href='/'>首页</a></nav><ul class='list'>{rows}</ul></body></html>"
        server.set_route(f"/list{n}/", Route(page.encode(), "text/html; charset=utf-8"))
        return {**entry, "url": server.url(f"/list{n}/"),
                "options": {"items": "ul.list li", "date": "span.d"}}, [f"/list{n}/"]
    if kind == "json":
        body = json.dumps({"data": {"list": [{"id": pid, "title": title, "content": text,
                                              "url": f"/a/{pid}", "user": {"name": "网友"}}
                                             for pid, title, text in posts]}},
                          ensure_ascii=False).encode()
        server.set_route(f"/api{n}", Route(body, "application/json"))
        return {**entry, "url": server.url(f"/api{n}"), "options": {
            "items": "data.list", "fields": {"id": "id", "title": "title", "text": "content",
                                             "url": "url", "author": "user.name"}}}, [f"/api{n}"]
    root = folder / f"{kind}-{n}"
    if kind == "mediacrawler":
        (root / "weibo" / "jsonl").mkdir(parents=True)
        half = items // 2
        with (root / "weibo/jsonl/search_contents_2026-12-04.jsonl").open("w") as file:
            for pid, _title, text in posts[:half]:
                file.write(json.dumps({"note_id": pid, "content": text, "nickname": "网友",
                                       "liked_count": "3", "comments_count": "1",
                                       "shared_count": "0"}, ensure_ascii=False) + "\n")
        with (root / "weibo/jsonl/search_comments_2026-12-04.jsonl").open("w") as file:
            for (pid, _title, text), (parent, _t, _x) in zip(posts[half:], posts[:half]):
                file.write(json.dumps({"comment_id": pid, "note_id": parent, "content": text,
                                       "parent_comment_id": "0"}, ensure_ascii=False) + "\n")
        return {**entry, "url": str(root), "options": {"platform": "weibo"}}, []
    (root / "user").mkdir(parents=True)
    weibos = [{"id": pid, "bid": pid, "user_id": str(n), "screen_name": "用户",
               "text": text, "created_at": "2026-12-04 08:00:00", "attitudes_count": 1,
               "comments_count": 0, "reposts_count": 0} for pid, _title, text in posts]
    (root / "user" / f"{n}.json").write_text(json.dumps({"user": {"id": str(n)},
                                                         "weibo": weibos}, ensure_ascii=False))
    return {**entry, "url": str(root)}, []


if __name__ == "__main__":
    sys.exit(main())
