"""What pages share: the template environment (autoescaped), labels, times as people read
them."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from alerts.incidents.incident import Status, Track
from alerts.levels import LEVELS
from console.accounts import Role
from jingyu.display import clean_text
from jingyu.timeutil import local_minute, shanghai

TEMPLATES = Path(__file__).resolve().parent / "templates"

ACTION_NAMES = {
    "opened": "立案", "acknowledged": "签收", "track_start": "启动", "track_done": "完成",
    "track_note": "备注", "official_statement": "首次官方发声", "official_progress": "进展通报",
    "level_raised": "升级", "level_lowered": "降级", "resolved": "处置完毕", "closed": "关闭",
    "reopened": "重新打开", "escalated": "超时上报", "renotified": "再次提醒",
    "notification_silenced": "通知被静默", "alert_updated": "告警更新",
    "merged_in": "合并（并入他案）", "merged_into": "被合并", "split": "拆分出新事件",
    "split_from": "拆分自",
}


def local(value: datetime | None) -> str:
    return local_minute(value) if value is not None else "—"


def clock(value: datetime | None) -> str:
    """Today's times as HH:MM, others with the date."""
    if value is None:
        return "—"
    return shanghai(value).strftime("%m-%d %H:%M")


def stamp(value: object) -> str:
    """A time kept as ISO text in a JSON column (evidence), as people read it."""
    if isinstance(value, datetime):
        return local(value)
    try:
        return local(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value or "—")


def span(delta: timedelta) -> str:
    """A duration as duty staff say it: 12分, 3小时05分, 2天4小时."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes:02d}分"
    return f"{minutes}分"


def shown(value: Any) -> Any:
    """Every value a page prints ({{ … }}), before it is escaped: text without control
    characters, escape sequences, bidi overrides or zero-width characters
    (jingyu.display.clean_text), so a post's title cannot reorder or hide what duty staff
    read. Markup (the templates' own, tojson) is left as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean_text(value)
    return value


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      finalize=shown)
    env.filters.update(local=local, clock=clock, span=span, stamp=stamp,
                       role_label=lambda role: Role(role).label)
    env.globals.update(LEVELS=LEVELS, STATUS=Status, TRACK=Track, ACTION_NAMES=ACTION_NAMES)
    return env


ENV = _environment()


def render(request: Request, template: str, status_code: int = 200, **context: Any
           ) -> HTMLResponse:
    """A page; every page knows who is logged in (or nobody) and the form token."""
    from console.auth import csrf_token, current_or_none, may_map

    account = current_or_none(request)
    page = ENV.get_template(template).render(
        request=request, me=account, can=may_map(account), csrf=csrf_token(request),
        **context)
    return HTMLResponse(page, status_code=status_code)
