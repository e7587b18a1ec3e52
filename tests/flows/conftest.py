"""Flow tests run under Prefect's own test harness, against feeds served on 127.0.0.1."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from collectors.replay import FeedReplayServer, Route
from flows.demo.data import render_demo_feeds
from flows.demo.run_demo import prepare_config
from jingyu.timeutil import utcnow


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=60):
        yield


@dataclass
class RecordedFeeds:
    server: FeedReplayServer
    config_dir: Path
    rendered_at: datetime
    notifications: Path


@pytest.fixture
def recorded_feeds(tmp_path) -> Iterator[RecordedFeeds]:
    """The bundled demo feeds on a local HTTP server, and a config directory pointing at them."""
    now = utcnow()
    routes = {path: Route(body=body, content_type=ctype)
              for path, (body, ctype) in render_demo_feeds(now).items()}
    with FeedReplayServer(routes) as server:
        config = prepare_config(tmp_path, server.url(""))
        yield RecordedFeeds(server, config, now, tmp_path / "notifications.jsonl")
