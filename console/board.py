"""值班台: the open incidents by level, with their countdowns and 三同步 tracks; refreshed by
a small script that polls a change stamp and fetches the board again when it moves."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from alerts.incidents.incident import Status, Track
from alerts.incidents.timers import OPEN_STATUSES, Deadline, TimerSettings, deadlines, sync_gaps
from alerts.levels import LEVELS
from console.accounts import may, sees
from console.auth import csrf_token, require
from console.views import ENV, render, span
from jingyu.timeutil import utcnow
from warehouse.accounts import Account
from warehouse.records import IncidentState, TrackState

router = APIRouter()

BOARD_LIMIT = 500          # open incidents shown at most (the oldest beyond are rare)
SOON = timedelta(minutes=30)


@dataclass(frozen=True)
class TimerView:
    label: str
    due_at: datetime
    met_at: datetime | None
    state: str             # met | late | soon | waiting
    text: str              # 剩 12分 | 超时 5分 | 已完成

    @classmethod
    def of(cls, deadline: Deadline, now: datetime) -> TimerView:
        if deadline.met_at is not None:
            late = deadline.met_at > deadline.due_at
            return cls(deadline.label, deadline.due_at, deadline.met_at,
                       "met", "超时完成" if late else "已完成")
        left = deadline.due_at - now
        if left <= timedelta(0):
            return cls(deadline.label, deadline.due_at, None, "late", f"超时 {span(left)}")
        return cls(deadline.label, deadline.due_at, None, "soon" if left <= SOON else "waiting",
                   f"剩 {span(left)}")


@dataclass(frozen=True)
class TrackView:
    track: str
    label: str
    unit: str | None
    started_at: datetime | None
    started_by: str | None
    done_at: datetime | None
    done_by: str | None
    lagging: bool          # not started long after another track started (三同步 broken)

    @property
    def state(self) -> str:
        if self.done_at:
            return "done"
        return "started" if self.started_at else ("lagging" if self.lagging else "waiting")


@dataclass(frozen=True)
class IncidentCard:
    """One incident as the board and the incident page show it."""

    incident: IncidentState
    title: str             # ids of places and sources replaced by their names
    place: str
    status_label: str
    level: dict
    timers: tuple[TimerView, ...]
    tracks: tuple[TrackView, ...]
    sync_warning: str

    @property
    def is_open(self) -> bool:
        return Status(self.incident.status).is_open


def card(incident: IncidentState, place: str, timers: TimerSettings, now: datetime,
         title: str | None = None) -> IncidentCard:
    is_open = Status(incident.status).is_open
    gaps = sync_gaps(incident.tracks, now, timedelta(minutes=timers.sync_minutes)) \
        if is_open else []
    lagging = {g.lagging for g in gaps}
    warning = ""
    if gaps:
        leader = Track(gaps[0].leader).label
        warning = (f"三同步未同步：{leader}已启动 {span(gaps[0].behind)}，"
                   + "、".join(Track(t).label for t in sorted(lagging)) + " 尚未启动")
    return IncidentCard(
        incident=incident, title=title or incident.title, place=place,
        status_label=Status(incident.status).label,
        level=LEVELS[incident.level],
        timers=tuple(TimerView.of(d, now) for d in deadlines(incident, timers)) if is_open
        else (),
        tracks=tuple(_track(t, t.track in lagging) for t in incident.tracks),
        sync_warning=warning)


def _track(t: TrackState, lagging: bool) -> TrackView:
    return TrackView(t.track, Track(t.track).label, t.unit, t.started_at, t.started_by,
                     t.done_at, t.done_by, lagging)


def open_cards(request: Request, account: Account, now: datetime) -> list[IncidentCard]:
    """The open incidents the account may see: most severe first, then the oldest first."""
    console = request.app.state.console
    incidents = console.incidents.incidents(limit=BOARD_LIMIT, statuses=OPEN_STATUSES,
                                            within=account.jurisdiction)
    incidents.sort(key=lambda i: (i.level, i.status != Status.NEW, i.opened_at))
    timers = console.desk.routing.timers
    return [card(i, console.jurisdiction_name(i.jurisdiction), timers, now,
                 console.labels.humanise(i.title)) for i in incidents]


class BoardCache:
    """Every officer of one jurisdiction sees the same board: it is drawn once per change of
    the incidents (the change stamp), per minute (the countdowns) and per kind of viewer
    (jurisdiction, may act), not once per request. The stamp itself is read at most once a
    second. The form token differs per session: the cached HTML holds a placeholder."""

    STAMP_SECONDS = 1.0
    TOKEN = "__FORM_TOKEN__"

    def __init__(self) -> None:
        self._lock = Lock()
        self._stamp = ("", 0.0)
        self._boards: dict[tuple, str] = {}

    def stamp(self, read: Callable[[], str]) -> str:
        value, at = self._stamp
        if time.monotonic() - at < self.STAMP_SECONDS:
            return value
        value = read()
        with self._lock:
            self._stamp = (value, time.monotonic())
        return value

    def changed(self) -> None:
        """This process changed an incident: read the stamp afresh on the next request."""
        with self._lock:
            self._stamp = ("", 0.0)

    def board(self, key: tuple, draw: Callable[[], str]) -> str:
        with self._lock:
            html = self._boards.get(key)
        if html is None:
            html = draw()
            with self._lock:
                if len(self._boards) > 64:      # old stamps and minutes
                    self._boards.clear()
                self._boards[key] = html
        return html


HOT_EVENTS = 8             # 热点事件 on the board
HOT_HOURS = 24
HOT_STORIES = 3           # stories listed under each; the rest counted
HOT_MIN_POSTS = 2         # a lone post is not a hot event (search and the reports have it)


@dataclass(frozen=True)
class HotEventView:
    """One of the board's 热点事件: a real-world event of the last day, its stories, and the
    incidents following it that the account may open."""

    rank: int
    event_id: int
    title: str
    url: str | None
    place: str
    posts: int
    change: str           # against the 24 h before: +12, 新出现
    negative_police: int
    sources: int
    official: bool
    stories: tuple[dict, ...]
    more_stories: int
    incidents: tuple[int, ...]


def hot_event_views(request: Request, account: Account, now: datetime
                    ) -> list[HotEventView]:
    """热点事件 of the last 24 h within the account's jurisdiction: events by their posts
    about the police (warehouse.queries.hot_events, as the daily brief), with growth over the
    day before and how many of them are negative toward the police."""
    from reports.blocks import change_text
    from warehouse.queries import QueryParams, hot_events

    console = request.app.state.console
    params = QueryParams(since=now - timedelta(hours=HOT_HOURS), until=now,
                         jurisdiction=account.jurisdiction, police_related=True,
                         limit=HOT_EVENTS)
    views = []
    for hot in hot_events(console.warehouse.engine, params):
        e, stories = hot.event, hot.stories
        if e["posts"] < HOT_MIN_POSTS:
            break                                   # ranked by posts: the rest are smaller
        title, url = e["title"], e["url"]
        if not sees(account, e["jurisdiction"]) and stories:
            # the event's headline is another district's post: name it by a post in scope
            title, url = stories[0]["title"] or stories[0]["text_start"], stories[0]["url"]
        views.append(HotEventView(
            rank=hot.rank, event_id=e["event_id"], title=title or "（无标题）", url=url,
            place=console.jurisdiction_name(e["jurisdiction"]) if sees(
                account, e["jurisdiction"]) else console.jurisdiction_name(account.jurisdiction),
            posts=e["posts"], change=change_text(e["posts"], e["posts_before"]),
            negative_police=e["negative_police"] or 0, sources=e["sources"],
            official=e["official_at"] is not None, stories=tuple(stories[:HOT_STORIES]),
            more_stories=max(0, len(stories) - HOT_STORIES),
            incidents=tuple(i for i, place in hot.incidents if sees(account, place))))
    return views


def board_html(request: Request, account: Account) -> Markup:
    """The board's body for this account, with its session's form token."""
    console = request.app.state.console
    cache: BoardCache = console.board_cache
    stamp = cache.stamp(console.incidents.change_stamp)
    act = may(account, "act")

    def draw() -> str:
        now = utcnow()
        cards = open_cards(request, account, now)
        counts = {level: sum(1 for c in cards if c.incident.level == level) for level in LEVELS}
        return ENV.get_template("board_cards.html").render(
            cards=cards, counts=counts, now=now, stamp=stamp, csrf=BoardCache.TOKEN,
            hot=hot_event_views(request, account, now), hot_hours=HOT_HOURS,
            hot_min=HOT_MIN_POSTS,
            can={"act": act},
            unacknowledged=sum(1 for c in cards if c.incident.status == Status.NEW))

    html = cache.board((stamp, account.jurisdiction, act, int(time.time() // 60)), draw)
    return Markup(html.replace(BoardCache.TOKEN, csrf_token(request)))


@router.get("/", response_class=HTMLResponse)
def board(request: Request) -> Response:
    account = require(request, "read")
    return render(request, "board.html", board=board_html(request, account))


@router.get("/board/fragment", response_class=HTMLResponse)
def board_fragment(request: Request) -> Response:
    """The board's body alone, for the refresh script (it does not count as activity)."""
    account = require(request, "read", touch=False)
    return HTMLResponse(board_html(request, account))


@router.get("/board/stamp")
def board_stamp(request: Request) -> Response:
    require(request, "read", touch=False)
    console = request.app.state.console
    return JSONResponse({"stamp": console.board_cache.stamp(console.incidents.change_stamp)})
