"""The one-tap pages: what a 签收 or 查看 button of a robot message opens on a phone.

GET /t/<token> shows the incident and, for a 签收 link while the incident waits for it, ONE
confirm button; only the POST of that button acknowledges — chat apps fetch links to preview
them, and a preview must not sign for anyone. No login: the signed token (console.links) is
the credential, and it is CSRF-safe by construction (another site cannot know it). The
acknowledgement is the same domain operation as `jingyu alerts ack`
(alerts.incidents.actions.acknowledge), recorded as the link's recipient with "via" naming
the link; each 签收 link acts once (warehouse.links). A tampered, expired or used link gets a
page that says so in Chinese, and what to do instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from alerts.incidents import actions
from alerts.incidents.incident import IncidentError
from alerts.incidents.timers import STATUS_NAMES
from alerts.levels import LEVELS
from console.links import ACK, LinkRefused, LinkSigner, TapLink, links_for
from console.views import shown
from jingyu.display import one_line, safe_link
from jingyu.timeutil import local_minute, utcnow
from warehouse.incidents import NoSuchIncident
from warehouse.links import LinkLedger
from warehouse.records import IncidentState

router = APIRouter()
_templates = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True),
                         finalize=shown)
EVIDENCE_SHOWN = 5
# Pages with a signed token in their address: never cached, framed or handed on as referrer.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "X-Robots-Tag": "noindex",
           "Content-Security-Policy": "default-src 'self'; script-src 'none'; "
                                      "style-src 'self'; img-src 'self' data:; "
                                      "form-action 'self'; frame-ancestors 'none'; "
                                      "base-uri 'none'; object-src 'none'"}
REFUSALS = {
    "tampered": (403, "链接无效", "这个链接的签名不符，可能被改动过或不完整。",
                 "请从值班群的原消息重新打开，或登录值班台签收。"),
    "unknown": (403, "链接无效", "这不是警舆发出的链接。", "请从值班群的原消息重新打开，或登录值班台签收。"),
    "expired": (410, "链接已过期", "为安全起见，签收链接只在发出后的一段时间内有效。",
                "请使用最新消息中的链接，或登录值班台签收。"),
    "used": (410, "链接已使用过", "每个签收链接只能使用一次。",
             "如需查看事件，请登录值班台，或使用消息中的“查看详情”。"),
    "disabled": (403, "账号已停用", "链接所属人员的值班台账号已被停用。", "请联系值班长或管理员。"),
    "missing": (404, "事件不存在", "链接指向的事件在系统中找不到（可能已归档）。", "请登录值班台查看。"),
}


@dataclass(frozen=True)
class Summary:
    """What the phone page shows of an incident (post text escaped by the template)."""

    id: int
    title: str
    level: int
    level_text: str
    colour: str
    place: str
    opened: str
    status: str
    status_text: str
    acknowledged: str          # "李四 03:12", or ""
    reason: str
    evidence: list[dict[str, str]]


def _signer(request: Request, now: datetime) -> LinkSigner:
    """The console's signer: the same key the delivery signed with (see console.links)."""
    console = request.app.state.console
    signer = getattr(request.app.state, "link_signer", None)
    if signer is not None:
        return signer
    settings = console.desk.settings.console
    signer = links_for(console.warehouse, settings.base_url or str(request.base_url),
                       settings.link_hours, settings.secret_env, now)
    assert signer is not None
    request.app.state.link_signer = signer
    return signer


