"""One incident: its state, evidence, notifications and audit trail, and the actions duty
staff take on it — each the same operation as `jingyu alerts ...`, recorded as the person
logged in (via "console")."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerts.incidents import actions
from alerts.incidents.incident import IncidentError, Track
from alerts.incidents.routing import parse_until
from console.accounts import sees
from console.auth import Forbidden, check_csrf, require
from console.board import card
from console.spread_view import SPREADS, spread_chart
from console.views import render
from console.volume import volume_chart
from jingyu.timeutil import utcnow
from warehouse.events import EventStore
from warehouse.incident_posts import posts_of_incident
from warehouse.incidents import NoSuchIncident
from warehouse.records import IncidentEvent, IncidentState

router = APIRouter()
VIA = "console"
POSTS_SHOWN = 30          # the newest posts of the story listed on the page (all are in 专报)


def _visible(request: Request, incident_id: int, right: str = "read") -> IncidentState:
    """The incident if it exists and the account may see it; a 派出所 account learns nothing
    of another district's incidents, not even that they exist."""
    account = require(request, right)
    try:
        incident = request.app.state.console.incidents.get(incident_id)
    except NoSuchIncident:
        raise NotFound() from None
    if not sees(account, incident.jurisdiction):
        raise NotFound()
    return incident


class NotFound(Exception):
    pass


def _not_found(request: Request, incident_id: int) -> Response:
    return render(request, "message.html", status_code=404, title="没有这个事件",
                  message=f"没有编号为 {incident_id} 的事件，或不在您的辖区。")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: int) -> Response:
    try:
        incident = _visible(request, incident_id)
    except NotFound:
        return _not_found(request, incident_id)
    console = request.app.state.console
    store = console.incidents
    alert, events = store.alert(incident.alert_id), store.events(incident.id)
    now = utcnow()
    flash = request.session.pop("flash", None)
    # The same posts as its 专报 and 传播路径: its alerts' evidence, their stories, its event;
    # less those split off it.
    _evidence, posts = posts_of_incident(store, incident)
    chart = volume_chart([p.seen_at for p in posts],
                         [("发现", incident.opened_at), ("签收", incident.acknowledged_at),
                          ("官方发声", incident.official_statement_at)], now)
    # 传播路径: its event, else the stories of these posts (not of its official statement).
    spread = SPREADS.spread(console.warehouse.engine, incident.event_id,
                            [p.id for p in posts if p.id != incident.official_post_id])
    return render(request, "incident.html",
                  splittable=splittable(console, incident, [p.id for p in posts]),
                  spread=spread, spread_chart=spread_chart(spread) if spread else None,
                  card=card(incident, console.jurisdiction_name(incident.jurisdiction),
                            console.desk.routing.timers, now,
                            console.labels.humanise(incident.title)),
                  alert=alert, reason=console.labels.humanise(alert["reason"]), events=events, levels=level_history(events),
                  posts=posts[-POSTS_SHOWN:][::-1], post_count=len(posts), chart=chart,
                  outbox=store.outbox(incident.id), flash=flash, now=now,
                  tracks=list(Track), place=console.jurisdiction_name)


def in_event(console: Any, incident: IncidentState, post_ids: list[int]) -> set[int]:
    """The posts (of `post_ids`) of the real-world event the incident follows now, or all
    when it follows none."""
    if incident.event_id is None or not post_ids:
        return set(post_ids)
    events = EventStore(console.warehouse)
    live = events.live_event(incident.event_id)
    of_posts = events.events_of_posts(post_ids)
    return {p for p in post_ids if p in of_posts and events.live_event(of_posts[p]) == live}


def splittable(console: Any, incident: IncidentState, post_ids: list[int]) -> set[int]:
    """The posts of the page that may be split off (actions.split refuses any other)."""
    if incident.merged_into is not None:
        return set()
    return in_event(console, incident, post_ids)


