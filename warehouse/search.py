"""Search everything collected: words in posts' titles and texts, combined with AND, OR, NOT,
brackets and "quoted phrases" as in the topic rules (side by side means AND), ranked by time
or relevance, each hit linked to its post, story and incidents.

Substrings, not words: 辅警 finds 协警辅警 as well as 辅警. SQLite answers through its FTS5
trigram index (terms of three characters or more) and reads posts for shorter ones;
PostgreSQL through a GIN index over character bigrams (terms of two or more), then checks
each candidate (migration 0006).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import DateTime, Engine, bindparam, text

from jingyu.timeutil import from_db
from transforms.rules import (
    AllOf,
    AnyOf,
    ExpressionError,
    Near,
    Node,
    Not,
    Term,
    compile_expression,
)
from warehouse.queries import POLARITIES, QUERY_WORK_MEM, QueryParams, _binds, _post_filters

ORDERS = ("time", "relevance")
MAX_QUERY_CHARS = 500
MAX_TERMS = 20
MAX_LIMIT = 1000
# Matches are counted exactly up to this many ("10000+" beyond); relevance ranks the newest
# this many matches (bounded time for a word found in every third post).
TOTAL_CAP = 10_000
SNIPPET_CHARS = 40          # shown before and after the first match
# A title hit weighs three text hits; a hit counts less in a long text.
TITLE_WEIGHT = 3
LENGTH_DAMPING = 100
_DOC = "(p.title || ' ' || p.text)"      # the expression the PostgreSQL index is built on
_OPEN_WINDOW = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SearchError(ValueError):
    """The search text does not parse, or an option is out of range."""


@dataclass(frozen=True)
class SearchQuery:
    """What to look for: `text` like `滨河路 辅警`, `(袭警 OR 暴力抗法) NOT 演练`; the window
    [since, until) of seen_at (aware datetimes, None = open) and filters as in the named
    queries (a jurisdiction includes those under it)."""

    text: str
    since: datetime | None = None
    until: datetime | None = None
    jurisdiction: str | None = None
    topic: str | None = None
    source: str | None = None
    polarity: str | None = None
    order: str = "time"                # "time": newest first; "relevance": best match first
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class SearchHit:
    post_id: int
    seen_at: datetime                  # aware UTC
    source_id: str
    source_name: str
    title: str
    text: str                          # the full text, as stored
    snippet: str                       # ~80 characters around the first match
    url: str | None
    jurisdiction: str | None
    polarity: str
    police_related: bool
    topics: tuple[str, ...]
    story_id: int | None               # reposts and near-copies share it
    incident_ids: tuple[int, ...]      # incidents whose evidence holds this text or its story
    #                                    or that follow its event
    score: float | None                # relevance (order="relevance" only)
    event_id: int | None = None        # the real-world event it joined (jingyu events show)


@dataclass(frozen=True)
class SearchResult:
    query: SearchQuery
    terms: tuple[str, ...]             # the terms a hit is found by (not those under NOT)
    hits: tuple[SearchHit, ...]
    total: int                         # matches in all, at most TOTAL_CAP
    total_capped: bool                 # there are more than TOTAL_CAP (relevance then ranks
                                       # the newest TOTAL_CAP of them)

    @property
    def total_text(self) -> str:
        return f"{self.total}+" if self.total_capped else str(self.total)


def parse_search(source: str) -> tuple[Node, tuple[str, ...]]:
    """The expression tree of a search text and its positive terms; SearchError if it does
    not parse, can match a post containing none of its terms, or is too long."""
    if len(source) > MAX_QUERY_CHARS:
        raise SearchError(f"the search is {len(source)} characters long: at most "
                          f"{MAX_QUERY_CHARS}")
    try:
        expression = compile_expression(source, implicit_and=True)
    except ExpressionError as exc:
        raise SearchError(f"cannot read the search {source!r}: {exc} (words side by side "
                          f"must all occur; OR, NOT, ( ) and \"phrases\" as in the topic "
                          f"rules)") from exc
    if expression.near_terms:
        raise SearchError("NEAR is for topic rules; a search takes AND, OR, NOT, brackets "
                          "and \"phrases\"")
    if len(expression.terms) > MAX_TERMS:
        raise SearchError(f"the search has {len(expression.terms)} terms: at most {MAX_TERMS}")
    return expression.root, expression.evidence_terms


class _Predicate:
    """The SQL of an expression tree for one dialect, with its bind values."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.binds: dict[str, object] = {}

    def _bind(self, value: object) -> str:
        name = f"s{len(self.binds)}"
        self.binds[name] = value
        return f":{name}"

    def contains(self, term: str) -> str:
        """The post's title or text contains the term (case-insensitively): the exact test."""
        if self.pg:
            return f"strpos(lower({_DOC}), lower(CAST({self._bind(term)} AS text))) > 0"
        if len(term) >= 3:
            bound = self._bind('"' + term.replace('"', '""') + '"')
            return f"p.id IN (SELECT rowid FROM posts_search WHERE posts_search MATCH {bound})"
        bound = self._bind("%" + term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
                           + "%")
        return f"(p.title LIKE {bound} ESCAPE '!' OR p.text LIKE {bound} ESCAPE '!')"

    def of(self, node: Node) -> str:
        """The whole condition: on PostgreSQL the bigram index narrows the posts (a condition
        implied by the exact one, kept apart so that the exact test never recomputes a post's
        bigrams), then the exact test decides."""
        exact = self._exact(node)
        narrowing = self._narrowing(node) if self.pg else None
        return f"({narrowing}) AND {exact}" if narrowing else exact

    def _exact(self, node: Node) -> str:
        if isinstance(node, Term):
            return self.contains(node.text)
        if isinstance(node, Not):
            return f"NOT {self._exact(node.operand)}"
        if isinstance(node, (AllOf, AnyOf)):
            joiner = " AND " if isinstance(node, AllOf) else " OR "
            return "(" + joiner.join(self._exact(o) for o in node.operands) + ")"
        assert not isinstance(node, Near), "parse_search refuses NEAR"
        raise TypeError(node)

    def _narrowing(self, node: Node) -> str | None:
        """Bigram-index conditions every match satisfies, or None where the index cannot help
        (a one-character term, anything under NOT)."""
        if isinstance(node, Term):
            if len(node.text) < 2:
                return None
            bound = self._bind(node.text)
            return f"jingyu_bigrams({_DOC}) @> jingyu_bigrams(CAST({bound} AS text))"
        if isinstance(node, AllOf):
            parts = [p for p in map(self._narrowing, node.operands) if p]
            return " AND ".join(parts) if parts else None
        if isinstance(node, AnyOf):
            parts = [self._narrowing(o) for o in node.operands]
            return None if None in parts else "(" + " OR ".join(f"({p})" for p in parts) + ")"
        return None

    def relevance(self, terms: tuple[str, ...]) -> str:
        """Weighted occurrences of the terms per length: one definition on both databases."""
        parts = []
        for term in terms:
            bound = self._bind(term)
            for column, weight in (("p.title", TITLE_WEIGHT), ("p.text", 1)):
                parts.append(f"{weight} * (length(lower({column})) - length(replace("
                             f"lower({column}), CAST({bound} AS text), ''))) / {len(term)}")
        return (f"(({' + '.join(parts)}) * {float(LENGTH_DAMPING)}"
                f" / (length(p.text) + {LENGTH_DAMPING}))")