def _summary(request: Request, incident: IncidentState) -> Summary:
    console = request.app.state.console
    info = LEVELS.get(incident.level, LEVELS[4])
    namer = getattr(console, "jurisdiction_name", None)
    place = namer(incident.jurisdiction) if namer else (incident.jurisdiction or "全市")
    try:
        alert = console.incidents.alert(incident.alert_id)
    except NoSuchIncident:
        alert = {"reason": "", "evidence": []}
    evidence = []
    for item in list(alert.get("evidence") or [])[:EVIDENCE_SHOWN]:
        if not isinstance(item, dict):
            continue
        evidence.append({"title": one_line(item.get("title") or "（无标题）"),
                         "url": safe_link(item.get("url")) or "",
                         "source": one_line(item.get("source_id") or "")})
    acknowledged = ""
    if incident.acknowledged_at is not None:
        acknowledged = f"{incident.acknowledged_by or ''} {local_minute(incident.acknowledged_at)}"
    return Summary(id=incident.id, title=one_line(incident.title), level=incident.level,
                   level_text=f"{info['roman']}级 {info['colour_zh']}预警",
                   colour=str(info["colour"]), place=place,
                   opened=local_minute(incident.opened_at), status=str(incident.status),
                   status_text=STATUS_NAMES.get(str(incident.status), str(incident.status)),
                   acknowledged=acknowledged.strip(), reason=one_line(alert.get("reason") or ""),
                   evidence=evidence)


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _refused(reason: str, link: TapLink | None = None, detail: str = "") -> HTMLResponse:
    status, title, why, what = REFUSALS[reason]
    return _page("tap_refused.html", status, reason=reason, title=title, why=why, what=what,
                 detail=detail, link=link)


def _read(request: Request, token: str, now: datetime) -> TapLink | HTMLResponse:
    try:
        return _signer(request, now).read(token, now)
    except LinkRefused as refused:
        return _refused(refused.reason)


@router.get("/t/{token}", response_class=HTMLResponse)
def tap_page(request: Request, token: str) -> HTMLResponse:
    now = utcnow()
    link = _read(request, token, now)
    if isinstance(link, HTMLResponse):
        return link
    console = request.app.state.console
    try:
        incident = console.incidents.get(link.incident_id)
    except NoSuchIncident:
        return _refused("missing", link)
    if link.action == ACK:
        used = LinkLedger(console.warehouse).used(link.link_id)
        if used is not None:
            return _refused("used", link, f"已于 {local_minute(used.used_at)} 由 "
                                          f"{used.recipient} 使用。")
    return _page("tap.html", link=link, incident=_summary(request, incident),
                 can_ack=link.action == ACK and incident.status == "new",
                 expires=local_minute(link.expires_at), done=False)


@router.post("/t/{token}", response_class=HTMLResponse)
def tap_confirm(request: Request, token: str) -> HTMLResponse:
    now = utcnow()
    link = _read(request, token, now)
    if isinstance(link, HTMLResponse):
        return link
    if link.action != ACK:
        return _refused("unknown", link)
    console = request.app.state.console
    try:
        incident = console.incidents.get(link.incident_id)
    except NoSuchIncident:
        return _refused("missing", link)
    # The recipient is a roster person; where a console account has their name, it is them,
    # and a disabled account no longer signs for anything.
    accounts = getattr(console, "accounts", None)
    account = accounts.get(link.recipient) if accounts is not None else None
    if account is not None and account.disabled:
        return _refused("disabled", link)
    # Spent before acting, in its own transaction: of two taps at once only one gets here.
    if LinkLedger(console.warehouse).spend(link.link_id, link.incident_id, link.recipient,
                                           link.action, now) is None:
        used = LinkLedger(console.warehouse).used(link.link_id)
        return _refused("used", link, f"已于 {local_minute(used.used_at)} 由 "
                                      f"{used.recipient} 使用。" if used else "")
    error = ""
    try:
        incident = actions.acknowledge(console.incidents, link.incident_id, link.recipient, now,
                                       via=f"一键签收链接 {link.link_id}")
    except IncidentError:
        incident = console.incidents.get(link.incident_id)
        error = "本事件已签收，无需再签。"
    return _page("tap.html", link=link, incident=_summary(request, incident), can_ack=False,
                 expires=local_minute(link.expires_at), done=not error, error=error)

