"""`jingyu events`: real-world events (posts about one happening, in any wording), biggest first,
and one event's posts with why each joined. Thin: warehouse.events does the work."""
from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from flows.present import cell, format_table, local
from jingyu.timeutil import parse_local, utcnow


def add_parser(p: argparse.ArgumentParser, with_database) -> None:
    p.set_defaults(handler=_events)
    with_database(p)
    p.add_argument("--since", help="events seen from, Asia/Shanghai (default: the last 7 days)")
    p.add_argument("--min-size", type=int, default=2, metavar="N",
                   help="only events of at least N posts (default 2; 1 lists single posts too)")
    p.add_argument("--limit", type=int, default=20, help="events to list (default 20)")
    actions = p.add_subparsers(metavar="ACTION")
    show = actions.add_parser("show", help="one event: its posts and why each joined")
    show.set_defaults(handler=_event_show)
    show.add_argument("event", type=int, help="the event's number")
    show.add_argument("--database", metavar="URL", default=argparse.SUPPRESS,
                      help="warehouse URL (default: $JINGYU_DATABASE_URL or "
                           "sqlite:///data/jingyu.db)")
    rebuild = actions.add_parser(
        "rebuild", help="group stored posts into events again (after an upgrade, or a change "
                        "to the grouping); human splits and incidents carry over")
    rebuild.set_defaults(handler=_events_rebuild)
    rebuild.add_argument("--since", default=argparse.SUPPRESS,
                         help="only posts seen from then, Asia/Shanghai (default: all posts)")
    rebuild.add_argument("--database", metavar="URL", default=argparse.SUPPRESS,
                         help="warehouse URL (default: $JINGYU_DATABASE_URL or "
                              "sqlite:///data/jingyu.db)")


def _events(args: argparse.Namespace) -> int:
    from warehouse.events import EventStore
    from warehouse.store import Warehouse

    now = utcnow()
    since = parse_local(args.since) if args.since else now - timedelta(days=7)
    warehouse = Warehouse(args.database)
    try:
        events = EventStore(warehouse).events(now, since=since, limit=args.limit,
                                              min_size=args.min_size)
    finally:
        warehouse.close()
    if not events:
        print(f"no events of {args.min_size} or more posts since {local(since)}")
        return 0
    print(format_table(
        ["#", "event", "place", "posts", "stories", "last hour", "first", "last", "official",
         "platforms"],
        [[e.id, cell(e.title, 40), e.jurisdiction or "-", e.size, e.stories,
          f"{e.last_hour}{' ↑' if e.growing else ''}", local(e.first_seen), local(e.last_seen),
          local(e.official_first_at) if e.has_official_post else "-",
          ",".join(e.platforms)] for e in events]))
    return 0


def _event_show(args: argparse.Namespace) -> int:
    from warehouse.events import EventStore
    from warehouse.store import Warehouse

    warehouse = Warehouse(args.database)
    try:
        store = EventStore(warehouse)
        try:
            event, links = store.event(args.event, utcnow())
            separations = store.separations(event.id)
        except LookupError as exc:
            print(f"jingyu: {exc}: see 'jingyu events --min-size 1'", file=sys.stderr)
            return 1
        posts = {p.id: p for p in warehouse.posts_by_ids([link.post_id for link in links])}
    finally:
        warehouse.close()
    print(f"event {event.id}: {cell(event.title)}")
    print(f"  place {event.jurisdiction or '-'}; {event.size} posts in {event.stories} stories, "
          f"{event.last_hour} in the last hour; {local(event.first_seen)} - "
          f"{local(event.last_seen)}")
    print(f"  sources: {', '.join(event.sources)}; official statement: "
          f"{local(event.official_first_at) if event.has_official_post else 'none yet'}")
    for sep in separations:
        other = sep.apart_from if sep.event_id == event.id else sep.event_id
        state = (f"lifted by {cell(sep.lifted_by or '')} {local(sep.lifted_at)}"
                 if sep.lifted_at else "the grouping keeps them apart")
        print(f"  人工拆分: event {other} split from this one by {cell(sep.created_by)} "
              f"{local(sep.created_at)} (incident {sep.incident_id} -> "
              f"{sep.split_incident_id}); {state}")
    why = {"new": "opened the event", "story": "same story as an earlier post",
           "merged": "moved in by a merge", "split": "split off by hand"}
    rows = []
    for link in links:
        post = posts.get(link.post_id)
        reason = why.get(link.reason) or (
            f"shares {'、'.join(link.shared)}" + (f"; place {link.place}" if link.place else "")
            + f"; score {link.score:.2f}")
        if link.apart:
            reason += ("; not joined to event " + ", ".join(map(str, link.apart))
                       + ": 人工拆分")
        rows.append([link.post_id, local(post.seen_at) if post else "-",
                     post.source_id if post else "-",
                     cell((post.title or post.text) if post else "", 36), reason])
    print(format_table(["post", "seen", "source", "text", "why it is here"], rows))
    return 0


def _events_rebuild(args: argparse.Namespace) -> int:
    from warehouse.events import rebuild_events
    from warehouse.store import Warehouse

    since = parse_local(args.since) if args.since else None
    warehouse = Warehouse(args.database)
    try:
        done = rebuild_events(warehouse, since=since)
    finally:
        warehouse.close()
    print(f"grouped {done.posts} posts{f' seen since {local(since)}' if since else ''} again: "
          f"{done.events} events stand; {done.incidents} incidents follow their new events; "
          f"{done.splits} human splits (人工拆分) kept, {done.split_again} of them split again")
    return 0
