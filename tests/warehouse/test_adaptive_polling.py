"""Adaptive polling: a source that keeps bringing new posts is fetched down to its lowest
interval, a quiet one up to its highest, within the bounds sources.yaml sets; a source
without bounds keeps poll_minutes; bounds outside poll_minutes are a configuration error."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from collectors.polling import next_interval
from collectors.records import (FETCH_NOT_MODIFIED, FETCH_OK, FetchResult, RawPost,
                                SourceConfig, SourceCursor)
from collectors.sources import parse_sources
from jingyu.config import ConfigError
from transforms.records import ScoredPost
from warehouse.store import Warehouse

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)
BUSY = SourceConfig(id="busy", name="热门话题", kind="feed", url="http://x/b", poll_minutes=8,
                    poll_min_minutes=2, poll_max_minutes=60)
QUIET = SourceConfig(id="quiet", name="县局网站", kind="feed", url="http://x/q", poll_minutes=8,
                     poll_min_minutes=2, poll_max_minutes=30)
FIXED = SourceConfig(id="fixed", name="固定", kind="feed", url="http://x/f", poll_minutes=8)


def post(source: str, n: int, at: datetime) -> ScoredPost:
    raw = RawPost(source_id=source, external_id=f"{source}-{n}", url=None, title=f"t{n}",
                  body="", author=None, published_at=at, fetched_at=at)
    return ScoredPost(raw=raw, text=f"{source} {n}", content_hash=f"{source}{n}", keywords=(),
                      police_related=False, police_terms=(), sentiment=0.5, polarity="neutral",
                      topics=(), rule_hits=(), high_risk=False)


def test_next_interval_halves_and_lengthens_within_bounds() -> None:
    assert next_interval(8, 3, 2, 60) == 4
    assert next_interval(3, 1, 2, 60) == 2
    assert next_interval(8, 0, 2, 60) == 12
    assert next_interval(50, 0, 2, 60) == 60


def test_busy_sources_more_often_quiet_ones_less(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    wh.sync_sources([BUSY, QUIET, FIXED])
    at, n = NOW, 0
    for _ in range(6):
        run = wh.start_run(at)
        n += 1
        busy = [post("busy", n, at)]
        wh.store_fetch(run, FetchResult("busy", FETCH_OK, SourceCursor(),
                                        posts=tuple(p.raw for p in busy)), busy, at,
                       scheduled_at=at)
        for quiet in ("quiet", "fixed"):
            wh.store_fetch(run, FetchResult(quiet, FETCH_NOT_MODIFIED, SourceCursor()), [], at,
                           scheduled_at=at)
        at += timedelta(minutes=1)
    health = {row["id"]: row for row in wh.source_health(at)}
    assert health["busy"]["poll_minutes_now"] == 2        # 8 -> 4 -> 2, held at the bound
    assert health["quiet"]["poll_minutes_now"] == 30      # 8 -> 12 -> 18 -> 27 -> 30
    assert health["fixed"]["poll_minutes_now"] is None
    last = at - timedelta(minutes=1)
    due = lambda minutes: [s.id for s in wh.due_sources([BUSY, QUIET, FIXED],  # noqa: E731
                                                      last + timedelta(minutes=minutes))]
    assert due(2) == ["busy"]
    assert due(8) == ["busy", "fixed"]
    assert due(30) == ["busy", "quiet", "fixed"]
    # New bounds in sources.yaml start again from them.
    wh.sync_sources([BUSY, SourceConfig(**{**QUIET.__dict__, "poll_max_minutes": 20}), FIXED])
    assert {r["id"]: r for r in wh.source_health(at)}["quiet"]["poll_minutes_now"] is None
    wh.close()


@pytest.mark.parametrize("entry,field", [
    ({"poll_minutes": 5, "poll_min_minutes": 10}, "poll_min_minutes"),
    ({"poll_minutes": 5, "poll_max_minutes": 3}, "poll_max_minutes"),
])
def test_bounds_must_include_poll_minutes(entry, field) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_sources({"sources": [{"id": "x", "name": "X", "kind": "feed", "url": "http://h/x",
                                    **entry}]}, "sources.yaml")
    assert str(raised.value).startswith(f"sources.yaml: sources[0].{field}: bounds")
    assert "(fix: keep poll_min_minutes <= poll_minutes <= poll_max_minutes)" in str(raised.value)
