"""The demo's own cycle (`jingyu demo`: its week of history, then one monitor cycle over its
bundled feeds), on SQLite and PostgreSQL: the night-market scuffle in 临江区 — a surge of
differently worded posts, several sensitive items, the police's statement before detection —
is one event and exactly one incident with the statement recorded; the sand truck that
overturned on 云溪's 城关大桥 that afternoon is an event of its own."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from flows.demo.run_demo import seed_demo_history
from flows.monitor import run_cycle
from warehouse.events import EventStore
from warehouse.incidents import IncidentStore
from warehouse.models import AlertRow, Post
from warehouse.store import Warehouse

pytestmark = pytest.mark.usefixtures("prefect_harness")

# Posts of the night market that share few words with each other: each opened an incident of
# its own before events took posts by an event's signature words.
NIGHT_MARKET = ("临江区滨河路夜市发生冲突", "有人说摊主袭警", "辅警到底有没有执法权",
                "卖红薯大爷的外孙女", "滨河路口又聚了一批人", "人越聚越多了")
STATEMENT = "关于临江区滨河路一起执法纠纷的情况通报"
SAND_TRUCK = "城关大桥"


def test_demo_night_market_is_one_incident_and_the_sand_truck_its_own_event(
        recorded_feeds, warehouse_url):
    history = seed_demo_history(recorded_feeds.config_dir, warehouse_url,
                                recorded_feeds.rendered_at)
    assert history > 0
    run_cycle(config_dir=str(recorded_feeds.config_dir), database_url=warehouse_url,
              force=True, per_host_delay_s=0.0)
    warehouse = Warehouse(warehouse_url)
    try:
        with warehouse.engine.connect() as conn:
            posts = conn.execute(select(Post.id, Post.text, Post.source_id, Post.seen_at)).all()
            alerts = conn.execute(select(AlertRow.id, AlertRow.kind, AlertRow.evidence,
                                         AlertRow.incident_id)).all()
        events = EventStore(warehouse).events_of_posts([p.id for p in posts])

        def event_of(marker: str, source: str | None = None) -> set[int]:
            found = {events[p.id] for p in posts if marker in (p.text or "")
                     and (source is None or p.source_id == source)}
            assert found, marker
            return found

        market = set().union(*(event_of(m) for m in NIGHT_MARKET))
        assert len(market) == 1, {m: event_of(m) for m in NIGHT_MARKET}
        market_event = market.pop()
        statement = [p for p in posts if STATEMENT in (p.text or "")
                     and p.source_id == "qingchuan-police"]
        assert len(statement) == 1 and events[statement[0].id] == market_event

        truck = event_of(SAND_TRUCK, "yunxi-forum")
        assert len(truck) == 1 and truck != {market_event}
        truck_posts = [p for p in posts if events.get(p.id) in truck]
        assert len(truck_posts) >= 4 and all(SAND_TRUCK in p.text or "沙车" in p.text
                                             for p in truck_posts)

        # Every alert whose evidence is of the night market ends in one incident.
        store = IncidentStore(warehouse)
        market_posts = {p.id for p in posts if events.get(p.id) == market_event}
        incidents = set()
        for alert_id, kind, evidence, incident_id in alerts:
            if any(e.get("post_id") in market_posts for e in evidence or ()):
                incident = store.get(incident_id or alert_id)
                while incident.merged_into is not None:
                    incident = store.get(incident.merged_into)
                incidents.add(incident.id)
        assert len(incidents) == 1, incidents
        incident = store.get(incidents.pop())
        # The police spoke before detection: the statement is recorded, its delay negative.
        assert incident.official_statement_at is not None
        assert incident.official_post_id == statement[0].id
        assert incident.official_statement_at < incident.opened_at
        assert len([a for a in alerts if a.kind == "sensitive_item"
                    and any(e.get("post_id") in market_posts for e in a.evidence or ())]) >= 4
    finally:
        warehouse.close()
