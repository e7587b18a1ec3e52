"""A person's split is binding (real warehouse, SQLite and PostgreSQL, real monitor cycles):
posts split off an incident keep an event of their own; later posts close to both halves do
not bridge them back (the grouping joins the closer one), nor does the system merge the two
incidents; a person's merge of the two still works and lifts the split, in the audit trail."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alerts.incidents import actions
from alerts.incidents.handling import raise_and_track
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from flows.cli import main
from tests.alerts.test_incidents import STATION, desk
from transforms.records import ScoredPost
from warehouse.events import EventStore
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

import pytest

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
# One burst at the 滨河路 night market, told two ways: a 辅警 pushing a 摊主, and 城管
# fining stalls. The grouping first takes them as one happening; the duty officer knows the
# fines are another matter and splits them off.
PUSH = ["滨河路", "夜市", "辅警", "摊主", "推人"]
FINE = ["滨河路", "夜市", "城管", "罚款", "摊位"]
# Later posts speak of both: each would join either half, and bridge them.
BRIDGE = ["滨河路", "夜市", "辅警", "城管", "摊主", "罚款"]


def scored(tag: str, words: list[str], at: datetime, high_risk: bool = False) -> ScoredPost:
    text = "，".join(words) + f"（{tag}）"
    raw = RawPost(source_id="weibo", external_id=tag, url=f"https://x/{tag}", title=text,
                  body="", author=None, published_at=at, fetched_at=at)
    return ScoredPost(raw=raw, text=text, content_hash=tag, keywords=tuple(words),
                      police_related=True, police_terms=("辅警",), sentiment=0.1,
                      polarity="negative", police_stance="negative",
                      topics=("police.enforcement_dispute",), rule_hits=(),
                      high_risk=high_risk, places=(STATION,))


def store(wh: Warehouse, posts: list[ScoredPost], at: datetime) -> None:
    wh.store_fetch(wh.start_run(at), FetchResult(
        source_id="weibo", status=FETCH_OK, cursor=SourceCursor(),
        posts=tuple(p.raw for p in posts)), posts, at)


def ids_of(wh: Warehouse, tags: list[str]) -> list[int]:
    posts = wh.posts_since(NOW - timedelta(days=1), NOW + timedelta(days=1))
    by_url = {p.url: p.id for p in posts}
    return [by_url[f"https://x/{t}"] for t in tags]


@pytest.fixture
def wh(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    warehouse.sync_sources([SourceConfig(id="weibo", name="微博", kind="feed",
                                         url="http://x/w", jurisdiction=STATION)])
    yield warehouse
    warehouse.close()


def first_burst(wh: Warehouse, start: datetime):
    """Cycle 1: nine posts of the burst from `start`, pushes and fines interleaved, one
    sensitive; returns the stores and the one incident it opens."""
    first = [scored(f"p{i}", PUSH if i % 3 else FINE, start + timedelta(minutes=2 * i),
                    high_risk=i == 1) for i in range(9)]
    store(wh, first, start + timedelta(minutes=18))
    raise_and_track(wh, desk(), start + timedelta(minutes=18))
    istore = IncidentStore(wh)
    [incident] = istore.incidents()
    return istore, EventStore(wh), incident


@pytest.mark.parametrize("split_off", [["p0", "p3", "p6"], ["p0"]],
                         ids=["three-posts", "one-post"])
def test_a_split_stays_split_until_a_person_merges(wh, capsys, split_off):
    """Three posts split off (the bridging posts would merge the halves), or one (alone in
    its event, the second look after each batch would take it back)."""
    start = NOW - timedelta(minutes=40)
    istore, events, incident = first_burst(wh, start)
    fines = ids_of(wh, split_off)
    pushes = ids_of(wh, [f"p{i}" for i in range(9) if f"p{i}" not in split_off])
    assert len(set(events.events_of_posts(fines + pushes).values())) == 1   # one event first

    split = actions.split(istore, incident.id, fines, "王五", start + timedelta(minutes=19),
                          note="罚款是另一回事")
    push_event = events.live_event(istore.get(incident.id).event_id)
    assert split.event_id != push_event

    # Cycles 2 and 3: posts close to both halves arrive while both are busy.
    for cycle in range(2):
        at = start + timedelta(minutes=20 + 6 * cycle)
        store(wh, [scored(f"b{cycle}{i}", BRIDGE if i % 2 else list(reversed(BRIDGE)),
                          at + timedelta(seconds=30 * i)) for i in range(3)]
              + [scored(f"f{cycle}", FINE, at), scored(f"q{cycle}", PUSH, at)],
              at + timedelta(minutes=2))
        raise_and_track(wh, desk(), at + timedelta(minutes=2))
        placed = events.events_of_posts(fines + pushes)
        live = {events.live_event(e) for e in placed.values()}
        assert len(live) == 2, f"cycle {cycle + 2}: the split was undone"
        assert {events.live_event(placed[p]) for p in fines} == {split.event_id}
        assert {events.live_event(placed[p]) for p in pushes} == {push_event}
        open_ = {i.id for i in istore.incidents(statuses=("new", "acknowledged"))}
        assert {incident.id, split.id} <= open_
        assert istore.get(split.id).merged_into is None
    bridges = ids_of(wh, [f"b{c}{i}" for c in range(2) for i in range(3)])
    joined = events.events_of_posts(bridges)
    assert set(joined.values()) <= {split.event_id, push_event}
    # Why a bridging post stayed out of the other half: the split, in `jingyu events show`.
    _, links = events.event(push_event, NOW)
    _, split_links = events.event(split.event_id, NOW)
    apart = [link for link in [*links, *split_links] if link.post_id in bridges and link.apart]
    assert apart, "no post recorded the split as why it stayed out"
    assert {a for link in apart for a in link.apart} <= {split.event_id, push_event}
    [separation] = events.separations(push_event)
    assert (separation.created_by, separation.lifted_at) == ("王五", None)
    assert main(["events", "show", str(joined[apart[0].post_id]),
                 "--database", wh.url]) == 0
    shown = capsys.readouterr().out
    assert "人工拆分" in shown and "王五" in shown

    # A person's merge still works: one incident, one event, the split lifted and audited.
    kept = actions.merge(istore, incident.id, split.id, "赵六", NOW, note="确是一事")
    assert kept.id == incident.id and istore.get(split.id).merged_into == incident.id
    assert len({events.live_event(e)
                for e in events.events_of_posts(fines + pushes + bridges).values()}) == 1
    [lifted] = [e for e in istore.events(incident.id) if e.action == "split_lifted"]
    assert lifted.actor == "赵六" and lifted.detail["split_by"] == "王五"
    assert events.separations(kept.event_id)[0].lifted_by == "赵六"


def test_a_lone_split_post_is_not_taken_back_by_the_second_look(wh):
    """One post split off a busy event in the same words: alone in its event, the second look
    after each batch would give it back to the busy event as it grows; it stays apart."""
    start = NOW - timedelta(minutes=40)
    store(wh, [scored(f"p{i}", PUSH, start + timedelta(minutes=2 * i), high_risk=i == 0)
               for i in range(9)], start + timedelta(minutes=18))
    raise_and_track(wh, desk(), start + timedelta(minutes=18))
    istore, events = IncidentStore(wh), EventStore(wh)
    [incident] = istore.incidents()
    [lone] = ids_of(wh, ["p4"])
    split = actions.split(istore, incident.id, [lone], "王五", start + timedelta(minutes=19))
    busy = events.live_event(istore.get(incident.id).event_id)
    for cycle in range(2):
        at = start + timedelta(minutes=20 + 6 * cycle)
        store(wh, [scored(f"q{cycle}{i}", PUSH, at + timedelta(seconds=20 * i))
                   for i in range(4)], at + timedelta(minutes=2))
        raise_and_track(wh, desk(), at + timedelta(minutes=2))
        assert events.live_event(events.events_of_posts([lone])[lone]) == split.event_id, \
            f"cycle {cycle + 2}: the split post went back"
        assert events.live_event(split.event_id) == split.event_id != busy
        assert istore.get(split.id).merged_into is None


def test_rebuild_keeps_splits_and_incidents(wh, capsys):
    """`jingyu events rebuild` groups everything again from scratch: the regrouping alone
    would join the split halves (same place, same burst); the split is carried over to the new
    events and made again, each incident follows the new event holding its posts, and the
    next cycle's bridging posts still do not join the halves."""
    start = NOW - timedelta(minutes=40)
    istore, events, incident = first_burst(wh, start)
    fines = ids_of(wh, ["p0", "p3", "p6"])
    pushes = ids_of(wh, [f"p{i}" for i in (1, 2, 4, 5, 7, 8)])
    split = actions.split(istore, incident.id, fines, "王五", start + timedelta(minutes=19))

    assert main(["events", "rebuild", "--database", wh.url]) == 0
    said = capsys.readouterr().out
    assert "9 posts" in said and "2 incidents" in said and "1 human splits" in said
    assert "1 of them split again" in said          # the regrouping had joined the halves

    placed = events.events_of_posts(fines + pushes)
    push_event = events.live_event(istore.get(incident.id).event_id)
    fine_event = events.live_event(istore.get(split.id).event_id)
    assert {placed[p] for p in pushes} == {push_event}
    assert {placed[p] for p in fines} == {fine_event} and fine_event != push_event
    [separation] = events.separations(push_event)
    assert {separation.event_id, separation.apart_from} == {push_event, fine_event}
    assert separation.created_by == "王五" and separation.lifted_at is None
    assert set(separation.posts) == set(fines)

    # The split still binds the grouping after the rebuild.
    at = start + timedelta(minutes=22)
    store(wh, [scored(f"b{i}", BRIDGE, at + timedelta(seconds=30 * i)) for i in range(3)],
          at + timedelta(minutes=2))
    raise_and_track(wh, desk(), at + timedelta(minutes=2))
    live = {events.live_event(e) for e in events.events_of_posts(fines + pushes).values()}
    assert live == {push_event, fine_event}, "the split was undone after the rebuild"
    assert istore.get(split.id).merged_into is None


def test_rebuild_since_regroups_whole_events(wh, capsys):
    """Rebuilding from a time inside an event regroups that event whole: its posts from
    before that time keep an event (they used to lose it)."""
    start = NOW - timedelta(hours=3)
    store(wh, [scored(f"p{i}", PUSH, start + timedelta(minutes=10 * i)) for i in range(12)],
          start + timedelta(hours=2))
    posts = ids_of(wh, [f"p{i}" for i in range(12)])
    assert len(set(EventStore(wh).events_of_posts(posts).values())) == 1
    since = (start + timedelta(minutes=65)).astimezone(timezone(timedelta(hours=8)))
    assert main(["events", "rebuild", "--since", since.strftime("%Y-%m-%d %H:%M"),
                 "--database", wh.url]) == 0
    assert "grouped 12 posts" in capsys.readouterr().out
    placed = EventStore(wh).events_of_posts(posts)
    assert set(placed) == set(posts) and len(set(placed.values())) == 1
