"""Events: posts about one real happening, grouped by the specific words they share (places
like 滨河路 and 夜市, actors like 辅警 and 摊主), their jurisdiction and time, even when no two
texts are near-copies. Pure: the warehouse feeds candidates from its term index.

A post is compared with the few events that share one of its terms (an inverted index kept
by warehouse.events), never with all posts. A term weighs more the fewer recent events use
it, so words every police post carries (民警, 派出所) count for little and the specifics of a
happening count for much; the weights come from the data, not from a word list.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from transforms.keywords import load_idf_table

# A post joins an event last seen at most this long before it (or first seen at most this
# long after it: a late-collected earlier post).
WINDOW = timedelta(hours=24)
# How alike a post and an event must be (the cosine of the post's weighted terms and the
# event's centroid: each term's rarity weight times the share of the event's posts using it),
# and how many distinct words they share at the least. A centroid is symmetric where the
# post's share of its own words is not: an event whose posts each say something else (the
# day's chatter chained through one word or another) has a spread-out centroid no post is
# close to, while one happening told many ways keeps its specifics (滨河路, 夜市, 辅警) heavy.
JOIN_SCORE = 0.3
MIN_SHARED = 2
# A happening is a burst: posts about it come close together. The event's activity at the
# post's time is estimated as its posts' rate (size over span, at least ACTIVITY_SCALE)
# decaying with the gap since its last post (or before its first) over ACTIVITY_SCALE:
# log(size * scale / span) - gap / scale. Below 1 (log < 0) the needed score rises by
# QUIET_COST per unit of log: a lone post an hour old needs much more than a busy event a
# few minutes old; a big event goes on taking close posts for a while after it quietens.
# Measured with benchmarks/eval_events.py: the day's chatter shares words with some post of
# an hour before as often as a happening's posts share words, but rarely minutes apart.
ACTIVITY_SCALE = timedelta(minutes=20)
QUIET_COST = 0.3
# A post passing for two events, both active within BRIDGE_GAP of it, with this score for
# the weaker tells they are one happening seen from two sides: they merge.
BRIDGE_SCORE = 0.35
BRIDGE_GAP = timedelta(hours=3)
# A shared specific place (both deeper than the city) adds this to the score.
PLACE_BONUS = 0.12
# An event's profile: its most used terms (posts using each), enough to describe a day-long
# event, bounded so a big event costs no more than a small one.
PROFILE_TERMS = 60
PLACE_PREFIX = "@"
# A busy event's signature: a word most of its posts use (滨河路, 辅警) and that, in the past
# WINDOW, mostly its posts used (the happening's word right now, not the beat's). In a burst
# people write one of its words and their own: "辅警到底有没有执法权？强烈要求严查打人辅警"
# shares only 辅警 with the scuffle it is about. Such a post joins an event of SIGNATURE_SIZE
# posts or more, busy at its time, with a second sign: the same station's area (both placed
# within it), or a rule topic rare enough to tell (执法争议, not 涉警: its
# rarity weight at least SIGNATURE_TOPIC, i.e. used by under about one post in 14). A
# signature word is specific in Chinese at large too (general_specificity at least
# SIGNATURE_SPECIFIC: 辅警, 滨河路, 临江 are; 民警 0.4, 巡逻 0.5, 交警 0.5 are the beat's words
# whatever a young warehouse has seen: measured, eval_events' school event took chatter by 民警).
SIGNATURE_SIZE = 8
SIGNATURE_SHARE = 0.5
SIGNATURE_OWN = 0.5
SIGNATURE_TOPIC = 1.0
SIGNATURE_SPECIFIC = 0.8
# The same place as second sign means a station's area (city.district.station) or finer: a
# district is too wide ("临江区辅警帮忙找回了钱包" during the 滨河路 scuffle; measured, seed 5).
SIGNATURE_PLACE_DEPTH = 2


TOPIC_PREFIX = "#"


def post_terms(keywords: Iterable[str], topics: Iterable[str] = ()) -> frozenset[str]:
    """The terms a post is grouped by: its keywords, and its topics (a rare topic such as
    执法争议 is a strong sign in a burst; a common one, like 涉警 itself, weighs little)."""
    return frozenset([*(k for k in keywords if k and len(k) <= 100),
                      *(TOPIC_PREFIX + t for t in topics if t and len(t) < 100)])


def place_term(jurisdiction: str) -> str:
    """The index term of a jurisdiction (kept with the words, told apart by its prefix)."""
    return PLACE_PREFIX + jurisdiction


def is_place_term(term: str) -> bool:
    return term.startswith(PLACE_PREFIX)


@dataclass(frozen=True)
class EventPost:
    """What grouping knows of one post."""

    post_id: int
    seen_at: datetime
    terms: frozenset[str]              # its keywords
    jurisdiction: str | None           # where it is placed
    story_event: int | None = None     # the event of another post of its story, if any
    official: bool = False             # from an official account (a police statement)


@dataclass
class EventProfile:
    """An event as grouping sees it: terms with how many posts use each, places likewise."""

    id: int
    first_seen: datetime
    last_seen: datetime
    size: int
    terms: Counter[str] = field(default_factory=Counter)
    places: Counter[str] = field(default_factory=Counter)

    @property
    def jurisdiction(self) -> str | None:
        """The most specific place most of its placed posts agree on (kept until a post
        with a place joins)."""
        key = (len(self.places), sum(self.places.values()))
        if getattr(self, "_place_key", None) != key:
            self._place = event_place(self.places)
            self._place_key = key
        return self._place

    def add(self, post: EventPost) -> None:
        self.size += 1
        self.first_seen = min(self.first_seen, post.seen_at)
        self.last_seen = max(self.last_seen, post.seen_at)
        self.terms.update(post.terms)
        if post.jurisdiction:
            self.places[post.jurisdiction] += 1


@dataclass(frozen=True)
class Joining:
    """Why a post joined its event (stored with it: duty staff can ask)."""

    event_id: int | None               # None: it opens a new event
    reason: str                        # "story" | "terms" | "signature" | "new"
    score: float = 0.0
    shared: tuple[str, ...] = ()
    place: str | None = None           # the place both share, when they do
    bridged: tuple[int, ...] = ()      # other events it joins as well: one happening
    kept_apart: tuple[int, ...] = ()   # events it would have joined as well, but a person
                                       # split them from this one (人工拆分)


def event_place(places: Mapping[str, int]) -> str | None:
    """The deepest jurisdiction holding most placed posts (counting those placed within it)."""
    if not places:
        return None
    total = sum(places.values())
    within: Counter[str] = Counter()
    for place, n in places.items():
        parts = place.split(".")
        for depth in range(1, len(parts) + 1):
            within[".".join(parts[:depth])] += n
    majority = [p for p, n in within.items() if n * 2 > total]
    if not majority:
        return max(within, key=lambda p: (within[p], -p.count(".")))
    return max(majority, key=lambda p: p.count("."))


def places_compatible(a: str | None, b: str | None, top_level: int = 0) -> bool:
    """Same jurisdiction or one within the other; an unplaced side, or one placed only at the
    city (a source's default place), fits anywhere. Two sibling districts never fit."""
    if not a or not b or a.count(".") <= top_level or b.count(".") <= top_level:
        return True
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def shared_place(a: str | None, b: str | None, top_level: int = 0) -> str | None:
    """The deeper-than-city jurisdiction both lie in, if any."""
    if not a or not b:
        return None
    common = []
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        common.append(x)
    return ".".join(common) if len(common) > top_level + 1 else None


# Term rarity is the share of the posts of the last days (BASELINE before the window, and
# the window) that use it: a term the beat uses every day (民警, 派出所, 报警) weighs little,
# one a new happening brings (滨河路, 摊主) much. Below PRIOR_POSTS stored posts (a new
# warehouse) the count is taken as PRIOR_POSTS, so early terms are all still rare. A term
# used by more than about one post in COMMON weighs next to nothing.
BASELINE = timedelta(days=6)
PRIOR_POSTS = 1000
COMMON = 5.0
FLOOR = 0.05
# An event takes posts for at most this long after its first: a happening that goes on for
# days continues as a new event (and the same text repeated daily is not one happening).
MAX_SPAN = timedelta(hours=72)


# A word common in Chinese at large (jieba's IDF table: 知道 4.0, 学生 5.8, 民警 7.6) says
# little about which happening a post is about, whatever the warehouse has seen so far (a
# young warehouse finds every word rare); words rarer than GENERAL_SPECIFIC (滨河路 12.3,
# 摊主 10.4, and names jieba does not know) count fully, commoner ones in proportion.
GENERAL_COMMON = 6.0
GENERAL_SPECIFIC = 10.0
GENERAL_MIN = 0.1


@lru_cache(maxsize=1)
def _general_idf() -> tuple[Mapping[str, float], float]:
    table = load_idf_table()
    return table.idf, table.median


def general_specificity(term: str) -> float:
    """0.1..1: how specific a word is in general Chinese (topics and places: 1)."""
    if term.startswith((TOPIC_PREFIX, PLACE_PREFIX)):
        return 1.0
    idf, median = _general_idf()
    value = idf.get(term, median)
    return min(1.0, max(GENERAL_MIN, (value - GENERAL_COMMON)
                        / (GENERAL_SPECIFIC - GENERAL_COMMON)))


@dataclass(frozen=True)
class Rarity:
    """How many recent posts use each term (`using`) of how many (`recent`); `window_using`:
    how many posts of the past WINDOW use each word (for events' signatures; a word not
    counted there is taken as used by the event's posts only)."""

    using: Mapping[str, int]
    recent: int
    window_using: Mapping[str, int] = field(default_factory=dict)

    def weights(self, terms: Iterable[str]) -> dict[str, float]:
        """Rarity weight of each term: smoothed log ratio of recent posts to the posts using
        it, less the weight of a term one post in COMMON uses. (Leaving an event's own posts
        out of the count, against that event, made a big event a magnet: measured with
        benchmarks/eval_events.py, background posts poured into it.)"""
        total = max(self.recent, PRIOR_POSTS)
        return {t: general_specificity(t) * max(FLOOR, math.log((total + 2)
                                                             / (self.using.get(t, 0) + 1))
                                                - math.log(COMMON)) for t in terms}


def score(post: EventPost, event: EventProfile, weights: Mapping[str, float]
          ) -> tuple[float, tuple[str, ...], str | None]:
    """How close the post is to the event: the cosine of the post's terms (each weighing its
    rarity) and the event's centroid (each term's rarity times the share of the event's
    posts using it), plus PLACE_BONUS for a shared specific place; 0 for places that cannot
    be one happening. `weights` must hold the event's profile terms too. Returns (score,
    shared terms by weight, shared place)."""
    if not places_compatible(post.jurisdiction, event.jurisdiction) or event.size <= 0:
        return 0.0, (), None
    post_norm = math.sqrt(sum(weights[t] ** 2 for t in post.terms))
    event_norm = math.sqrt(sum((weights.get(t, 0.0) * n / event.size) ** 2
                               for t, n in event.terms.items()))
    if post_norm <= 0 or event_norm <= 0:
        return 0.0, (), None
    shared = sorted((t for t in post.terms if event.terms.get(t)), key=lambda t: -weights[t])
    dot = sum(weights[t] ** 2 * event.terms[t] / event.size for t in shared)
    value = dot / (post_norm * event_norm)
    place = shared_place(post.jurisdiction, event.jurisdiction)
    if place is not None:
        value += PLACE_BONUS
    return value, tuple(shared), place


def activity(post: EventPost, event: EventProfile) -> float:
    """The log of the event's activity at the post's time (see ACTIVITY_SCALE): 0 or more
    while it has about a post per ACTIVITY_SCALE or more."""
    gap = max(timedelta(0), post.seen_at - event.last_seen, event.first_seen - post.seen_at)
    scale = ACTIVITY_SCALE.total_seconds()
    span = max((event.last_seen - event.first_seen).total_seconds(), scale)
    return math.log(max(event.size, 1) * scale / span) - gap.total_seconds() / scale


def needed_score(post: EventPost, event: EventProfile) -> float:
    """JOIN_SCORE, raised when the event is quiet at the post's time (see QUIET_COST); not
    for an official account's post: a statement comes when the facts are in, often hours
    after the talk (or before it), and is about the happening, not chance talk."""
    if post.official:
        return JOIN_SCORE
    return JOIN_SCORE + QUIET_COST * max(0.0, -activity(post, event))


def signature(event: EventProfile, rarity: Rarity) -> set[str]:
    """The event's signature words (see SIGNATURE_SIZE); none for a small event."""
    if event.size < SIGNATURE_SIZE:
        return set()
    return {t for t, n in event.terms.items()
            if not t.startswith((TOPIC_PREFIX, PLACE_PREFIX)) and n >= SIGNATURE_SHARE * event.size
            and n >= SIGNATURE_OWN * rarity.window_using.get(t, n)
            and general_specificity(t) >= SIGNATURE_SPECIFIC}


def joins_by_signature(post: EventPost, event: EventProfile, shared: Sequence[str],
                       place: str | None, weights: Mapping[str, float], rarity: Rarity) -> bool:
    """Does a post sharing fewer than MIN_SHARED words join this busy event by one of its
    signature words and a second sign (SIGNATURE_SIZE)?"""
    if event.size < SIGNATURE_SIZE or activity(post, event) < 0:
        return False
    if not signature(event, rarity).intersection(shared):
        return False
    return ((place is not None and place.count(".") >= SIGNATURE_PLACE_DEPTH)
            or any(t.startswith(TOPIC_PREFIX) and weights[t] >= SIGNATURE_TOPIC for t in shared))


def choose(post: EventPost, candidates: Sequence[EventProfile], rarity: Rarity,
           apart: Mapping[int, AbstractSet[int]] | None = None) -> Joining:
    """The event a post joins: its story's, else the best-scoring candidate seen within
    WINDOW that reaches its needed_score with MIN_SHARED words, else a new one. `apart`:
    event -> the events a person split from it; a post close to two of them joins the
    closer and bridges nothing between them (a human split is binding)."""
    if post.story_event is not None:
        return Joining(post.story_event, "story", 1.0)
    passed: list[tuple[float, int, tuple[str, ...], str | None]] = []
    by_signature: set[int] = set()
    weights = rarity.weights(set(post.terms).union(*(e.terms for e in candidates)))
    for event in candidates:
        if not (event.first_seen - WINDOW <= post.seen_at <= event.last_seen + WINDOW
                and post.seen_at - event.first_seen <= MAX_SPAN):
            continue
        value, shared, place = score(post, event, weights)
        # Words, not topics, make the count: a topic is context, never enough alone.
        words = sum(not t.startswith(TOPIC_PREFIX) for t in shared)
        if words >= MIN_SHARED and value >= needed_score(post, event):
            passed.append((value, -event.id, shared, place))
        elif value > 0 and words >= 1 and joins_by_signature(post, event, shared, place,
                                                             weights, rarity):
            passed.append((value, -event.id, shared, place))
            by_signature.add(event.id)
    if not passed:
        return Joining(None, "new")
    # Closeness decides; a join by signature gives way to one by closeness.
    passed.sort(key=lambda p: (-p[1] not in by_signature, p[0], p[1]), reverse=True)
    value, best, shared, place = passed[0]
    # A post that holds to two busy events tells they are one happening seen from two
    # sides (early posts in different words): they merge, when their places agree.
    by_id = {e.id: e for e in candidates}
    recent = {e.id for e in candidates if post.seen_at - e.last_seen <= BRIDGE_GAP}
    apart = apart or {}
    bridged: list[int] = []
    kept_apart: list[int] = []
    for v, other, _, _ in passed[1:]:
        if not (v >= BRIDGE_SCORE and -other in recent and -best in recent
                and not by_signature & {-other, -best}
                and places_compatible(by_id[-best].jurisdiction, by_id[-other].jurisdiction)):
            continue
        # Split by hand from the event it joins, or from one it already bridges: stays apart.
        if any(-other in apart.get(e, ()) or e in apart.get(-other, ())
               for e in (-best, *bridged)):
            kept_apart.append(-other)
        else:
            bridged.append(-other)
    return Joining(-best, "signature" if -best in by_signature else "terms", round(value, 3),
                   shared[:8], place, tuple(bridged), tuple(kept_apart))


def profile_terms(terms: Counter[str]) -> Counter[str]:
    """The PROFILE_TERMS most used terms (ties by term, so the cut is stable)."""
    return Counter(dict(sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:PROFILE_TERMS]))


def title_score(post_terms: Iterable[str], event_terms: Mapping[str, int]) -> int:
    """How typical a post is of its event: the posts using each of its terms, summed. The
    most typical post names the event."""
    return sum(event_terms.get(t, 0) for t in post_terms)
