"""Analysts' access to the warehouse: named queries and read-only ad-hoc SQL (results in
Asia/Shanghai time), and the archive (export old posts to Parquet, then delete them)."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from jingyu.timeutil import SHANGHAI, as_utc_naive, shanghai
from warehouse.records import HEALTH_KIND

DIMENSIONS = ("hour", "day", "topic", "jurisdiction", "source", "polarity")
FILTERS = ("topic", "jurisdiction", "source", "polarity", "stance")
POLARITIES = ("negative", "neutral", "positive")
STANCES = POLARITIES                   # posts.police_stance: toward the police
NEGATIVE = "SUM(CASE WHEN p.polarity = 'negative' THEN 1 ELSE 0 END)"
POLICE = "SUM(CASE WHEN p.police_related THEN 1 ELSE 0 END)"
# An ad-hoc statement may run this long before the database cancels it (PostgreSQL) or jingyu
# interrupts it (SQLite), return this many rows, and (SQLite) grow the process this much.
SQL_TIMEOUT_MS = 60_000
SQL_MAX_ROWS = 1_000_000
SQL_MAX_MEMORY_MB = 1024
MAX_LIST_ROWS = 100_000                # --limit of the list queries
QUERY_WORK_MEM = "128MB"


class QueryError(ValueError):
    """A named query was called wrongly (unknown name, filter or dimension)."""


@dataclass(frozen=True)
class QueryParams:
    """The window [since, until) (aware datetimes) and the optional filters of a query."""

    since: datetime
    until: datetime
    topic: str | None = None
    jurisdiction: str | None = None        # an id; its children ("qingchuan.linjiang") count too
    source: str | None = None
    polarity: str | None = None            # general sentiment of the post
    stance: str | None = None              # posts.police_stance: toward the police
    by: tuple[str, ...] = ("day",)         # volume only
    police_related: bool = False           # only posts about the police (the duty board)
    limit: int = 20                        # lists only

    def describe(self) -> str:
        """The window and filters in words, for footnotes and table captions."""
        parts = [f"{local_text(self.since)} – {local_text(self.until)} (Asia/Shanghai)"]
        parts += [f"{name}={getattr(self, name)}" for name in FILTERS if getattr(self, name)]
        return ", ".join(parts)


@dataclass(frozen=True)
class QueryResult:
    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    params: QueryParams | None = None
    sql: str = ""

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    filters: frozenset[str]
    build: Callable[[bool, QueryParams], str]   # (is PostgreSQL, params) -> SQL with :binds
    takes_by: bool = False
    takes_limit: bool = False
    time_columns: tuple[str, ...] = field(default=())  # naive-UTC columns shown in local time


def local_text(value: datetime | None) -> str:
    return shanghai(value).strftime("%Y-%m-%d %H:%M") if value is not None else ""


# ---- SQL fragments per dialect --------------------------------------------------------------

def _bucket(pg: bool, unit: str, column: str) -> tuple[str, str]:
    """(label, key) of a local hour or day: group by the key, select the label, which is
    text such as '2026-11-25 09:00' or '2026-11-25' on both databases.

    Asia/Shanghai is UTC+8 all year (no summer time since 1991): adding eight hours is exact
    and, on PostgreSQL, cheaper per row than a zone conversion. (`\\:` keeps SQLAlchemy from
    reading ':00' as a bind parameter.)"""
    if pg:
        key = f"date_trunc('{unit}', {column} + interval '8 hours')"
        pattern = "YYYY-MM-DD HH24\\:00" if unit == "hour" else "YYYY-MM-DD"
        return f"to_char({key}, '{pattern}')", key
    key = (f"strftime('%Y-%m-%d %H\\:00', {column}, '+8 hours')" if unit == "hour"
           else f"date({column}, '+8 hours')")
    return key, key


def _minutes(pg: bool, later: str, earlier: str) -> str:
    if pg:
        return f"ROUND(CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) / 60 AS numeric), 1)"
    return f"ROUND((julianday({later}) - julianday({earlier})) * 1440, 1)"


def _post_filters(params: QueryParams, alias: str = "p", topic_join: bool = False) -> str:
    sql = ""
    if params.jurisdiction:
        sql += (f" AND ({alias}.jurisdiction = :jurisdiction"
                f" OR {alias}.jurisdiction LIKE :jurisdiction_children ESCAPE '!')")
    if params.source:
        sql += f" AND {alias}.source_id = :source"
    if params.police_related and not topic_join:
        sql += f" AND {alias}.police_related"
    if params.polarity:
        sql += f" AND {alias}.polarity = :polarity"
    if params.stance:
        # post_topics carries no stance: its post does
        sql += (f" AND EXISTS (SELECT 1 FROM posts sp WHERE sp.id = {alias}.post_id"
                " AND sp.police_stance = :stance)" if topic_join
                else f" AND {alias}.police_stance = :stance")
    if params.topic:
        sql += (f" AND {alias}.topic_id = :topic" if topic_join else
                f" AND EXISTS (SELECT 1 FROM post_topics ft WHERE ft.post_id = {alias}.id"
                " AND ft.topic_id = :topic)")
    return sql


WINDOW = "p.seen_at >= :since AND p.seen_at < :until"


def _volume(pg: bool, params: QueryParams) -> str:
    # By topic, post_topics alone answers (it carries the dimensions): no join to posts.
    dims = {"hour": _bucket(pg, "hour", "p.seen_at"), "day": _bucket(pg, "day", "p.seen_at"),
            "topic": ("p.topic_id",) * 2, "jurisdiction": ("p.jurisdiction",) * 2,
            "source": ("p.source_id",) * 2, "polarity": ("p.polarity",) * 2}
    select = "".join(f"{dims[d][0]} AS {d}, " for d in params.by)
    by_topic = "topic" in params.by
    table = "post_topics" if by_topic else "posts"
    sql = (f"SELECT {select}COUNT(*) AS posts, {NEGATIVE} AS negative,"
           f" {POLICE} AS police_related FROM {table} p"
           f" WHERE {WINDOW}{_post_filters(params, topic_join=by_topic)}")
    if not params.by:
        return sql
    sql += f" GROUP BY {', '.join(dims[d][1] for d in params.by)}"
    # Sorted outside the grouping, bytewise: sorting inside makes PostgreSQL sort every row,
    # and a linguistic collation costs more than the grouping itself.
    order = ", ".join(f'g.{d} COLLATE "C"' if pg else f"g.{d}" for d in params.by)
    return f"SELECT * FROM ({sql}) g ORDER BY {order}"


STORY_CANDIDATES = 10     # top_stories first ranks limit × this many stories by posts


# A story is a posts.story_id (near-duplicates, migration 0004). A post stored before 0004
# and not yet rescored has none and stands alone, keyed by its negated id.
STORY_KEY = "COALESCE(p.story_id, -p.id)"


# A post outside every event (stored before events, not regrouped) stands alone by its story.
GROUP = f"CASE WHEN ep.event_id IS NULL THEN {STORY_KEY} END"
GROUP_ORDER = "event_id IS NULL, event_id, lone"


def _top_stories(pg: bool, params: QueryParams, candidates: bool = True) -> str:
    """The groups of top_stories by growth (posts in the window minus posts in the window
    before): real-world events (event_posts), and the story of a post in none (`lone`).

    Fast form: rank the window's groups by posts, keep the first limit × STORY_CANDIDATES,
    and count the window before for those only. No group outside them can grow more than the
    smallest of them has posts (candidate_floor); run_query checks that bound and otherwise
    reruns the exact form, which counts both windows for every group."""
    filters = _post_filters(params)
    if candidates:
        ranked = f"""
        cur AS (
            SELECT ep.event_id, {GROUP} AS lone, COUNT(*) AS posts
            FROM posts p LEFT JOIN event_posts ep ON ep.post_id = p.id
            WHERE {WINDOW}{filters}
            GROUP BY ep.event_id, {GROUP}),
        cand AS (
            SELECT event_id, lone, posts FROM cur
            ORDER BY posts DESC, {GROUP_ORDER} LIMIT :candidates),
        prev AS (
            SELECT ep.event_id, CAST(NULL AS BIGINT) AS lone, COUNT(*) AS posts
            FROM posts p JOIN event_posts ep ON ep.post_id = p.id
            JOIN cand ON cand.event_id = ep.event_id
            WHERE p.seen_at >= :before AND p.seen_at < :since{filters}
            GROUP BY ep.event_id
            UNION ALL
            SELECT CAST(NULL AS BIGINT), p.story_id, COUNT(*)
            FROM posts p JOIN cand ON cand.event_id IS NULL AND cand.lone = p.story_id
            WHERE p.seen_at >= :before AND p.seen_at < :since{filters}
              AND NOT EXISTS (SELECT 1 FROM event_posts x WHERE x.post_id = p.id)
            GROUP BY p.story_id),
        g AS (
            SELECT cand.event_id, cand.lone, cand.posts, COALESCE(prev.posts, 0) AS posts_before
            FROM cand LEFT JOIN prev ON prev.event_id = cand.event_id
                OR (cand.event_id IS NULL AND prev.event_id IS NULL AND prev.lone = cand.lone)),"""
        bound = ("(SELECT MIN(posts) FROM cand) AS candidate_floor, "
                 "(SELECT COUNT(*) FROM cand) AS candidates_found")
    else:
        ranked = f"""
        g AS (
            SELECT ep.event_id, {GROUP} AS lone,
                   SUM(CASE WHEN p.seen_at >= :since THEN 1 ELSE 0 END) AS posts,
                   SUM(CASE WHEN p.seen_at < :since THEN 1 ELSE 0 END) AS posts_before
            FROM posts p LEFT JOIN event_posts ep ON ep.post_id = p.id
            WHERE p.seen_at >= :before AND p.seen_at < :until{filters}
            GROUP BY ep.event_id, {GROUP}),"""
        bound = "NULL AS candidate_floor, NULL AS candidates_found"
    return f"""
        WITH {ranked}
        top AS (
            SELECT event_id, lone, posts, posts_before, posts - posts_before AS growth
            FROM g WHERE posts > 0
            ORDER BY posts - posts_before DESC, posts DESC, {GROUP_ORDER} LIMIT :limit)
        SELECT event_id, lone, posts, posts_before, growth, {bound}
        FROM top ORDER BY growth DESC, posts DESC, {GROUP_ORDER}"""


def _stories_of_groups(conn: Any, params: QueryParams, event_ids: list[int],
                       lone: list[int]) -> tuple[list[str], list[tuple]]:
    """Per group (event, or lone story) and story: posts in the window and the window
    before, negative, negative toward the police, sources, first and last time in the
    window, and the story's first post in the window (title, link, source)."""
    inside = "p.seen_at >= :since"
    where = []
    if event_ids:
        where.append("ep.event_id IN :event_ids")
    if lone:
        where.append(f"(ep.event_id IS NULL AND {STORY_KEY} IN :lone)")
    if not where:
        return [], []
    sql = f"""
        WITH s AS (
            SELECT ep.event_id, {STORY_KEY} AS story_key,
                   SUM(CASE WHEN {inside} THEN 1 ELSE 0 END) AS posts,
                   SUM(CASE WHEN {inside} THEN 0 ELSE 1 END) AS posts_before,
                   SUM(CASE WHEN {inside} AND p.polarity = 'negative' THEN 1 ELSE 0 END)
                       AS negative,
                   SUM(CASE WHEN {inside} AND p.police_stance = 'negative' THEN 1 ELSE 0 END)
                       AS negative_police,
                   COUNT(DISTINCT CASE WHEN {inside} THEN p.source_id END) AS sources,
                   MIN(CASE WHEN {inside} THEN p.seen_at END) AS first_seen_at,
                   MAX(CASE WHEN {inside} THEN p.seen_at END) AS last_seen_at,
                   MIN(CASE WHEN {inside} THEN p.id END) AS first_post_id
            FROM posts p LEFT JOIN event_posts ep ON ep.post_id = p.id
            WHERE ({' OR '.join(where)})
              AND p.seen_at >= :before AND p.seen_at < :until{_post_filters(params)}
            GROUP BY ep.event_id, {STORY_KEY})
        SELECT s.*, fp.title, SUBSTR(fp.text, 1, 200) AS text_start, fp.url, fp.source_id
        FROM s JOIN posts fp ON fp.id = s.first_post_id
        WHERE s.posts > 0
        ORDER BY s.posts DESC, s.first_seen_at, s.story_key"""
    values = {k: v for k, v in _binds(params).items() if f":{k}" in sql}
    binds = [bindparam(k, type_=DateTime()) for k in ("since", "until", "before")]
    if event_ids:
        values["event_ids"] = event_ids
        binds.append(bindparam("event_ids", expanding=True))
    if lone:
        values["lone"] = lone
        binds.append(bindparam("lone", expanding=True))
    cursor = conn.execute(text(sql).bindparams(*binds), values)
    return list(cursor.keys()), [tuple(row) for row in cursor]


