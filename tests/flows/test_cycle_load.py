"""A cycle under load: `jingyu run --force` over many generated feeds stores every post, and
scoring shared by many task threads gives what scoring one thread at a time gives."""
from __future__ import annotations

import os
import random
import re
import subprocess
import sys

import pytest
import yaml
from prefect.settings import PREFECT_API_URL
from sqlalchemy import text

from collectors.replay import FeedReplayServer, Route, synthetic_feed
from warehouse.store import Warehouse

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

FEEDS, ITEMS = 20, 10


def test_jingyu_run_stores_every_post_of_many_feeds(tmp_path, sqlite_url) -> None:
    rng = random.Random(3)
    routes = {f"/feed{n}.xml": Route(synthetic_feed(n, ITEMS, rng)) for n in range(FEEDS)}
    with FeedReplayServer(routes) as server:
        sources = [{"id": f"feed{n}", "name": f"Feed {n}", "kind": "feed",
                    "url": server.url(f"/feed{n}.xml"), "poll_minutes": 5}
                   for n in range(FEEDS)]
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}),
                                               encoding="utf-8")
        (tmp_path / "alerts.yaml").write_text(
            "channels:\n  - name: log\n    kind: jsonl\n"
            f"    path: {tmp_path / 'notifications.jsonl'}\n", encoding="utf-8")
        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", "run", "--force", "--config", str(tmp_path),
             "--database", sqlite_url], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert all(server.hits(path) == 1 for path in routes)

    assert f"sources: {FEEDS} ok, 0 failed of {FEEDS} due" in done.stdout
    assert f"new posts: {FEEDS * ITEMS}" in done.stdout
    # Where the time went, as `jingyu run` tells the operator.
    assert re.search(r"time: [\d.]+ s; sources [\d.]+ s \(scoring [\d.]+ s", done.stdout)
    warehouse = Warehouse(sqlite_url)
    with warehouse.engine.connect() as conn:
        per_source = dict(conn.execute(text(
            "select source_id, count(*) from posts group by source_id")).all())
        stanced = conn.execute(text(
            "select count(*) from posts where police_related and police_stance is null")).scalar()
    warehouse.close()
    assert per_source == {f"feed{n}": ITEMS for n in range(FEEDS)}
    assert stanced == 0