def _check(query: SearchQuery) -> None:
    if query.order not in ORDERS:
        raise SearchError(f"order is one of {', '.join(ORDERS)}, not {query.order!r}")
    if not 1 <= query.limit <= MAX_LIMIT:
        raise SearchError(f"limit is 1 to {MAX_LIMIT}, not {query.limit}")
    if query.offset < 0:
        raise SearchError(f"offset cannot be negative ({query.offset})")
    if query.polarity and query.polarity not in POLARITIES:
        raise SearchError(f"polarity is one of {', '.join(POLARITIES)}")
    if query.since and query.until and query.until <= query.since:
        raise SearchError("until must be after since")


def search(engine: Engine, query: SearchQuery) -> SearchResult:
    """Posts matching `query.text` within the window and filters: one page of hits and the
    number of matches. The console's search page and `jingyu search` both call this."""
    _check(query)
    root, terms = parse_search(query.text)
    pg = engine.dialect.name == "postgresql"
    predicate = _Predicate(pg)
    where = predicate.of(root)
    params = QueryParams(since=query.since or _OPEN_WINDOW,
                         until=query.until or datetime.now(timezone.utc),
                         topic=query.topic, jurisdiction=query.jurisdiction,
                         source=query.source, polarity=query.polarity)
    if query.since:
        where += " AND p.seen_at >= :since"
    if query.until:
        where += " AND p.seen_at < :until"
    where += _post_filters(params)
    score = predicate.relevance(terms) if query.order == "relevance" else None
    binds = {**{k: v for k, v in _binds(params).items() if f":{k}" in where},
             **predicate.binds, "limit": query.limit, "offset": query.offset,
             "cap": TOTAL_CAP + 1}
    columns = """p.id, p.seen_at, p.source_id, s.name AS source_name, p.title, p.text, p.url,
               p.jurisdiction, p.polarity, p.police_related, p.topics, p.story_id,
               p.content_hash,
               (SELECT ep.event_id FROM event_posts ep WHERE ep.post_id = p.id) AS event_id"""
    relevance_sql = f"""
        WITH pool AS (
            SELECT p.id FROM posts p WHERE {where}
            ORDER BY p.seen_at DESC, p.id DESC LIMIT :cap)
        SELECT {columns}, {score} AS score, (SELECT COUNT(*) FROM pool) AS pooled
        FROM pool JOIN posts p ON p.id = pool.id JOIN sources s ON s.id = p.source_id
        ORDER BY score DESC, p.seen_at DESC, p.id DESC LIMIT :limit OFFSET :offset"""
    newest_sql = f"""
        SELECT {columns}, NULL AS score FROM posts p JOIN sources s ON s.id = p.source_id
        WHERE {where} ORDER BY p.seen_at DESC, p.id DESC LIMIT :limit OFFSET :offset"""
    matches_sql = f"SELECT p.id, p.seen_at FROM posts p WHERE {where} LIMIT :cap"
    with engine.connect() as conn:
        if pg:
            # Sorting thousands of matches by time stays in memory (the default 4 MB spills);
            # no JIT: the bigram function's cost makes the planner expect a long query and
            # compile it, which took longer (0.66 s) than running it.
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{QUERY_WORK_MEM}'")
            conn.exec_driver_sql("SET LOCAL jit = off")
        if score:
            # Ranked among the newest TOTAL_CAP + 1 matches, which also count them: bounded
            # time for a word found in every third post.
            rows = conn.execute(_statement(relevance_sql), _used(binds, relevance_sql)).all()
            total = rows[0].pooled if rows else _count(conn, matches_sql, binds)
        else:
            # One pass finds the matches (at most TOTAL_CAP + 1, in any order): when that is
            # all of them, the page is cut from them; else the time index finds the newest,
            # which a word that common yields at once.
            found = conn.execute(_statement(matches_sql), _used(binds, matches_sql)).all()
            total = len(found)
            if total <= TOTAL_CAP:
                newest = sorted(found, key=lambda r: (_as_datetime(r.seen_at), r.id),
                                reverse=True)[query.offset:query.offset + query.limit]
                rows = _rows_by_id(conn, columns, [r.id for r in newest])
            else:
                rows = conn.execute(_statement(newest_sql), _used(binds, newest_sql)).all()
        incidents = _incidents_of(conn, pg, [(r.content_hash, r.story_id) for r in rows])
        events = {r.event_id for r in rows if r.event_id is not None}
        of_event: dict[int, set[int]] = {}
        if events:
            for incident_id, event_id in conn.execute(
                    text("SELECT id, event_id FROM incidents WHERE event_id IN :events")
                    .bindparams(bindparam("events", expanding=True)), {"events": sorted(events)}):
                of_event.setdefault(event_id, set()).add(incident_id)
    hits = tuple(SearchHit(
        post_id=r.id, seen_at=from_db(_as_datetime(r.seen_at)), source_id=r.source_id,
        source_name=r.source_name, title=r.title or "", text=r.text or "",
        snippet=snippet(r.title or "", r.text or "", terms), url=r.url,
        jurisdiction=r.jurisdiction, polarity=r.polarity, police_related=bool(r.police_related),
        topics=tuple(_json_list(r.topics)), story_id=r.story_id,
        incident_ids=tuple(sorted(incidents.get(r.content_hash, set())
                                  | incidents.get(("story", r.story_id), set())
                                  | of_event.get(r.event_id, set()))),
        score=None if r.score is None else round(float(r.score), 3), event_id=r.event_id)
        for r in rows)
    return SearchResult(query=query, terms=terms, hits=hits, total=min(total, TOTAL_CAP),
                        total_capped=total > TOTAL_CAP)