# top_stories: one row per story, under its event (the event's columns repeated), events
# ranked by growth, their stories by posts.
TOP_STORY_COLUMNS = (
    "rank", "event_id", "event_title", "event_jurisdiction", "event_posts",
    "event_posts_before", "event_growth", "event_negative_police", "event_stories",
    "story_key", "posts", "posts_before", "growth", "negative", "negative_police", "sources",
    "first_seen_at", "last_seen_at", "first_post_id", "title", "text_start", "url",
    "source_id")


def _top_stories_by_event(conn: Any, pg: bool, params: QueryParams) -> tuple[str, list[str],
                                                                            list[tuple]]:
    sql = _top_stories(pg, params)
    columns, rows = _execute(conn, sql, params)
    if not _candidates_suffice([dict(zip(columns, r)) for r in rows], params):
        sql = _top_stories(pg, params, candidates=False)
        columns, rows = _execute(conn, sql, params)
    groups = [dict(zip(columns, r)) for r in rows]
    event_ids = [int(g["event_id"]) for g in groups if g["event_id"] is not None]
    lone = [int(g["lone"]) for g in groups if g["event_id"] is None]
    story_columns, story_rows = _stories_of_groups(conn, params, event_ids, lone)
    stories: dict[tuple, list[dict[str, Any]]] = {}
    for row in story_rows:
        story = dict(zip(story_columns, row))
        key = ("e", story["event_id"]) if story["event_id"] is not None \
            else ("s", story["story_key"])
        stories.setdefault(key, []).append(story)
    events: dict[int, tuple] = {}
    if event_ids:
        statement = text("SELECT id, title, jurisdiction FROM events WHERE id IN :ids"
                         ).bindparams(bindparam("ids", expanding=True))
        events = {r[0]: r for r in conn.execute(statement, {"ids": event_ids})}
    out = []
    for rank, g in enumerate(groups, start=1):
        key = ("e", g["event_id"]) if g["event_id"] is not None else ("s", g["lone"])
        inside = stories.get(key, [])
        if g["event_id"] is not None:
            _, title, place = events.get(g["event_id"], (None, None, None))
        else:
            title = (inside[0]["title"] or inside[0]["text_start"]) if inside else None
            place = None
        against = sum(int(s["negative_police"] or 0) for s in inside)
        for s in inside:
            out.append((rank, g["event_id"], title, place, g["posts"], g["posts_before"],
                        g["growth"], against, len(inside), s["story_key"], s["posts"],
                        s["posts_before"], int(s["posts"]) - int(s["posts_before"]),
                        s["negative"], s["negative_police"], s["sources"], s["first_seen_at"],
                        s["last_seen_at"], s["first_post_id"], s["title"], s["text_start"],
                        s["url"], s["source_id"]))
    return sql, list(TOP_STORY_COLUMNS), out


