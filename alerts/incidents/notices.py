"""Render incident notices (reminder, escalation, resolved, level risen with the event) as
outbox payloads."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerts.delivery.render import level_badge
from alerts.incidents.routing import Route
from alerts.incidents.timers import STATUS_NAMES
from alerts.levels import level_label
from jingyu.display import chat_markdown, one_line
from jingyu.timeutil import local_minute
from warehouse.records import IncidentState

REMINDER, ESCALATION, RESOLVED = "reminder", "escalation", "resolved"
LEVEL_RISEN = "level_risen"
_HEADINGS = {REMINDER: "【未签收提醒】", ESCALATION: "【超时升级·请带班领导督办】",
             RESOLVED: "【已处置】", LEVEL_RISEN: "【级别上升】"}


def ack_hint(incident_id: int, ack_minutes: int | None = None) -> str:
    """The deadline and how to meet it without the message's buttons (the CLI)."""
    deadline = f"{ack_minutes} 分钟内签收" if ack_minutes else "请尽快签收"
    return f"{deadline}（命令行：jingyu alerts ack {incident_id} --by 姓名）"


def render_incident_notice(incident: IncidentState, notice: str, lines: Sequence[str],
                           route: Route) -> dict[str, Any]:
    """Payload of the same shape as render_notification's, plus who it is meant for."""
    # The incident's title is a post's title, the note of a resolution is typed by a person:
    # one line each in the text, inert in the markdown (jingyu.display), as for alerts.
    title = f"{_HEADINGS[notice]}{level_badge(incident.level)}{one_line(incident.title)}"
    body = [*(one_line(line) for line in lines),
            f"辖区：{one_line(incident.jurisdiction or '未指定辖区')}",
            f"首次发现：{local_minute(incident.opened_at)}",
            f"状态：{STATUS_NAMES.get(incident.status, incident.status)}"]
    if route.recipients:
        body.append(one_line("通知：" + "、".join(f"{r.name}（{r.unit}）"
                                                 for r in route.recipients)))
    if notice != RESOLVED and incident.status == "new":
        body.append(ack_hint(incident.id))     # a reminder or escalation: past the deadline
    body.append(f"告警编号：{incident.id}")
    return {
        "title": title,
        "text": "\n".join([title, *body]),
        "markdown": "\n".join([f"### {chat_markdown(title)}", "",
                               *(f"- {chat_markdown(line)}" for line in body)]),
        "level": incident.level,
        "notice": notice,
        "incident": {"id": incident.id, "fingerprint": incident.fingerprint,
                     "level": incident.level, "level_label": level_label(incident.level),
                     "title": incident.title, "status": incident.status,
                     "jurisdiction": incident.jurisdiction,
                     "opened_at": incident.opened_at.isoformat()},
        "recipients": [r.document() for r in route.recipients],
    }