def _count(conn, matches_sql: str, binds: dict[str, object]) -> int:
    sql = f"SELECT COUNT(*) FROM ({matches_sql}) m"
    return conn.execute(_statement(sql), _used(binds, sql)).scalar_one()


def _rows_by_id(conn, columns: str, ids: list[int]) -> list:
    """The hit rows of these post ids, in this order."""
    if not ids:
        return []
    sql = text(f"SELECT {columns}, NULL AS score FROM posts p "
               "JOIN sources s ON s.id = p.source_id WHERE p.id IN :ids"
               ).bindparams(bindparam("ids", expanding=True))
    rows = {r.id: r for r in conn.execute(sql, {"ids": ids})}
    return [rows[i] for i in ids]


def _statement(sql: str):
    return text(sql).bindparams(*[bindparam(k, type_=DateTime())
                                  for k in ("since", "until") if f":{k}" in sql])


def _used(binds: dict[str, object], sql: str) -> dict[str, object]:
    return {k: v for k, v in binds.items() if f":{k}" in sql}


def _as_datetime(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _json_list(value: object) -> list:
    if isinstance(value, str):
        return json.loads(value or "[]")
    return list(value or [])


def _incidents_of(conn, pg: bool, hits: list[tuple[str, int | None]]
                  ) -> dict[object, set[int]]:
    """Incident ids by content hash and by ("story", story id): an incident holds the content
    hashes of its evidence, and a hit belongs to it when its text, or another text of its
    story, is among them."""
    if not hits:
        return {}
    stories = sorted({story for _, story in hits if story is not None})
    story_of: dict[str, set[int]] = {}
    if stories:
        members = text("SELECT DISTINCT story_id, content_hash FROM posts "
                       "WHERE story_id IN :stories").bindparams(bindparam("stories",
                                                                           expanding=True))
        for story_id, content_hash in conn.execute(members, {"stories": stories}):
            story_of.setdefault(content_hash, set()).add(story_id)
    hashes = sorted({h for h, _ in hits} | set(story_of))
    elements = ("json_array_elements_text(i.content_hashes) AS h(value)" if pg
                else "json_each(i.content_hashes) AS h")
    found = text(f"SELECT i.id, h.value FROM incidents i, {elements} WHERE h.value IN :hashes"
                 ).bindparams(bindparam("hashes", expanding=True))
    result: dict[object, set[int]] = {}
    for incident_id, content_hash in conn.execute(found, {"hashes": hashes}):
        result.setdefault(content_hash, set()).add(incident_id)
        for story_id in story_of.get(content_hash, ()):
            result.setdefault(("story", story_id), set()).add(incident_id)
    return result


def snippet(title: str, body: str, terms: tuple[str, ...]) -> str:
    """The text around the first occurrence of a term (title when the text has none)."""
    for source in (body, title):
        folded = source.casefold()
        found = [at for at in (folded.find(term) for term in terms) if at >= 0]
        if found and len(folded) == len(source):
            at = min(found)
            start, end = max(0, at - SNIPPET_CHARS), at + SNIPPET_CHARS
            return (("…" if start else "") + source[start:end].replace("\n", " ")
                    + ("…" if end < len(source) else ""))
    return body[:2 * SNIPPET_CHARS].replace("\n", " ") + ("…" if len(body) > 2 * SNIPPET_CHARS
                                                          else "")