def _candidates_suffice(rows: list[dict[str, Any]], params: QueryParams) -> bool:
    if not rows or rows[0]["candidates_found"] < params.limit * STORY_CANDIDATES:
        return True                                  # every story of the window was ranked
    return len(rows) == params.limit and rows[-1]["growth"] >= rows[0]["candidate_floor"]


def _posts(pg: bool, params: QueryParams) -> str:
    return f"""
        SELECT p.id AS post_id, p.seen_at, p.source_id, p.jurisdiction, p.polarity,
               ROUND(CAST(p.sentiment AS numeric), 3) AS sentiment, p.police_related,
               p.police_stance, p.title, p.url, p.content_hash, p.text
        FROM posts p WHERE {WINDOW}{_post_filters(params)}
        ORDER BY p.seen_at DESC, p.id DESC LIMIT :limit"""


def _alerts(pg: bool, params: QueryParams) -> str:
    jurisdiction = (" AND (a.jurisdiction = :jurisdiction"
                    " OR a.jurisdiction LIKE :jurisdiction_children ESCAPE '!')"
                    if params.jurisdiction else "")
    return f"""
        SELECT a.id AS alert_id, a.level, a.kind, a.title, a.jurisdiction,
               a.first_detected_at, a.last_detected_at, a.status AS alert_status,
               i.status AS incident_status, i.acknowledged_at, i.acknowledged_by
        FROM alerts a LEFT JOIN incidents i ON i.alert_id = a.id
        WHERE a.first_detected_at >= :since AND a.first_detected_at < :until{jurisdiction}
          AND a.kind <> '{HEALTH_KIND}'
        ORDER BY a.level, a.first_detected_at DESC LIMIT :limit"""


