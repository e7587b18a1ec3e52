"""The duty console under load: p50/p95/p99 of the board and of an incident page with 50
officers logged in at once, over a PostgreSQL warehouse of 1,000,000 posts and 10,000
incidents (the target: p95 under 200 ms for both).

    python benchmarks/bench_console.py [--posts 1000000] [--incidents 10000] [--open 150]
        [--sessions 50] [--seconds 60] [--think 2.0]
        [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--reuse]

The warehouse is built once (database jingyu_bench_console; --reuse keeps it) by the real
Alembic migrations and then bulk SQL (INSERT ... SELECT generate_series): posts over 90 days
in 40 sources and 10 jurisdictions, 20 posts to a story; 10,000 incidents with their alerts,
three 三同步 tracks each, an audit trail and a notification, of which --open are open (on
the board) and the rest closed. The posts' search index (migration 0006) is dropped while
loading and not rebuilt: no page measured here searches.

The console runs as `jingyu console` in its own process (uvicorn, as deployed). Each of the
--sessions simulated officers logs in with its own account, then until --seconds pass: every
3 s it polls the board's change stamp (what the board's script does) and, every --think
seconds on average (exponential), opens the board or an incident page (half the time an
open incident, half any of the 10,000). Latency is measured by the client, end to end.
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from console.accounts import hash_password  # noqa: E402
from tests.console.harness import free_port, login  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

DATABASE = "jingyu_bench_console"
PASSWORD = "bench-password"
JURISDICTIONS = ["qingchuan", "qingchuan.linjiang", "qingchuan.linjiang.linjiang_pcs",
                 "qingchuan.linjiang.jiangbin_pcs", "qingchuan.beihu",
                 "qingchuan.beihu.beihu_pcs", "qingchuan.beihu.xuefu_pcs", "qingchuan.yunxi",
                 "qingchuan.yunxi.chengguan_pcs", "qingchuan.yunxi.shimen_pcs"]
PHRASES = ["辅警在滨河路推搡摊主", "民警救起落水儿童", "派出所门口有人聚集", "交警查酒驾现场",
           "执法记录仪视频流传", "网友质疑出警太慢", "特警开展反恐演练", "城管与摊贩发生冲突"]
STEPS = [
    # sources
    """INSERT INTO sources (id, name, kind, url, tags, jurisdiction, poll_minutes, enabled,
           seen_ids, cursor_extra, consecutive_failures)
       SELECT 'src' || lpad(s::text, 2, '0'), '来源' || s, 'feed',
              'https://feeds.example/' || s || '.xml', '[]', (CAST(:places AS text[]))[1 + s % 10], 5, true,
              '[]', '{}', 0
       FROM generate_series(0, 39) s""",
    # posts: 90 days back from now, 20 to a story
    """INSERT INTO posts (id, source_id, external_id, url, title, text, published_at,
           fetched_at, seen_at, content_hash, keywords, police_related, police_terms, sentiment,
           polarity, topics, rule_hits, high_risk, jurisdiction, story_id)
       SELECT i, 'src' || lpad((i % 40)::text, 2, '0'), 'e' || i,
              'https://weibo.example/' || i, (CAST(:phrases AS text[]))[1 + i % 8] || ' #' || i,
              (CAST(:phrases AS text[]))[1 + i % 8] || '，' || (CAST(:phrases AS text[]))[1 + (i / 8) % 8] || '。编号' || i,
              t, t, t, md5(i::text), '[]', i % 2 = 0, '[]', 0.3,
              (ARRAY['negative', 'neutral', 'positive'])[1 + i % 3], '[]', '[]', false,
              (CAST(:places AS text[]))[1 + (i % 40) % 10], i / 20
       FROM (SELECT i, now() AT TIME ZONE 'UTC' - (i % 7776000) * interval '1 second' AS t
             FROM generate_series(1, :posts) i) g""",
    # one alert per incident; the evidence is a post of the incident's story
    """INSERT INTO alerts (id, fingerprint, kind, level, title, reason, evidence, jurisdiction,
           status, version, first_detected_at, last_detected_at)
       SELECT k, 'sensitive:bench:' || k, 'sensitive_item', 1 + k % 4,
              '敏感信息：' || (CAST(:phrases AS text[]))[1 + k % 8] || ' #' || k, '涉警负面敏感信息',
              json_build_array(json_build_object('post_id', k * 97 % :posts + 1,
                  'title', (CAST(:phrases AS text[]))[1 + k % 8], 'url', 'https://weibo.example/' || k)),
              (CAST(:places AS text[]))[1 + k % 10], 'open', 1, t, t
       FROM (SELECT k, now() AT TIME ZONE 'UTC'
                       - (:incidents - k) * interval '13 minutes' AS t
             FROM generate_series(1, :incidents) k) g""",
    """INSERT INTO incidents (id, alert_id, fingerprint, kind, level, title, jurisdiction,
           topics, terms, content_hashes, sensitive, status, opened_at, updated_at,
           acknowledged_at, acknowledged_by, closed_at, closed_by, escalated, repeats)
       SELECT a.id, a.id, a.fingerprint, a.kind, a.level, a.title, a.jurisdiction, '[]', '[]',
              json_build_array(md5((a.id * 97 % :posts + 1)::text)), a.level <= 2,
              CASE WHEN a.id > :incidents - :open
                   THEN (ARRAY['new', 'acknowledged', 'handling'])[1 + a.id % 3]
                   ELSE 'closed' END,
              a.first_detected_at, a.first_detected_at + interval '1 hour',
              CASE WHEN a.id % 3 <> 1 OR a.id <= :incidents - :open
                   THEN a.first_detected_at + interval '9 minutes' END,
              CASE WHEN a.id % 3 <> 1 OR a.id <= :incidents - :open THEN 'bench01' END,
              CASE WHEN a.id <= :incidents - :open
                   THEN a.first_detected_at + interval '1 hour' END,
              CASE WHEN a.id <= :incidents - :open THEN 'bench02' END, '[]', 0
       FROM alerts a""",
    """INSERT INTO incident_tracks (incident_id, track, unit, started_at, started_by, notes)
       SELECT i.id, t.track, t.unit,
              CASE WHEN i.status <> 'new' AND t.track = 'opinion'
                   THEN i.opened_at + interval '20 minutes' END,
              CASE WHEN i.status <> 'new' AND t.track = 'opinion' THEN 'bench01' END, '[]'
       FROM incidents i,
            (VALUES ('legal', '临江派出所'), ('opinion', '临江分局政工室'),
                    ('control', '临江分局指挥室')) AS t(track, unit)""",
    """INSERT INTO incident_events (incident_id, at, actor, action, detail)
       SELECT id, opened_at, 'system', 'opened', json_build_object('level', level)
       FROM incidents
       UNION ALL
       SELECT id, acknowledged_at, acknowledged_by, 'acknowledged', '{"via": "console"}'
       FROM incidents WHERE acknowledged_at IS NOT NULL
       UNION ALL
       SELECT id, closed_at, closed_by, 'closed', '{"note": "已处置"}'
       FROM incidents WHERE closed_at IS NOT NULL""",
    """INSERT INTO outbox (alert_id, channel, idempotency_key, payload, status, attempts,
           created_at, next_attempt_at, sent_at)
       SELECT id, 'dingtalk', 'alert:' || id || '@dingtalk',
              '{"recipients": [{"name": "张三"}]}', 'sent', 1, first_detected_at,
              first_detected_at, first_detected_at + interval '3 seconds'
       FROM alerts""",
]


def prepare(admin_url: str, posts: int, incidents: int, open_: int, sessions: int,
            reuse: bool) -> str:
    url = admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    if reuse:
        try:
            engine = create_engine(url)
            with engine.connect() as conn:
                have = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
            engine.dispose()
            if have == incidents:
                print(f"reusing {DATABASE} ({have:,} incidents)")
                return url
        except Exception:  # noqa: BLE001 - not built yet
            pass
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    Warehouse(url).close()                         # the real migrations build the schema
    engine = create_engine(url)
    binds = {"places": JURISDICTIONS, "phrases": PHRASES, "posts": posts,
             "incidents": incidents, "open": open_}
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_posts_search_bigrams"))
        for step in STEPS:
            t0 = time.perf_counter()
            used = {k: v for k, v in binds.items() if f":{k}" in step}
            done = conn.execute(text(step), used)
            table = step.split("INTO ")[1].split()[0]
            print(f"  {table}: {done.rowcount:,} rows in {time.perf_counter() - t0:.1f} s")
        for table in ("posts", "alerts", "incidents", "incident_tracks", "incident_events",
                      "outbox"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
        hashed = hash_password(PASSWORD)
        conn.execute(text("""INSERT INTO users (name, role, jurisdiction, password_hash,
                                 disabled, created_at, updated_at)
                             SELECT 'bench' || lpad(n::text, 2, '0'), 'duty', NULL, :hash,
                                    false, now(), now()
                             FROM generate_series(1, :n) n"""), {"hash": hashed, "n": sessions})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return url


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def load(base: str, sessions: int, seconds: float, think: float, open_ids: list[int],
         all_ids: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    ready = threading.Barrier(sessions + 1)

    def officer(n: int) -> None:
        rng = random.Random(n)
        s = requests.Session()
        response = login(s, base, f"bench{n:02d}", PASSWORD)
        assert response.url.rstrip("/") == base, f"bench{n:02d} could not log in"
        ready.wait()
        end = time.monotonic() + seconds
        next_poll = time.monotonic() + rng.random() * 3
        next_view = time.monotonic() + rng.expovariate(1 / think)
        while True:
            now = time.monotonic()
            if now >= end:
                return
            if now < min(next_poll, next_view):
                time.sleep(min(next_poll, next_view, end) - now)
                continue
            if next_poll <= next_view:
                kind, path = "stamp", "/board/stamp"
                next_poll += 3
                headers = {"X-Requested-With": "fetch"}
            else:
                next_view += rng.expovariate(1 / think)
                headers = {}
                if rng.random() < 0.5:
                    kind, path = "board", "/"
                else:
                    kind = "incident"
                    number = rng.choice(open_ids) if rng.random() < 0.5 else \
                        rng.randint(1, all_ids)
                    path = f"/incidents/{number}"
            t0 = time.perf_counter()
            response = s.get(base + path, headers=headers, timeout=30)
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                if response.status_code == 200 and "/login" not in response.url:
                    timings[kind].append(elapsed)
                else:
                    errors[kind] += 1

    threads = [threading.Thread(target=officer, args=(n,), daemon=True)
               for n in range(1, sessions + 1)]
    for t in threads:
        t.start()
    ready.wait()
    for t in threads:
        t.join()
    timings["errors"] = [float(sum(errors.values()))]
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--open", type=int, default=150, help="open incidents (on the board)")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=2.0,
                        help="mean seconds between page views of one officer (default 2)")
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/"
                                                "postgres")
    parser.add_argument("--reuse", action="store_true", help="keep a warehouse built before")
    args = parser.parse_args()

    t0 = time.perf_counter()
    url = prepare(args.admin_url, args.posts, args.incidents, args.open, args.sessions,
                  args.reuse)
    print(f"warehouse ready in {time.perf_counter() - t0:.0f} s: {url}")
    engine = create_engine(url)
    with engine.connect() as conn:
        open_ids = [r[0] for r in conn.execute(text(
            "SELECT id FROM incidents WHERE status IN ('new', 'acknowledged', 'handling')"))]
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("posts", "incidents", "incident_events")}
    engine.dispose()
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items())
          + f"; open incidents {len(open_ids)}")

    port = free_port()
    jingyu = str(Path(sys.executable).parent / "jingyu")
    server = subprocess.Popen([jingyu, "console", "--port", str(port), "--database", url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(base + "/healthz", timeout=2)
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print(server.stderr.read() if server.stderr else "", file=sys.stderr)
                    return 1
                time.sleep(0.3)
        timings = load(base, args.sessions, args.seconds, args.think, open_ids,
                       args.incidents)
    finally:
        server.terminate()
        server.wait(timeout=30)
    errors = int(timings.pop("errors")[0])
    total = sum(len(v) for v in timings.values())
    print(f"\n{args.sessions} sessions for {args.seconds:.0f} s (a page every {args.think} s "
          f"each, stamp every 3 s): {total:,} requests ({total / args.seconds:.1f}/s), "
          f"{errors} errors")
    print(f"{'page':10} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    verdict = True
    for kind in ("board", "incident", "stamp"):
        values = timings.get(kind, [])
        if not values:
            continue
        p95 = percentile(values, 95)
        if kind in ("board", "incident"):
            verdict &= p95 < 200
        print(f"{kind:10} {len(values):6d} {statistics.median(values):8.1f} {p95:8.1f} "
              f"{percentile(values, 99):8.1f} {max(values):8.1f}")
    with open("/proc/loadavg") as fh:
        print(f"load average during the run: {fh.read().split()[0]} (2 cores)")
    print("p95 of board and incident page under 200 ms: " + ("YES" if verdict else "NO"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
