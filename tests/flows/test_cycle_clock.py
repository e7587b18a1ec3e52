"""A cycle run at a given time (a replay) fetches, stores and detects at that one time.

Before, such a cycle stamped its posts fetched at the wall clock — after the cycle's own
time — so detection, causal by fetch time, skipped them and no sensitive item alerted.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from collectors.replay import FeedReplayServer, Route
from flows.demo.data import render_demo_feeds
from flows.demo.run_demo import prepare_config
from flows.monitor import monitor
from jingyu.timeutil import as_utc_naive, utcnow
from warehouse.models import AlertRow, Post
from warehouse.store import Warehouse

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_cycle_run_hours_ago_stamps_its_fetch_then_and_raises_its_sensitive_items(
        tmp_path: Path, sqlite_url: str) -> None:
    at = utcnow().replace(microsecond=0) - timedelta(hours=6)
    routes = {path: Route(body=body, content_type=ctype)
              for path, (body, ctype) in render_demo_feeds(at).items()}
    with FeedReplayServer(routes) as server:
        config = prepare_config(tmp_path, server.url(""))
        summary = monitor(config_dir=str(config), database_url=sqlite_url, force=True,
                          per_host_delay_s=0.01, now=at)
    assert summary["posts_new"] > 0
    warehouse = Warehouse(sqlite_url)
    with warehouse.engine.connect() as conn:
        fetched = set(conn.execute(select(Post.fetched_at)).scalars())
        kinds = list(conn.execute(select(AlertRow.kind, AlertRow.first_detected_at)))
    warehouse.close()
    assert fetched == {as_utc_naive(at)}
    sensitive = [when for kind, when in kinds if kind == "sensitive_item"]
    assert sensitive and set(sensitive) == {as_utc_naive(at)}