def _incidents(pg: bool, params: QueryParams) -> str:
    jurisdiction = (" AND (i.jurisdiction = :jurisdiction"
                    " OR i.jurisdiction LIKE :jurisdiction_children ESCAPE '!')"
                    if params.jurisdiction else "")
    tracks = " ".join(f"LEFT JOIN incident_tracks t_{t} ON t_{t}.incident_id = i.id"
                      f" AND t_{t}.track = '{t}'" for t in ("legal", "opinion", "control"))
    opened = "i.opened_at"
    return f"""
        SELECT i.id AS incident_id, i.level, i.title, i.jurisdiction, i.status, i.sensitive,
               i.opened_at, {_minutes(pg, 'i.acknowledged_at', opened)} AS ack_min,
               {_minutes(pg, 'i.official_statement_at', opened)} AS statement_min,
               {_minutes(pg, 'i.progress_at', opened)} AS progress_min,
               {_minutes(pg, 't_legal.started_at', opened)} AS legal_start_min,
               {_minutes(pg, 't_opinion.started_at', opened)} AS opinion_start_min,
               {_minutes(pg, 't_control.started_at', opened)} AS control_start_min,
               {_minutes(pg, 'i.resolved_at', opened)} AS resolved_min, i.official_post_id
        FROM incidents i {tracks}
        WHERE i.opened_at < :until
          AND (i.opened_at >= :since
               OR i.status IN ('new', 'acknowledged', 'handling')){jurisdiction}
        ORDER BY i.level, i.opened_at DESC"""


def _source_health(pg: bool, params: QueryParams) -> str:
    """Every figure as it stood at the end of the window, from the run ledger, so a brief of a
    past day shows that day's health, not today's."""
    where = ""
    if params.jurisdiction:
        where += (" AND (s.jurisdiction = :jurisdiction"
                  " OR s.jurisdiction LIKE :jurisdiction_children ESCAPE '!')")
    if params.source:
        where += " AND s.id = :source"
    return f"""
        WITH ledger AS (
            SELECT rs.source_id, r.started_at AS at, rs.status, rs.error
            FROM run_sources rs JOIN runs r ON r.id = rs.run_id WHERE r.started_at < :until),
        polled AS (
            SELECT source_id, COUNT(*) AS attempts,
                   SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS failed
            FROM ledger WHERE at >= :since GROUP BY source_id),
        last_ok AS (
            SELECT source_id, MAX(at) AS at FROM ledger WHERE status <> 'error'
            GROUP BY source_id),
        streak AS (
            SELECT l.source_id, COUNT(*) AS failures, MAX(l.at) AS last_error_at
            FROM ledger l LEFT JOIN last_ok o ON o.source_id = l.source_id
            WHERE l.status = 'error' AND (o.at IS NULL OR l.at > o.at)
            GROUP BY l.source_id),
        last_error AS (
            SELECT l.source_id, MAX(l.error) AS error
            FROM ledger l JOIN streak k ON k.source_id = l.source_id AND l.at = k.last_error_at
            WHERE l.status = 'error' GROUP BY l.source_id),
        yielded AS (
            SELECT p.source_id, COUNT(*) AS posts FROM posts p
            WHERE p.fetched_at >= :since AND p.fetched_at < :until GROUP BY p.source_id)
        SELECT s.id AS source_id, s.name, s.jurisdiction, s.enabled,
               COALESCE(polled.attempts, 0) AS attempts, COALESCE(polled.failed, 0) AS failed,
               COALESCE(yielded.posts, 0) AS posts,
               COALESCE(streak.failures, 0) AS consecutive_failures,
               last_ok.at AS last_success_at, last_error.error AS last_error
        FROM sources s LEFT JOIN polled ON polled.source_id = s.id
        LEFT JOIN yielded ON yielded.source_id = s.id
        LEFT JOIN last_ok ON last_ok.source_id = s.id
        LEFT JOIN streak ON streak.source_id = s.id
        LEFT JOIN last_error ON last_error.source_id = s.id
        WHERE 1 = 1{where}
        ORDER BY COALESCE(streak.failures, 0) DESC, s.id"""


