"""The posts an incident is about, for its 专报: the posts of its evidence, every post sharing
their text or their story (reposts and near-copies), and its official statement."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.orm import Session

from jingyu.timeutil import from_db


@dataclass(frozen=True)
class IncidentPost:
    id: int
    source_id: str
    source_name: str
    source_tags: tuple[str, ...]
    url: str | None
    title: str
    text: str
    author: str | None
    seen_at: datetime                  # aware UTC
    fetched_at: datetime               # aware UTC: when jingyu kept it (固证 time)
    content_hash: str
    polarity: str
    sentiment: float
    police_related: bool
    jurisdiction: str | None
    story_id: int | None
    police_stance: str | None = None   # toward the police; None when not police-related
    police_stance_p: float | None = None

    @property
    def official(self) -> bool:
        return "official" in self.source_tags


# The selection, written out for the report's appendix.
SELECTION = ("告警证据中的帖子、内容指纹属于事件的帖子，以及与它们同属一个热点（story_id，即转发、"
             "转载和改写）的全部帖子；事件所跟随的舆情事件（event_id）中的全部帖子；"
             "另加官方发声帖子本身")


def incident_posts(engine: Engine, content_hashes: Sequence[str], post_ids: Sequence[int],
                   also: Sequence[int] = (), event_id: int | None = None
                   ) -> list[IncidentPost]:
    """The posts with one of `content_hashes` or `post_ids`, every post of their stories, the
    posts of the real-world event the incident follows (`event_id`), and the posts `also`
    (without their stories: an official statement's template text may be a near-copy of
    other statements), oldest first."""
    # Each way in is its own indexed lookup, united: one WHERE of ORs made PostgreSQL scan
    # every post (1.5-2 s over 1M posts, the duty console's incident page; ~7 ms so).
    sql = text("""
        WITH seeds AS (SELECT p.id, p.story_id FROM posts p
                       WHERE p.content_hash IN :hashes OR p.id IN :ids
                       UNION SELECT p.id, p.story_id FROM posts p
                       WHERE p.id IN (SELECT post_id FROM event_posts WHERE event_id = :event)),
             chosen AS (SELECT id FROM seeds
                        UNION SELECT id FROM posts WHERE id IN :also
                        UNION SELECT p.id FROM posts p
                              WHERE p.story_id IN (SELECT story_id FROM seeds
                                                   WHERE story_id IS NOT NULL))
        SELECT p.id, p.source_id, s.name AS source_name, s.tags, p.url, p.title, p.text,
               p.author, p.seen_at, p.fetched_at, p.content_hash, p.polarity, p.sentiment,
               p.police_related, p.jurisdiction, p.story_id, p.police_stance,
               p.police_stance_p
        FROM posts p JOIN sources s ON s.id = p.source_id
        WHERE p.id IN (SELECT id FROM chosen)
        ORDER BY p.seen_at, p.id""").bindparams(bindparam("hashes", expanding=True),
                                                bindparam("ids", expanding=True),
                                                bindparam("also", expanding=True))
    if event_id is not None:             # an event merged into another: the one it joined
        from warehouse.events import live_event

        with Session(engine) as session:
            event_id = live_event(session, event_id)
    # An empty IN list is not valid SQL everywhere: a value no post has stands in.
    binds = {"hashes": list(content_hashes) or [""], "ids": list(post_ids) or [-1],
             "also": list(also) or [-1], "event": event_id if event_id is not None else -1}
    with engine.connect() as conn:
        rows = conn.execute(sql, binds).all()
    return [IncidentPost(
        id=r.id, source_id=r.source_id, source_name=r.source_name,
        source_tags=tuple(json.loads(r.tags) if isinstance(r.tags, str) else r.tags or ()),
        url=r.url, title=r.title or "", text=r.text or "", author=r.author,
        seen_at=from_db(_datetime(r.seen_at)), fetched_at=from_db(_datetime(r.fetched_at)),
        content_hash=r.content_hash, polarity=r.polarity, sentiment=float(r.sentiment),
        police_related=bool(r.police_related), jurisdiction=r.jurisdiction,
        story_id=r.story_id, police_stance=r.police_stance,
        police_stance_p=None if r.police_stance_p is None else float(r.police_stance_p))
        for r in rows]


def _datetime(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def evidence_ids(store, incident) -> list[int]:
    """The evidence posts of an incident: its alert's, then those of the alerts that joined
    it (other signals of its event), once each. `store` is a warehouse.incidents.IncidentStore."""
    ids = [int(e["post_id"]) for e in store.alert(incident.alert_id)["evidence"]
           if isinstance(e, dict) and e.get("post_id") is not None]
    return list(dict.fromkeys(ids + [
        int(e["post_id"]) for a in store.alerts_of(incident.id) for e in a["evidence"]
        if isinstance(e, dict) and e.get("post_id") is not None]))


def posts_of_incident(store, incident) -> tuple[list[int], list[IncidentPost]]:
    """(evidence post ids, every post the incident is about) as its 专报, its console page and
    its 固证 read them: the evidence of all its alerts with their stories, the posts of its
    real-world event (following merges) and its official statement, oldest first; less the
    posts split off it (`jingyu alerts split`), unless their event came back by a merge."""
    ids = evidence_ids(store, incident)
    official = [incident.official_post_id] if incident.official_post_id else []
    posts = incident_posts(store.warehouse.engine, incident.content_hashes, ids,
                           also=official, event_id=incident.event_id)
    gone = split_off(store, incident, {p.id for p in posts} | set(ids))
    return [i for i in ids if i not in gone], [p for p in posts if p.id not in gone]


def split_off(store, incident, post_ids: set[int]) -> set[int]:
    """The posts (of `post_ids`) split off the incident and not back in the event it follows.
    A split leaves them in its alert's evidence and content hashes: this is what tells."""
    from warehouse.events import EventStore

    gone = {int(p) for e in store.events(incident.id) if e.action == "split"
            for p in e.detail.get("posts", ())} & post_ids
    if not gone or incident.event_id is None:
        return gone
    events = EventStore(store.warehouse)
    live = events.live_event(incident.event_id)
    of_posts = events.events_of_posts(gone)
    return {p for p in gone if p not in of_posts or events.live_event(of_posts[p]) != live}