def level_history(events: list[IncidentEvent]) -> list[dict[str, Any]]:
    """The level as it was set and changed: when, by whom, from, to, why."""
    history = []
    for e in events:
        if e.action == "opened" and "level" in e.detail:
            history.append({"at": e.at, "by": e.actor, "from": None, "to": e.detail["level"],
                            "why": "立案"})
        elif e.action in ("level_raised", "level_lowered"):
            history.append({"at": e.at, "by": e.actor, "from": e.detail.get("from"),
                            "to": e.detail.get("to"),
                            "why": e.detail.get("reason") or "告警再次触发，级别提高"})
    return history


@dataclass(frozen=True)
class Done:
    """What an action says when it worked, and the incident page to go to (default: this)."""

    text: str
    go_to: int | None = None
    link: int | None = None      # another incident the message names (a split's new one)


async def _act(request: Request, incident_id: int, right: str,
               change: Callable[[Any, dict[str, str], str], Any], done: str) -> Response:
    """Check the form token, the right and the jurisdiction, run the change, and come back
    to the incident page saying what happened (or why it was refused). A change returning
    Done says more than `done` or sends the browser to another incident."""
    form = await request.form()
    check_csrf(request, form)
    try:
        _visible(request, incident_id, right)
    except NotFound:
        raise Forbidden(right) from None
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    account = request.state.account
    console = request.app.state.console
    go_to = incident_id
    try:
        result = change(console, values, account.name)
        console.board_cache.changed()
        flash: dict[str, Any] = {"ok": True, "text": done}
        if isinstance(result, Done):
            flash.update(text=result.text, link=result.link)
            go_to = result.go_to or incident_id
        request.session["flash"] = flash
    except (IncidentError, ValueError) as exc:
        request.session["flash"] = {"ok": False, "text": str(exc.args[0] if exc.args else exc)}
    return RedirectResponse(f"/incidents/{go_to}", status_code=303)


@router.post("/incidents/{incident_id}/ack")
async def acknowledge(request: Request, incident_id: int) -> Response:
    return await _act(request, incident_id, "act", lambda c, f, by: actions.acknowledge(
        c.incidents, incident_id, by, utcnow(), f.get("note", ""), VIA), "已签收")


@router.post("/incidents/{incident_id}/track")
async def track(request: Request, incident_id: int) -> Response:
    return await _act(request, incident_id, "act", lambda c, f, by: actions.track(
        c.incidents, incident_id, f.get("track", ""), f.get("step", ""), by, utcnow(),
        unit=f.get("unit") or None, note=f.get("note", ""), via=VIA), "三同步已记录")


@router.post("/incidents/{incident_id}/statement")
async def statement(request: Request, incident_id: int) -> Response:
    def record(c, f, by):
        url = f.get("url") or None
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("通报链接须以 http:// 或 https:// 开头")
        now = utcnow()
        at = parse_until(f["at"], now) if f.get("at") else now
        if actions.record_statement(c.incidents, incident_id, at, by, url=url,
                                    note=f.get("note", ""), via=VIA) is None:
            raise IncidentError("官方通报和进展通报都已记录")

    return await _act(request, incident_id, "act", record, "官方通报已记录")


@router.post("/incidents/{incident_id}/level")
async def level(request: Request, incident_id: int) -> Response:
    def change(c, f, by):
        try:
            to = int(f.get("level", ""))
        except ValueError:
            raise ValueError("请选择预警级别") from None
        actions.change_level(c.incidents, incident_id, to, by, utcnow(), f.get("reason", ""),
                             VIA)

    return await _act(request, incident_id, "level", change, "预警级别已调整")


@router.post("/incidents/{incident_id}/resolve")
async def resolve(request: Request, incident_id: int) -> Response:
    return await _act(request, incident_id, "act", lambda c, f, by: actions.resolve(
        c.incidents, c.desk, incident_id, by, utcnow(), f.get("note", ""), VIA), "已标记处置完毕")


@router.post("/incidents/{incident_id}/close")
async def close(request: Request, incident_id: int) -> Response:
    return await _act(request, incident_id, "close", lambda c, f, by: actions.close(
        c.incidents, incident_id, by, utcnow(), f.get("note", ""), VIA), "事件已关闭")