def _patrol(pg: bool, params: QueryParams) -> str:
    """Cycles per local hour (all sources: the ledger is not per jurisdiction); posts fetched
    and alerts first raised in that hour (of the jurisdiction, if one is given), counted from
    the posts and alerts themselves so that they add up to a report's totals."""
    run_hour = _bucket(pg, "hour", "r.started_at")
    post_hour = _bucket(pg, "hour", "p.fetched_at")
    alert_hour = _bucket(pg, "hour", "a.first_detected_at")
    alert_place = (" AND (a.jurisdiction = :jurisdiction"
                   " OR a.jurisdiction LIKE :jurisdiction_children ESCAPE '!')"
                   if params.jurisdiction else "")
    return f"""
        WITH cycles AS (
            SELECT {run_hour[0]} AS hour, COUNT(*) AS cycles,
                   SUM(CASE WHEN r.status = 'ok' THEN 1 ELSE 0 END) AS ok,
                   SUM(CASE WHEN r.status = 'partial' THEN 1 ELSE 0 END) AS partial,
                   SUM(CASE WHEN r.status NOT IN ('ok', 'partial') THEN 1 ELSE 0 END) AS failed
            FROM runs r WHERE r.started_at >= :since AND r.started_at < :until
            GROUP BY {run_hour[1]}),
        fetched AS (
            SELECT {post_hour[0]} AS hour, COUNT(*) AS posts_new, {NEGATIVE} AS negative_new
            FROM posts p WHERE p.fetched_at >= :since AND p.fetched_at < :until
            {_post_filters(params)}
            GROUP BY {post_hour[1]}),
        raised AS (
            SELECT {alert_hour[0]} AS hour, COUNT(*) AS alerts_new FROM alerts a
            WHERE a.first_detected_at >= :since AND a.first_detected_at < :until{alert_place}
              AND a.kind <> '{HEALTH_KIND}'
            GROUP BY {alert_hour[1]}),
        hours AS (
            SELECT hour FROM cycles UNION SELECT hour FROM fetched UNION SELECT hour FROM raised)
        SELECT h.hour, COALESCE(c.cycles, 0) AS cycles, COALESCE(c.ok, 0) AS ok,
               COALESCE(c.partial, 0) AS partial, COALESCE(c.failed, 0) AS failed,
               COALESCE(f.posts_new, 0) AS posts_new, COALESCE(f.negative_new, 0) AS negative_new,
               COALESCE(a.alerts_new, 0) AS alerts_new
        FROM hours h LEFT JOIN cycles c ON c.hour = h.hour
        LEFT JOIN fetched f ON f.hour = h.hour LEFT JOIN raised a ON a.hour = h.hour
        ORDER BY h.hour"""


def _top_events(pg: bool, params: QueryParams) -> str:
    """Real-world events (warehouse.events) by their posts in the window, with the window
    before, the stories inside, negative toward the police, sources and official voice."""
    filters = _post_filters(params)
    return f"""
        WITH cur AS (
            SELECT ep.event_id, COUNT(*) AS posts, {NEGATIVE} AS negative,
                   SUM(CASE WHEN p.police_stance = 'negative' THEN 1 ELSE 0 END)
                       AS negative_police,
                   AVG(CASE WHEN p.police_stance = 'negative' THEN p.police_stance_p END)
                       AS negative_police_p,
                   COUNT(DISTINCT COALESCE(p.story_id, -p.id)) AS stories,
                   COUNT(DISTINCT p.source_id) AS sources,
                   MIN(p.seen_at) AS first_seen_at, MAX(p.seen_at) AS last_seen_at
            FROM posts p JOIN event_posts ep ON ep.post_id = p.id
            WHERE {WINDOW}{filters}
            GROUP BY ep.event_id),
        top AS (
            SELECT * FROM cur ORDER BY posts DESC, event_id LIMIT :limit),
        prev AS (
            SELECT ep.event_id, COUNT(*) AS posts
            FROM posts p JOIN event_posts ep ON ep.post_id = p.id
            JOIN top ON top.event_id = ep.event_id
            WHERE p.seen_at >= :before AND p.seen_at < :since{filters}
            GROUP BY ep.event_id)
        SELECT top.event_id, e.title, e.jurisdiction, top.posts,
               COALESCE(prev.posts, 0) AS posts_before,
               top.posts - COALESCE(prev.posts, 0) AS growth, top.negative,
               top.negative_police, ROUND(CAST(top.negative_police_p AS numeric), 3)
                   AS negative_police_p, top.stories, top.sources, top.first_seen_at,
               top.last_seen_at, e.official_first_at AS official_at, tp.url
        FROM top JOIN events e ON e.id = top.event_id
        LEFT JOIN posts tp ON tp.id = e.title_post_id
        LEFT JOIN prev ON prev.event_id = top.event_id
        ORDER BY top.posts DESC, top.event_id"""


def event_stories(engine: Engine, params: QueryParams, event_ids: list[int]) -> QueryResult:
    """The stories inside events: per event of `event_ids` and story, the posts in the
    window that pass the filters (as top_events counts them), sources, first and last time,
    and the story's first post (title, the start of its text, link, source). Most posts
    first within each event."""
    if not event_ids:
        return QueryResult(name="event_stories", columns=[], rows=[], params=params)
    sql = f"""
        WITH s AS (
            SELECT ep.event_id, {STORY_KEY} AS story_key, COUNT(*) AS posts,
                   COUNT(DISTINCT p.source_id) AS sources,
                   MIN(p.seen_at) AS first_seen_at, MAX(p.seen_at) AS last_seen_at,
                   MIN(p.id) AS first_post_id
            FROM posts p JOIN event_posts ep ON ep.post_id = p.id
            WHERE ep.event_id IN :event_ids AND {WINDOW}{_post_filters(params)}
            GROUP BY ep.event_id, {STORY_KEY})
        SELECT s.event_id, s.story_key, s.posts, s.sources, s.first_seen_at, s.last_seen_at,
               s.first_post_id, fp.title, SUBSTR(fp.text, 1, 200) AS text_start, fp.url,
               fp.source_id
        FROM s JOIN posts fp ON fp.id = s.first_post_id
        ORDER BY s.event_id, s.posts DESC, s.first_seen_at, s.story_key"""
    query = NamedQuery("event_stories", "", POST_FILTERS, lambda pg, p: sql,
                       time_columns=("first_seen_at", "last_seen_at"))
    check(query, replace(params, by=()))
    values = {k: v for k, v in _binds(params).items() if f":{k}" in sql}
    values["event_ids"] = [int(i) for i in event_ids]
    statement = text(sql).bindparams(
        bindparam("event_ids", expanding=True),
        *[bindparam(k, type_=DateTime()) for k in ("since", "until") if f":{k}" in sql])
    with engine.connect() as conn:
        cursor = conn.execute(statement, values)
        columns, rows = list(cursor.keys()), [tuple(row) for row in cursor]
    return QueryResult(name="event_stories", columns=columns,
                       rows=_presented(columns, rows, query), params=params, sql=sql)


