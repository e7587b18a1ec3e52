"""Source groups: an RSSHub instance's routes share the group's concurrency and delay instead
of the per-host delay (200 routes at 1 s each would take 200 s a cycle); real sites keep the
per-host delay; groups named wrongly are configuration errors."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from collectors import fetch
from collectors.faulty_world import rss
from collectors.http import HttpPolicy, PoliteClient
from collectors.records import FETCH_OK, SourceCursor
from collectors.replay import FeedReplayServer, Route
from collectors.sources import parse_sources
from jingyu.config import ConfigError

ROUTES = 6
SLOW_S = 0.4                                   # each route takes this long to answer
POLICY = HttpPolicy(per_host_delay_s=1.0, retries=0, read_timeout_s=5.0)


def sources(server: FeedReplayServer, groups: list[dict]) -> list:
    entries = [{"id": f"route-{n}", "name": f"路由{n}", "kind": "feed",
                "url": server.url(f"/weibo/keyword/{n}")} for n in range(ROUTES)]
    return parse_sources({"groups": groups, "sources": entries}, "sources.yaml")


def fetch_all(configured: list) -> float:
    started = time.monotonic()
    with PoliteClient(POLICY) as client, ThreadPoolExecutor(ROUTES) as pool:
        results = list(pool.map(lambda s: fetch(s, SourceCursor(), client), configured))
    assert all(r.status == FETCH_OK for r in results), [r.error for r in results]
    return time.monotonic() - started


@pytest.fixture(scope="module")
def rsshub():
    routes = {f"/weibo/keyword/{n}": Route(rss([(f"帖子{n}", "内容")], f"k{n}"), delay_s=SLOW_S)
              for n in range(ROUTES)}
    with FeedReplayServer(routes) as server:
        yield server


def test_a_group_sets_concurrency_and_delay(rsshub: FeedReplayServer) -> None:
    host = f"127.0.0.1:{rsshub.port}"
    # Two at a time, no delay: three waves of SLOW_S at the least, far below 1 s per route.
    two = fetch_all(sources(rsshub, [{"id": "rsshub", "hosts": [host], "concurrency": 2,
                                      "delay_s": 0}]))
    assert 3 * SLOW_S <= two < ROUTES * POLICY.per_host_delay_s - 1
    # One at a time: six waves.
    one = fetch_all(sources(rsshub, [{"id": "rsshub", "hosts": [host], "concurrency": 1,
                                      "delay_s": 0}]))
    assert one >= ROUTES * SLOW_S
    # No group: the per-host delay spaces every request start by a second.
    plain = fetch_all(sources(rsshub, []))
    assert plain >= (ROUTES - 1) * POLICY.per_host_delay_s


def test_sources_join_a_group_by_host_or_by_name(rsshub: FeedReplayServer) -> None:
    groups = [{"id": "rsshub", "hosts": [f"127.0.0.1:{rsshub.port}"], "concurrency": 8}]
    by_host = sources(rsshub, groups)
    assert {s.lane.name for s in by_host} == {"rsshub"} and by_host[0].lane.concurrency == 8
    (other,) = parse_sources({"groups": groups, "sources": [
        {"id": "x", "name": "X", "kind": "feed", "url": "http://127.0.0.1:9/x",
         "group": "rsshub"}]}, "sources.yaml")
    assert other.lane.name == "rsshub"
    (site,) = parse_sources({"groups": groups, "sources": [
        {"id": "y", "name": "Y", "kind": "feed", "url": "http://127.0.0.1:9/y"}]}, "sources.yaml")
    assert site.lane is None


@pytest.mark.parametrize("data,message", [
    ({"groups": [{"id": "a"}], "sources": [{"id": "x", "name": "X", "kind": "feed",
                                            "url": "http://h/x", "group": "b"}]},
     "sources.yaml: sources[0].group: no group 'b' (fix: define it under groups:, or use one "
     "of a)"),
    ({"groups": [{"id": "a", "concurrency": 0}], "sources": []},
     "sources.yaml: groups[0].concurrency:"),
    ({"groups": [{"id": "a"}, {"id": "a"}], "sources": []},
     "sources.yaml: groups[1].id: duplicate id 'a'"),
    ({"groups": {"id": "a"}, "sources": []}, "sources.yaml: groups: must be list"),
    # The field, not pydantic's union branch (was "groups[0].delay_s.float").
    ({"groups": [{"id": "a", "delay_s": True}], "sources": []},
     "sources.yaml: groups[0].delay_s: must be a number, got bool True (fix: give seconds"),
])
def test_group_errors_are_named(data, message) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_sources(data, "sources.yaml")
    assert str(raised.value).startswith(message)
