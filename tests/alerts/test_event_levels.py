"""An incident's level rises with its event (分级预警 by spread, issue 13): over several real
monitor cycles on SQLite and PostgreSQL, the event's posts plus their reposts and comments
set a floor from event_levels in alerts.yaml; a rise is audited with its reason and paged
once; it never lowers a level an alert or a person set; a bad threshold stops `jingyu run`."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from alerts.incidents import actions
from alerts.incidents.handling import Desk, raise_and_track
from alerts.incidents.roster import load_roster
from alerts.incidents.routing import load_routing
from alerts.settings import parse_alert_settings
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.events import EventStore
from warehouse.incidents import IncidentStore
from warehouse.models import Post
from warehouse.store import Warehouse

CONFIG = Path(__file__).resolve().parents[2] / "config"
STATION = "qingchuan.linjiang.linjiang_pcs"
NOW = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)       # Thursday 15:30 Shanghai
# The shipped defaults: III from 10,000, II from 100,000, I from 1,000,000.
DESK = Desk(settings=parse_alert_settings({"channels": [{"name": "log", "kind": "jsonl",
                                                         "path": "unused.jsonl"}]},
                                          "alerts.yaml"),
            routing=load_routing(CONFIG, ["log"]), roster=load_roster(CONFIG))


@pytest.fixture
def wh(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    warehouse.sync_sources([SourceConfig(id="weibo", name="微博", kind="feed", url="http://x/w",
                                         jurisdiction=STATION)])
    yield warehouse
    warehouse.close()


def store_post(wh: Warehouse, at: datetime, text: str, tag: str, *, reposts: int,
               high_risk: bool = False) -> None:
    raw = RawPost(source_id="weibo", external_id=tag, url=f"https://x/{tag}", title=text,
                  body="", author=None, published_at=at, fetched_at=at, reposts=reposts,
                  comments=0)
    post = ScoredPost(raw=raw, text=text, content_hash=tag, keywords=("辅警", "摊贩", "夜市"),
                      police_related=True, police_terms=("辅警",), sentiment=0.1,
                      polarity="negative", police_stance="negative",
                      topics=("police.enforcement_dispute",), rule_hits=(), high_risk=high_risk)
    wh.store_fetch(wh.start_run(at), FetchResult(source_id="weibo", status=FETCH_OK,
                                                  cursor=SourceCursor(), posts=(raw,)),
                   [post], at)


def level_pages(wh: Warehouse) -> list:
    return [m for m in wh.pending_notifications(NOW + timedelta(days=30), limit=10_000)
            if m.payload.get("notice") == "level_risen"]


def cycle(wh: Warehouse, minutes: int) -> None:
    raise_and_track(wh, DESK, NOW + timedelta(minutes=minutes))


def opened(wh: Warehouse) -> int:
    """A sensitive item opens the incident at III (spread 60,001: no floor above III)."""
    store_post(wh, NOW - timedelta(minutes=20), "辅警推倒摊贩", "a", reposts=60_000,
               high_risk=True)
    cycle(wh, -15)
    [incident] = IncidentStore(wh).incidents()
    assert incident.level == 3 and incident.event_id is not None
    return incident.id


def test_the_level_rises_once_with_the_event_and_is_paged_once(wh):
    store = IncidentStore(wh)
    incident_id = opened(wh)
    assert level_pages(wh) == []
    # Later posts of the same event, told differently: spread 120,002 >= 100,000 -> II.
    store_post(wh, NOW - timedelta(minutes=10), "夜市摊贩被辅警打了，太过分", "b", reposts=60_000)
    cycle(wh, -5)
    incident = store.get(incident_id)
    assert incident.level == 2 and len(store.incidents()) == 1
    [rise] = [e for e in store.events(incident_id) if e.action == "level_raised"]
    assert rise.detail["from"] == 3 and rise.detail["to"] == 2
    assert rise.detail["reason"].startswith("事件传播 120,002 条")
    [page] = level_pages(wh)
    assert "【级别上升】" in page.payload["title"] and "120,002" in page.payload["text"]
    # The event stays at this level, or grows within it: no second page, no second rise.
    cycle(wh, 0)
    store_post(wh, NOW - timedelta(minutes=1), "夜市辅警推搡摊贩的视频", "c", reposts=5_000)
    cycle(wh, 1)
    cycle(wh, 2)
    assert store.get(incident_id).level == 2 and len(level_pages(wh)) == 1
    assert [e.action for e in store.events(incident_id)].count("level_raised") == 1


def test_a_level_set_by_hand_is_never_lowered_and_a_lowering_holds(wh):
    store = IncidentStore(wh)
    incident_id = opened(wh)
    # Raised by hand to I: the event's spread (III) does not lower it.
    actions.change_level(store, incident_id, 1, "李局", NOW - timedelta(minutes=12), "领导关注")
    store_post(wh, NOW - timedelta(minutes=10), "夜市摊贩被辅警打了，太过分", "b", reposts=60_000)
    cycle(wh, -5)
    cycle(wh, 0)
    assert store.get(incident_id).level == 1 and level_pages(wh) == []
    # Lowered by hand to III with the event at II's spread: the hand's level holds …
    actions.change_level(store, incident_id, 3, "李局", NOW + timedelta(minutes=1), "已降温")
    cycle(wh, 2)
    cycle(wh, 3)
    assert store.get(incident_id).level == 3 and level_pages(wh) == []
    held = [e for e in store.events(incident_id) if e.action == "event_level_held"]
    assert len(held) == 1 and held[0].detail["floor"] == 2
    # … until the event crosses a more severe threshold (1,000,000 -> I).
    store_post(wh, NOW + timedelta(minutes=3), "夜市辅警打摊贩事件持续发酵", "d",
               reposts=900_000)
    cycle(wh, 4)
    cycle(wh, 5)
    assert store.get(incident_id).level == 1 and len(level_pages(wh)) == 1


def test_bad_event_level_thresholds_stop_the_run_with_exit_2(tmp_path, capsys):
    from flows.cli import main

    config = tmp_path / "config"
    config.mkdir()
    for name in ("sources.yaml", "roster.yaml", "routing.yaml"):
        shutil.copyfile(CONFIG / name, config / name)
    shipped = yaml.safe_load((CONFIG / "alerts.yaml").read_text(encoding="utf-8"))
    assert shipped["event_levels"] == {"enabled": True, "level_3": 10_000, "level_2": 100_000,
                                       "level_1": 1_000_000}
    (config / "alerts.yaml").write_text(yaml.safe_dump(
        {**shipped, "event_levels": {"level_3": 50_000, "level_2": 20_000}},
        allow_unicode=True), encoding="utf-8")
    code = main(["run", "--config", str(config), "--database",
                 f"sqlite:///{tmp_path}/w.db"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "alerts.yaml" in err and "event_levels.level_2" in err and "fix:" in err
    assert not (tmp_path / "w.db").exists()


def test_reach_counts_a_held_comment_or_repost_once(wh):
    """A comment or repost we hold whose parent is in the event with a count of its kind is
    in that count already: the spread counts it once, not twice. One whose parent shows no
    count (or is not held) still counts as a post."""
    at = NOW - timedelta(minutes=30)

    def raw(tag, text, parent=None, relation=None, reposts=None, comments=None):
        return RawPost(source_id="weibo", external_id=tag, url=f"https://x/{tag}", title=text,
                       body="", author=None, published_at=at, fetched_at=at, reposts=reposts,
                       comments=comments, parent_id=parent, relation=relation)

    raws = [raw("a", "夜市辅警推倒摊贩", reposts=2, comments=3),
            raw("a1", "夜市辅警太过分了", "a", "comment"),
            raw("a2", "夜市摊贩辅警视频", "a", "comment"),
            raw("a3", "转发：夜市辅警推人", "a", "repost"),
            raw("b", "夜市辅警又推摊贩", reposts=None, comments=None),
            raw("b1", "夜市辅警摊贩评论", "b", "comment")]
    posts = [ScoredPost(raw=r, text=r.title, content_hash=r.external_id,
                        keywords=("辅警", "摊贩", "夜市"), police_related=True,
                        police_terms=("辅警",), sentiment=0.1, polarity="negative",
                        police_stance="negative", topics=("police.enforcement_dispute",),
                        rule_hits=(), high_risk=False) for r in raws]
    wh.store_fetch(wh.start_run(at), FetchResult(source_id="weibo", status=FETCH_OK,
                                                  cursor=SourceCursor(), posts=tuple(raws)),
                   posts, at)
    events = EventStore(wh)
    stored = wh.posts_since(at - timedelta(minutes=1), NOW)
    with wh.engine.connect() as connection:
        linked = connection.scalar(select(func.count()).select_from(Post)
                                   .where(Post.parent_id.is_not(None)))
    assert len(stored) == 6 and linked == 4          # the four replies found their parents
    [event] = {p.event_id for p in stored}
    # 6 posts + a's 2 reposts and 3 comments, less a1, a2, a3 (in a's counts): 8, not 11.
    assert events.reach([event]) == {event: 8}