@dataclass(frozen=True)
class HotEvent:
    """One real-world event as people rank them: its top_events row (posts in the window,
    growth over the window before, negative toward the police, sources, official voice), the
    stories inside it (event_stories rows, most posts first) and the open or latest
    incidents that follow it (numbers and jurisdictions, merged-away ones left out)."""

    rank: int
    event: dict[str, Any]
    stories: list[dict[str, Any]]
    incidents: list[tuple[int, str | None]]


def hot_events(engine: Engine, params: QueryParams) -> list[HotEvent]:
    """热点事件: events by their posts in the window (with params' filters: --stance negative
    for 负面热点), each with its stories and its incidents. One function for the duty board,
    the daily brief and the shift handover, so they rank alike."""
    records = run_query(engine, "top_events", params).records()
    ids = [r["event_id"] for r in records]
    inside: dict[int, list[dict[str, Any]]] = {}
    for story in event_stories(engine, params, ids).records():
        inside.setdefault(story["event_id"], []).append(story)
    following: dict[int, list[tuple[int, str | None]]] = {}
    if ids:
        statement = text("SELECT id, event_id, jurisdiction FROM incidents "
                         "WHERE event_id IN :ids AND merged_into IS NULL ORDER BY id"
                         ).bindparams(bindparam("ids", expanding=True))
        with engine.connect() as conn:
            for incident_id, event_id, jurisdiction in conn.execute(statement, {"ids": ids}):
                following.setdefault(event_id, []).append((incident_id, jurisdiction))
    return [HotEvent(n, r, inside.get(r["event_id"], []), following.get(r["event_id"], []))
            for n, r in enumerate(records, start=1)]


POST_FILTERS = frozenset(FILTERS)
QUERIES: dict[str, NamedQuery] = {q.name: q for q in (
    NamedQuery("volume", "posts, negative and police-related counts by --by dimensions "
               f"({', '.join(DIMENSIONS)}); negative_share = negative / posts",
               POST_FILTERS, _volume, takes_by=True),
    NamedQuery("top_stories", "stories (reposts and near-copies of one text, story_key = "
               "posts.story_id) inside their real-world events (event_id): events ranked by "
               "growth over the window before (--limit events), a row per story with its "
               "event's rank, title, posts, growth and posts negative toward the police",
               POST_FILTERS, _top_stories, takes_limit=True,
               time_columns=("first_seen_at", "last_seen_at")),
    NamedQuery("top_events", "real-world events (posts about one happening in any wording, "
               "event_id = event_posts.event_id; `jingyu events show N`) by posts in the "
               "window, with growth, the stories inside, negative toward the police "
               "(negative_police, and the mean probability of that stance), sources and the "
               "official statement's time; with --stance negative, 负面热点: events by their "
               "posts negative toward the police",
               POST_FILTERS, _top_events, takes_limit=True,
               time_columns=("first_seen_at", "last_seen_at", "official_at")),
    NamedQuery("posts", "the posts themselves, newest first, with ids, links and full text",
               POST_FILTERS, _posts, takes_limit=True, time_columns=("seen_at",)),
    NamedQuery("alerts", "alerts first detected in the window, with their incident's status",
               frozenset({"jurisdiction"}), _alerts, takes_limit=True,
               time_columns=("first_detected_at", "last_detected_at", "acknowledged_at")),
    NamedQuery("incidents", "incidents opened in the window or still open, with 三同步 "
               "timings in minutes from the first detection (ack, statement, progress, "
               "each track's start, resolution)",
               frozenset({"jurisdiction"}), _incidents, time_columns=("opened_at",)),
    NamedQuery("source_health", "per source: polls and failures in the window, posts fetched; "
               "consecutive failures, last success and error as they stood at --until",
               frozenset({"jurisdiction", "source"}), _source_health,
               time_columns=("last_success_at",)),
    NamedQuery("patrol", "the run ledger (巡查日志) by hour: cycles ok, partial, failed; "
               "posts fetched (negative among them) and alerts first raised in the hour",
               frozenset({"jurisdiction"}), _patrol),
)}


def _binds(params: QueryParams) -> dict[str, Any]:
    values: dict[str, Any] = {
        "since": as_utc_naive(params.since), "until": as_utc_naive(params.until),
        "before": as_utc_naive(params.since - (params.until - params.since)),
        "limit": params.limit, "candidates": params.limit * STORY_CANDIDATES,
        "topic": params.topic, "source": params.source,
        "polarity": params.polarity, "jurisdiction": params.jurisdiction,
        "stance": params.stance,
    }
    if params.jurisdiction:
        escaped = re.sub(r"([!%_])", r"!\1", params.jurisdiction)
        values["jurisdiction_children"] = escaped + ".%"
    return values


