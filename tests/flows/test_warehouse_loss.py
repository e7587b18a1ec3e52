"""Failures that explain themselves, with real processes: a `jingyu run` whose warehouse is
lost half-way exits 3 with one message saying what was and was not stored, and the next
cycle settles the run it left open with its true counts; a killed cycle is settled at once."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from prefect.settings import PREFECT_API_URL
from sqlalchemy import create_engine, text

from collectors.replay import FeedReplayServer, Route, synthetic_feed
from flows.cli import main
from warehouse.store import Warehouse

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

FAST, SLOW, ITEMS = 4, 4, 5


def _world(tmp_path: Path, server: FeedReplayServer) -> Path:
    rng = random.Random(9)
    for n in range(FAST + SLOW):
        server.set_route(f"/feed{n}.xml", Route(synthetic_feed(n, ITEMS, rng),
                                                delay_s=0 if n < FAST else 12))
    config = tmp_path / "config"
    config.mkdir()
    sources = [{"id": f"feed{n}", "name": f"Feed {n}", "kind": "feed",
                "url": server.url(f"/feed{n}.xml"), "poll_minutes": 5}
               for n in range(FAST + SLOW)]
    (config / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    (config / "alerts.yaml").write_text(
        f"channels:\n  - name: log\n    kind: jsonl\n    path: {tmp_path / 'n.jsonl'}\n",
        encoding="utf-8")
    return config


def _start_run(config: Path, url: str) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--force", "--config",
                             str(config), "--database", url], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _sources_stored(url: str) -> set[str]:
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            found = set(conn.execute(text("select distinct source_id from posts")).scalars())
        engine.dispose()
        return found
    except Exception:  # the schema may not exist yet
        return set()


def _wait_for_fast_sources(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(_sources_stored(url)) >= FAST:
            return
        time.sleep(0.3)
    raise AssertionError(f"the cycle never stored its fast sources: {process.poll()}")


def _lose_warehouse_mid_cycle(tmp_path: Path, url: str, cut: Callable[[], None],
                              restore: Callable[[], None]) -> None:
    with FeedReplayServer() as server:
        config = _world(tmp_path, server)
        process = _start_run(config, url)
        try:
            _wait_for_fast_sources(url, process)
            cut()
            out, err = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            restore()
        assert process.returncode == 3, (out[-2000:], err[-3000:])
        # One clear message, no traceback flood.
        assert "Traceback" not in out + err
        lines = [line for line in err.splitlines() if line.startswith("jingyu: ")]
        assert len(lines) == 1 and "warehouse lost during run" in lines[0]
        message = lines[0]
        stored_before = _sources_stored(url)
        assert stored_before >= {f"feed{n}" for n in range(FAST)}
        assert f"{len(stored_before)} of {FAST + SLOW} due sources" in message
        assert f"not stored: {FAST + SLOW - len(stored_before)} sources" in message
        assert "the next cycle settles it" in message

        # The next cycle settles the run the lost one left open, and fetches what it missed.
        assert main(["run", "--force", "--config", str(config), "--database", url]) == 0
    warehouse = Warehouse(url)
    lost, settling = sorted(warehouse.runs(), key=lambda r: r["run_id"])
    with warehouse.engine.connect() as conn:
        posts_of_lost = conn.execute(text("select count(*) from posts where run_id = :r"),
                                     {"r": lost["run_id"]}).scalar()
        total = conn.execute(text("select count(*) from posts")).scalar()
    warehouse.close()
    assert lost["status"] == "aborted"
    assert lost["posts_new"] == posts_of_lost == ITEMS * len(stored_before)
    assert (lost["sources_total"], lost["sources_ok"]) == (FAST + SLOW, len(stored_before))
    assert lost["sources_failed"] == FAST + SLOW - len(stored_before)
    missed = sorted({f"feed{n}" for n in range(FAST + SLOW)} - stored_before)
    assert any("not stored" in e and all(m in e for m in missed) for e in lost["errors"])
    assert settling["status"] == "ok" and total == (FAST + SLOW) * ITEMS


def test_postgresql_lost_mid_cycle(tmp_path, postgres_url, postgres_admin_url) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")

    def cut() -> None:   # what a server shutdown or fail-over does to a client
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name"), {"name": name})

    def restore() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))

    try:
        _lose_warehouse_mid_cycle(tmp_path, postgres_url, cut, restore)
    finally:
        admin.dispose()


def test_sqlite_locked_mid_cycle(tmp_path, sqlite_url) -> None:
    """Another process holds the SQLite file's write lock past the busy timeout."""
    path = sqlite_url.removeprefix("sqlite:///")
    holder: list[subprocess.Popen] = []

    def cut() -> None:
        locker = subprocess.Popen(
            [sys.executable, "-c", "import sqlite3, sys\n"
             f"c = sqlite3.connect({path!r}, isolation_level=None, timeout=60)\n"
             "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert locker.stdout.readline().strip() == "locked"
        holder.append(locker)

    def restore() -> None:
        for locker in holder:
            locker.communicate(timeout=30)

    _lose_warehouse_mid_cycle(tmp_path, sqlite_url, cut, restore)


def test_a_killed_cycle_is_settled_at_once_with_its_true_counts(tmp_path, sqlite_url) -> None:
    with FeedReplayServer() as server:
        config = _world(tmp_path, server)
        process = _start_run(config, sqlite_url)
        try:
            _wait_for_fast_sources(sqlite_url, process)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        stored_before = _sources_stored(sqlite_url)
        assert main(["run", "--force", "--config", str(config), "--database", sqlite_url]) == 0
    killed, settling = sorted(Warehouse(sqlite_url).runs(), key=lambda r: r["run_id"])
    assert killed["status"] == "aborted"
    assert killed["posts_new"] == ITEMS * len(stored_before) > 0
    assert (killed["sources_total"], killed["sources_ok"]) == (FAST + SLOW, len(stored_before))
    assert any("process" in e and "ended before closing" in e for e in killed["errors"])
    assert settling["status"] == "ok"