@router.post("/incidents/{incident_id}/silence")
async def silence(request: Request, incident_id: int) -> Response:
    def add(c, f, by):
        now = utcnow()
        incident = c.incidents.get(incident_id)
        actions.silence(c.incidents, incident.fingerprint, parse_until(f.get("until", ""), now),
                        by, now, f.get("reason", ""))

    return await _act(request, incident_id, "act", add, "同类告警已静默（仍记录，不通知）")


def _number(text: str, what: str) -> int:
    try:
        number = int(text.strip().lstrip("#＃"))
    except ValueError:
        raise IncidentError(f"请填写{what}的编号（数字，如 12），而不是“{text[:20]}”") from None
    if number <= 0:
        raise IncidentError(f"请填写{what}的编号（正整数）")
    return number


@router.post("/incidents/{incident_id}/merge")
async def merge(request: Request, incident_id: int) -> Response:
    """Two incidents are one happening: the same actions.merge as `jingyu alerts merge`. The
    earlier number carries on; the browser goes to it."""
    def join(c, f, by):
        other = _number(f.get("other", ""), "另一事件")
        if other == incident_id:
            raise IncidentError(f"#{other} 就是本事件，不能与自身合并")
        this = c.incidents.get(incident_id)
        try:
            that = _visible(request, other, "act")
        except NotFound:
            raise IncidentError(f"没有编号为 {other} 的事件，或不在您的辖区") from None
        for i in (this, that):
            if i.merged_into is not None:
                raise IncidentError(f"#{i.id} 已并入 #{i.merged_into}，请对 #{i.merged_into} "
                                    f"操作")
        kept = actions.merge(c.incidents, incident_id, other, by, utcnow(),
                             f.get("note", ""), VIA)
        return Done(f"已合并：#{max(incident_id, other)} 并入 #{kept.id}（保留较早的编号）",
                    kept.id)

    return await _act(request, incident_id, "act", join, "已合并")


@router.post("/incidents/{incident_id}/split")
async def split(request: Request, incident_id: int) -> Response:
    """Posts ticked on the page that are another happening become a new incident: the same
    actions.split as `jingyu alerts split`. The browser stays on this incident, whose flash
    links the new one."""
    form = await request.form()
    ticked = [str(v) for v in form.getlist("post")]

    def off(c, f, by):
        this = c.incidents.get(incident_id)
        if this.merged_into is not None:
            raise IncidentError(f"本事件已并入 #{this.merged_into}，请在 #{this.merged_into} "
                                f"上拆分")
        if not ticked:
            raise IncidentError("请先勾选要拆分出去的帖子")
        try:
            post_ids = sorted({int(t) for t in ticked})
        except ValueError:
            raise IncidentError("所选帖子编号无效，请刷新页面后重试") from None
        allowed = splittable(c, this, post_ids)
        outside = [p for p in post_ids if p not in allowed]
        if outside:
            raise IncidentError("帖子 " + "、".join(map(str, outside)) + " 不属于本事件跟随的"
                                "舆情事件，不能从本事件拆分")
        try:
            new = actions.split(c.incidents, incident_id, post_ids, by, utcnow(),
                                f.get("note", ""), VIA)
        except NoSuchIncident:
            raise IncidentError("所选帖子已不在本事件中（可能刚被他人拆分），请刷新页面") from None
        return Done(f"已拆分：{len(post_ids)} 条帖子成为新事件 #{new.id}", link=new.id)

    return await _act(request, incident_id, "act", off, "已拆分")


@router.get("/incidents/{incident_id}/report", response_class=HTMLResponse)
def report(request: Request, incident_id: int) -> Response:
    """The incident's 专报 (reports.incident, as `jingyu report incident N`), to print or save."""
    from console.patrol import REPORT_CSP
    from reports.incident import build_incident_report
    from reports.render import to_html

    try:
        incident = _visible(request, incident_id)
    except NotFound:
        return _not_found(request, incident_id)
    console = request.app.state.console
    document = build_incident_report(console.warehouse, incident.id, labels=console.labels,
                                     timers=console.desk.routing.timers, now=utcnow())
    return HTMLResponse(to_html(document), headers={"Content-Security-Policy": REPORT_CSP})