def check(query: NamedQuery, params: QueryParams) -> None:
    for name in FILTERS:
        if getattr(params, name) and name not in query.filters:
            raise QueryError(f"query {query.name} does not take --{name} "
                             f"(it takes: {', '.join(sorted(query.filters)) or 'only the window'})")
    unknown = [d for d in params.by if d not in DIMENSIONS]
    if unknown:
        raise QueryError(f"unknown --by {', '.join(unknown)}: choose from {', '.join(DIMENSIONS)}")
    if "hour" in params.by and "day" in params.by:
        raise QueryError("--by takes hour or day, not both")
    if params.polarity and params.polarity not in POLARITIES:
        raise QueryError(f"--polarity is one of {', '.join(POLARITIES)}")
    if params.stance and params.stance not in STANCES:
        raise QueryError(f"--stance is one of {', '.join(STANCES)}")
    if params.until <= params.since:
        raise QueryError("--until must be after --since")
    if not 1 <= params.limit <= MAX_LIST_ROWS:
        raise QueryError(f"--limit must be between 1 and {MAX_LIST_ROWS:,}, got {params.limit}")


def run_query(engine: Engine, name: str, params: QueryParams) -> QueryResult:
    """Run a named query; times come back as Asia/Shanghai text, buckets as local labels."""
    query = QUERIES.get(name)
    if query is None:
        raise QueryError(f"no query {name!r}: see 'jingyu query --list' ({', '.join(QUERIES)})")
    if not query.takes_by:
        params = replace(params, by=())
    check(query, params)
    pg = engine.dialect.name == "postgresql"
    sql = query.build(pg, params)
    with engine.connect() as conn:
        if pg:
            # Grouping a month of posts needs more than the default 4 MB to stay in memory;
            # JIT compiling costs these queries more than it saves (patrol over 30 days of
            # 1M posts: 1.9 s with it, 1.1 s without, on a loaded machine).
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{QUERY_WORK_MEM}'")
            conn.exec_driver_sql("SET LOCAL jit = off")
        if name == "top_stories":
            sql, columns, rows = _top_stories_by_event(conn, pg, params)
        else:
            columns, rows = _execute(conn, sql, params)
        rows = _presented(columns, rows, query)
    if name == "volume":
        columns.insert(columns.index("negative") + 1, "negative_share")
        at = columns.index("negative_share")
        rows = [row[:at] + (round(row[at - 1] / row[at - 2], 3) if row[at - 2] else 0.0,)
                + row[at:] for row in rows]
    return QueryResult(name=name, columns=columns, rows=rows, params=params, sql=sql)


def _execute(conn: Any, sql: str, params: QueryParams) -> tuple[list[str], list[tuple]]:
    values = _binds(params)
    statement = text(sql).bindparams(
        *[bindparam(k, type_=DateTime()) for k in ("since", "until", "before") if f":{k}" in sql])
    cursor = conn.execute(statement, {k: v for k, v in values.items() if f":{k}" in sql})
    return list(cursor.keys()), [tuple(row) for row in cursor]


def _presented(columns: list[str], rows: list[tuple], query: NamedQuery) -> list[tuple]:
    """Local-time text for times, plain numbers for PostgreSQL's Decimal and bool.

    One converter per column, chosen once: a month by four dimensions is tens of thousands of
    rows, and converting every cell blindly would cost more than the query."""
    def local_time(value: Any) -> Any:
        stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return local_text(stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp)

    def number(value: Any) -> Any:
        if isinstance(value, bool):               # SQLite already gives 0 or 1
            return int(value)
        return float(value) if hasattr(value, "is_finite") else value   # Decimal of ROUND()

    converters: list[Callable[[Any], Any] | None] = []
    for i, column in enumerate(columns):
        sample = next((row[i] for row in rows if row[i] is not None), None)
        if column in query.time_columns:
            converters.append(local_time)
        elif isinstance(sample, bool) or hasattr(sample, "is_finite"):
            converters.append(number)
        else:
            converters.append(None)
    if not any(converters):
        return rows
    return [tuple(v if f is None or v is None else f(v) for f, v in zip(converters, row))
            for row in rows]


# ---- read-only ad-hoc SQL -------------------------------------------------------------------

