"""巡查: is the watch being kept? The run ledger as a 24-hour strip per day (every cycle, the
gaps in red), source health with each failure's reason, who is on duty now and next, and the
current shift's handover (reports.handover, as `jingyu report handover` builds it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from alerts.incidents.roster import OnDuty
from collectors.failures import ADVICE_ZH, NAMES_ZH, FailureClass
from console.auth import require
from console.views import render
from jingyu.timeutil import SHANGHAI, to_utc, utcnow
from warehouse.accounts import Account

router = APIRouter()

DAYS = 3
# A stretch this long without a cycle starting is a gap (the watchdog pages after 20 min
# without a successful cycle; the monitor runs every 5).
GAP = timedelta(minutes=15)
MIN_WIDTH = 3          # minutes: a 20-second cycle is still visible on a 1440-minute strip
# A report's HTML carries its own inline stylesheet and no script.
REPORT_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


@dataclass(frozen=True)
class Bar:
    """A rectangle on one day's strip, in minutes from local midnight."""

    start: float
    width: float
    kind: str          # ok | partial | failed | running | gap | future
    title: str


@dataclass(frozen=True)
class DayStrip:
    day: str           # 12-04 (周五)
    bars: tuple[Bar, ...]
    cycles: int
    gaps: int


WEEKDAYS = "一二三四五六日"


def strips(runs: list[dict[str, Any]], now: datetime, days: int = DAYS) -> list[DayStrip]:
    """One strip per local day, newest first: each run a bar coloured by its outcome, each
    stretch of at least GAP without a cycle starting a red bar, the hours still to come grey."""
    local_now = to_utc(now).astimezone(SHANGHAI)
    today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = sorted(to_utc(r["started_at"]) for r in runs)
    result = []
    for back in range(days):
        midnight = today - timedelta(days=back)
        end_of_day = midnight + timedelta(days=1)
        limit = min(end_of_day, local_now)

        def minute(t: datetime, midnight: datetime = midnight) -> float:
            return (to_utc(t) - to_utc(midnight)).total_seconds() / 60

        bars = []
        # gaps: between consecutive cycle starts (and from the day's start / up to now)
        marks = [to_utc(midnight) - GAP, *[s for s in starts if midnight <= s < limit],
                 to_utc(limit)]
        previous_start = max((s for s in starts if s < midnight), default=None)
        if previous_start is not None:
            marks[0] = previous_start
        for a, b in pairwise(marks):
            if b - a >= GAP:
                lo = max(a, to_utc(midnight))
                if b > lo:
                    bars.append(Bar(minute(lo), minute(b) - minute(lo), "gap",
                                    f"无巡查 {lo.astimezone(SHANGHAI):%H:%M}–"
                                    f"{b.astimezone(SHANGHAI):%H:%M}"))
        cycles = 0
        for run in runs:
            started = to_utc(run["started_at"])
            if not (midnight <= started < end_of_day):
                continue
            cycles += 1
            ended = to_utc(run["ended_at"]) if run["ended_at"] else to_utc(local_now)
            width = max(minute(ended) - minute(started), MIN_WIDTH)
            bars.append(Bar(minute(started), min(width, 1440 - minute(started)), run["status"],
                            f"{started.astimezone(SHANGHAI):%H:%M} #{run['run_id']} "
                            f"{run['status']}：信息源 {run['sources_ok']}/"
                            f"{run['sources_total']} 正常，新帖 {run['posts_new']}"))
        if local_now < end_of_day:
            bars.append(Bar(minute(local_now), 1440 - minute(local_now), "future", "尚未到来"))
        result.append(DayStrip(day=f"{midnight:%m-%d}（周{WEEKDAYS[midnight.weekday()]}）",
                               bars=tuple(bars), cycles=cycles,
                               gaps=sum(1 for b in bars if b.kind == "gap")))
    return result


def failure_of(source: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """What is wrong with a source, as duty staff read it: the failure's class, what to do,
    since when, and what jingyu does about it (backing off until, disabled); None when it
    is well."""
    if not source.get("failure_class") and not source.get("disabled_at"):
        return None
    failure = FailureClass(source["failure_class"]) if source.get("failure_class") else None
    backoff = source.get("backoff_until")
    return {"class": failure.value if failure else "disabled",
            "name": NAMES_ZH[failure] if failure else "已停用",
            "advice": ADVICE_ZH[failure] if failure else "",
            "since": source.get("failing_since"),
            "backoff_until": backoff if backoff and to_utc(backoff) > to_utc(now) else None,
            "disabled_at": source.get("disabled_at"),
            "disabled_reason": source.get("disabled_reason")}


def visible_duty(duty: list[OnDuty], account: Account) -> list[OnDuty]:
    """Units of the account's jurisdiction, those above it (its leaders) and below it."""
    scope = account.jurisdiction
    if scope is None:
        return duty
    return [d for d in duty if d.unit.jurisdiction == scope
            or d.unit.jurisdiction.startswith(scope + ".")
            or scope.startswith(d.unit.jurisdiction + ".")]


def current_shift(duty: list[OnDuty], now: datetime) -> tuple[datetime, datetime]:
    """The turn under way: the one that started last among those on duty (12 h back without
    a roster)."""
    if not duty:
        return now - timedelta(hours=12), now
    turn = max(duty, key=lambda d: d.starts)
    return turn.starts, turn.ends


def _within(place: str | None, scope: str | None) -> bool:
    """A source or 系统告警 an account of `scope` sees: its own area and below, and those of
    no jurisdiction."""
    return not scope or not place or place == scope or place.startswith(scope + ".")


@router.get("/patrol", response_class=HTMLResponse)
def patrol(request: Request) -> Response:
    account = require(request, "read")
    console = request.app.state.console
    now = utcnow()
    runs = console.warehouse.runs(limit=DAYS * 24 * 60, since=now - timedelta(days=DAYS))
    roster = console.desk.roster
    on_duty = visible_duty(roster.on_duty(now), account)
    since, until = current_shift(on_duty, now)
    next_duty = visible_duty(roster.on_duty(until + timedelta(minutes=1)), account) \
        if on_duty else []
    sources = [s for s in console.warehouse.source_health(now)
               if _within(s["jurisdiction"], account.jurisdiction)]
    # 系统告警 of the last day (open ones are seen again by every check): the operators'
    # matter, shown here beside source health, never on the duty board among incidents.
    health = [h for h in console.warehouse.alerts(limit=50, since=now - timedelta(hours=24),
                                                  health=True)
              if _within(h["jurisdiction"], account.jurisdiction)]
    operators, fallback = console.desk.settings.health_channels()
    return render(request, "patrol.html", strips=strips(runs, now), now=now,
                  latest=runs[0] if runs else None, sources=sources,
                  failures={s["id"]: failure_of(s, now) for s in sources}, on_duty=on_duty,
                  health=health, health_channels=operators, health_fallback=fallback,
                  next_duty=next_duty, shift=(since, until),
                  place=console.jurisdiction_name)


@router.get("/patrol/handover", response_class=HTMLResponse)
def handover(request: Request) -> Response:
    """The current shift's 交接班记录, for the account's jurisdiction (reports.handover)."""
    from reports.handover import build_handover
    from reports.render import to_html

    account = require(request, "read")
    console = request.app.state.console
    now = utcnow()
    since, until = current_shift(visible_duty(console.desk.roster.on_duty(now), account), now)
    document = build_handover(console.warehouse, since, until,
                              jurisdiction=account.jurisdiction, labels=console.labels,
                              timers=console.desk.routing.timers, now=now)
    return HTMLResponse(to_html(document), headers={"Content-Security-Policy": REPORT_CSP})