def readonly_engine(url: str) -> Engine:
    """An engine that cannot write: SQLite opened with mode=ro and query_only, ATTACH refused
    (it would create files anywhere), temporary tables in memory (where run_sql's memory
    bound sees them, not growing on disk); on PostgreSQL every transaction is started READ
    ONLY by run_sql, under a login warehouse.reader_role accepts."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:":
            raise QueryError("--sql needs a SQLite file, not an in-memory database")

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            connection.execute("PRAGMA query_only = ON")
            connection.execute("PRAGMA temp_store = MEMORY")
            connection.set_authorizer(_sqlite_authorizer)
            return connection

        return create_engine("sqlite://", creator=connect)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed)


def _rss_bytes() -> int:
    """This process's resident memory now (Linux /proc; elsewhere its peak so far)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _SqliteGuard:
    """SQLite's progress handler for one statement: interrupts it once it has run
    SQL_TIMEOUT_MS or grown the process by SQL_MAX_MEMORY_MB (a recursive CTE grew to 6.6 GB);
    SQLite has neither bound per connection."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + SQL_TIMEOUT_MS / 1000
        self.memory_limit = _rss_bytes() + SQL_MAX_MEMORY_MB * (1 << 20)
        self.stopped = ""

    def __call__(self) -> int:
        if time.monotonic() > self.deadline:
            self.stopped = f"it ran longer than {SQL_TIMEOUT_MS / 1000:g} s"
        elif _rss_bytes() > self.memory_limit:
            self.stopped = f"it used more than {SQL_MAX_MEMORY_MB} MB of memory"
        return int(bool(self.stopped))


# Pragmas whose argument names a table or index to describe: they only read.
_DESCRIBING_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list",
                                 "index_info", "index_xinfo", "foreign_key_list"})


def _sqlite_authorizer(action: int, name: str | None, value: str | None, _db: str | None,
                       _trigger: str | None) -> int:
    # ATTACH/DETACH open or create other files; any other PRAGMA with a value changes a
    # setting (query_only = OFF would allow writes). Reading pragmas stays allowed.
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if (action == sqlite3.SQLITE_PRAGMA and value is not None
            and (name or "").lower() not in _DESCRIBING_PRAGMAS):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _one_statement(sql: str) -> str:
    statement = sql.strip().rstrip(";").strip()
    # One statement only: a second one could COMMIT the read-only transaction and write.
    if ";" in statement:
        raise QueryError("--sql takes one statement (no ';' inside)")
    if not statement:
        raise QueryError("--sql is empty")
    return statement


def run_sql(engine: Engine, sql: str, limit: int | None = None) -> QueryResult:
    """Run one read-only statement, for at most SQL_TIMEOUT_MS and SQL_MAX_ROWS rows; writes
    fail with the database's own error. On PostgreSQL the login must be a reader
    (warehouse.reader_role.refuse_unless_reader), and '%' is the operator it is in SQL."""
    from warehouse.reader_role import ReaderRoleError, refuse_unless_reader

    statement = _one_statement(sql)
    wanted = min(limit or SQL_MAX_ROWS, SQL_MAX_ROWS)
    guard: _SqliteGuard | None = None
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            try:
                refuse_unless_reader(conn)
            except ReaderRoleError as exc:
                raise QueryError(str(exc)) from None
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {SQL_TIMEOUT_MS}")
            # psycopg reads % as a placeholder even without parameters ('%b' became a
            # bytes placeholder): doubled, it reaches the server as the % written.
            statement_sent = statement.replace("%", "%%")
        else:
            guard = _SqliteGuard()
            conn.connection.driver_connection.set_progress_handler(guard, 100_000)
            statement_sent = statement
        try:
            cursor = conn.exec_driver_sql(statement_sent)
            columns = list(cursor.keys()) if cursor.returns_rows else []
            rows = ([tuple(row) for row in cursor.fetchmany(wanted + 1)]
                    if cursor.returns_rows else [])
        except DBAPIError:
            if guard is not None and guard.stopped:
                raise QueryError(f"the statement was stopped: {guard.stopped}; narrow it "
                                 f"(a WHERE on seen_at, a LIMIT)") from None
            raise
        finally:
            conn.rollback()
    if len(rows) > wanted:
        if limit is None or limit > SQL_MAX_ROWS:
            raise QueryError(f"the statement returns more than {SQL_MAX_ROWS:,} rows: add a "
                             f"LIMIT or aggregate")
        rows = rows[:wanted]
    return QueryResult(name="sql", columns=columns, rows=rows, sql=statement)


def describe() -> list[tuple[str, str, str]]:
    """(name, filters it takes, description) of every named query, for --list."""
    result = []
    for query in QUERIES.values():
        takes = [f"--{f}" for f in FILTERS if f in query.filters]
        if query.takes_by:
            takes.append("--by")
        if query.takes_limit:
            takes.append("--limit")
        result.append((query.name, " ".join(takes), query.description))
    return result


def window_of_days(day: date, days: int = 1) -> tuple[datetime, datetime]:
    """Local midnight of `day` - (days - 1) to local midnight after `day`."""
    end = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(days=1)
    return end - timedelta(days=days), end


# ---- retention: export, then delete, in one transaction --------------------------------------

ARCHIVE_CHUNK = 1000


def archive_posts(engine: Engine, before: datetime, path: str | Path) -> tuple[int, int]:
    """Write posts seen before `before` (with their topics) to a Parquet file, then delete
    them and their post_topics rows, all in one transaction: if the file cannot be written,
    nothing is deleted. Rows are deleted by the ids exported, so a post stored meanwhile is
    never deleted unexported. Posts an incident cites as its official statement are kept.
    Returns (archived, kept). Timestamps in the file are naive UTC, as stored."""
    import pandas as pd

    cutoff = as_utc_naive(before)
    cited = "SELECT official_post_id FROM incidents WHERE official_post_id IS NOT NULL"
    old = text(f"SELECT * FROM posts WHERE seen_at < :cutoff AND id NOT IN ({cited}) "
               "ORDER BY id").bindparams(bindparam("cutoff", type_=DateTime()))
    kept_sql = text(f"SELECT COUNT(*) FROM posts WHERE seen_at < :cutoff AND id IN ({cited})"
                    ).bindparams(bindparam("cutoff", type_=DateTime()))
    target = Path(path)
    if target.suffix.lower() != ".parquet":
        raise QueryError(f"archive to a .parquet file, not {target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with engine.begin() as conn:
        cursor = conn.execute(old, {"cutoff": cutoff})
        columns = list(cursor.keys())
        rows = [list(row) for row in cursor]
        kept = conn.execute(kept_sql, {"cutoff": cutoff}).scalar() or 0
        if not rows:
            return 0, kept
        frame = pd.DataFrame.from_records(rows, columns=columns)
        for column in ("keywords", "police_terms", "topics", "rule_hits"):
            frame[column] = frame[column].map(
                lambda v: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        frame.to_parquet(target, index=False)
        ids = [int(i) for i in frame["id"]]
        for start in range(0, len(ids), ARCHIVE_CHUNK):
            chunk = {"ids": ids[start:start + ARCHIVE_CHUNK]}
            for table in ("post_topics", "posts"):
                column = "post_id" if table == "post_topics" else "id"
                conn.execute(text(f"DELETE FROM {table} WHERE {column} IN :ids")
                             .bindparams(bindparam("ids", expanding=True)), chunk)
    return len(ids), kept
