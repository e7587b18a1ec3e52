"""Render an Alert as the notification payload every channel sends (phone text and markdown).

Titles, reasons and links carry post text written by strangers: the text is cleaned to one
line (no forged lines), the markdown escapes it with jingyu.display.chat_markdown (no forged
heading, link, tag or mention in any platform's syntax), and the only links are http(s) ones
whose label jingyu writes ("原文")."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerts.detection.records import Alert, Evidence
from alerts.levels import LEVELS, level_label
from jingyu.display import chat_markdown, one_line, safe_link
from jingyu.timeutil import local_minute

NOTIFIED_EVIDENCE_LIMIT = 5        # a phone screen; the full list stays in payload["alert"]


def render_notification(alert: Alert, alert_id: int) -> dict[str, Any]:
    """The outbox payload: title, text, markdown, level and a JSON-safe copy of the alert."""
    title = f"{level_badge(alert.level)}{one_line(alert.title)}"
    return {
        "title": title,
        "text": _text(alert, alert_id, title),
        "markdown": _markdown(alert, alert_id, title),
        "level": alert.level,
        "alert": alert_document(alert, alert_id),
    }


def level_badge(level: int) -> str:
    """The bracketed label duty staff read first, e.g. 【III级 黄色预警】."""
    info = LEVELS[level]
    return f"【{info['roman']}级 {info['colour_zh']}预警】"


def alert_document(alert: Alert, alert_id: int) -> dict[str, Any]:
    """The alert as plain JSON types (ISO-8601 times), for receivers that process it further."""
    return {
        "id": alert_id,
        "fingerprint": alert.fingerprint,
        "kind": alert.kind,
        "level": alert.level,
        "level_label": level_label(alert.level),
        "title": alert.title,
        "reason": alert.reason,
        "jurisdiction": alert.jurisdiction,
        "detected_at": alert.detected_at.isoformat(),
        "evidence": [
            {
                "post_id": e.post_id,
                "url": e.url,
                "title": e.title,
                "source_id": e.source_id,
                "published_at": e.published_at.isoformat() if e.published_at else None,
            }
            for e in alert.evidence
        ],
    }


def _jurisdiction(alert: Alert) -> str:
    return alert.jurisdiction or "未指定辖区"


def _more(alert: Alert) -> str:
    hidden = len(alert.evidence) - NOTIFIED_EVIDENCE_LIMIT
    return f"另有 {hidden} 条，见系统" if hidden > 0 else ""


def _text(alert: Alert, alert_id: int, title: str) -> str:
    lines = [title, one_line(alert.reason),
             f"辖区：{one_line(_jurisdiction(alert))}",
             f"时间：{local_minute(alert.detected_at)}"]
    if alert.evidence:
        lines.append(f"相关信息（共 {len(alert.evidence)} 条）：")
        for number, evidence in enumerate(alert.evidence[:NOTIFIED_EVIDENCE_LIMIT], start=1):
            lines.append(f"{number}. {one_line(evidence.title)}")
            link = safe_link(evidence.url)
            if link:
                lines.append(f"   {link}")
        if _more(alert):
            lines.append(_more(alert))
    lines.append(f"告警编号：{alert_id}")
    return "\n".join(lines)


def _markdown(alert: Alert, alert_id: int, title: str) -> str:
    lines = [f"### {chat_markdown(title)}", "", chat_markdown(alert.reason), "",
             f"- **辖区**：{chat_markdown(_jurisdiction(alert))}",
             f"- **时间**：{local_minute(alert.detected_at)}",
             f"- **告警编号**：{alert_id}"]
    if alert.evidence:
        lines += ["", f"**相关信息**（共 {len(alert.evidence)} 条）：", ""]
        for number, evidence in enumerate(alert.evidence[:NOTIFIED_EVIDENCE_LIMIT], start=1):
            lines.append(f"{number}. {_evidence_line(evidence)}")
        if _more(alert):
            lines += ["", _more(alert)]
    return "\n".join(lines)


def _evidence_line(evidence: Evidence) -> str:
    """The post's title as inert text, then a link labelled by jingyu: a title of the
    attacker's choosing never becomes the label of a link."""
    link = safe_link(evidence.url)
    line = chat_markdown(evidence.title) + (f" [原文]({link})" if link else "")
    line += f" — {chat_markdown(evidence.source_id)}"
    if evidence.published_at:
        line += f" · {local_minute(evidence.published_at)}"
    return line


# ---- 系统告警: source and pipeline health, for the operators -----------------------------

HEALTH_BADGE = "【系统告警】"
HEALTH_RECOVERED_BADGE = "【系统告警·已恢复】"
# Every health message says what it is not (and so carries 预警, the keyword a DingTalk robot
# with 自定义关键词 may require).
HEALTH_FOOTER = "系统告警：运维处理，不分预警等级，不列入值班事件"
NO_OPERATORS = ("未配置运维接收渠道：本条系统告警暂发往接收全部预警的值班渠道；"
                "请在 alerts.yaml 中添加 audience: operators 的渠道")


def render_health(alert: Any, alert_id: int, *, recovered_at: Any = None,
                  fallback: bool = False, operators: Sequence[Any] = ()) -> dict[str, Any]:
    """The outbox payload of a 系统告警 (alerts.incidents.watchdog.HealthAlert), or of its
    recovery when `recovered_at` is given: no level, no colour, its own badge and wording.
    `operators`: the routing Recipients on duty in units with the role operations (运维);
    they are named, and the robots @-mention them as they do duty staff. Texts of errors
    (which may quote what a remote server answered) are escaped as post text is."""
    badge = HEALTH_RECOVERED_BADGE if recovered_at is not None else HEALTH_BADGE
    title = f"{badge}{one_line(alert.title)}"
    facts = [f"范围：{one_line(alert.jurisdiction or '全局')}",
             f"发现：{local_minute(alert.detected_at)}"]
    if recovered_at is not None:
        facts.append(f"恢复：{local_minute(recovered_at)}")
    facts.append(f"系统告警编号：{alert_id}")
    if operators:
        facts.append("运维值班：" + "、".join(one_line(f"{r.name}（{r.unit}）")
                                          for r in operators))
    what = ("已恢复正常。原告警：" if recovered_at is not None else "") + one_line(alert.reason)
    notes = [HEALTH_FOOTER] + ([NO_OPERATORS] if fallback else [])
    return {
        "title": title,
        "text": "\n".join([title, what, *facts, *notes]),
        "markdown": "\n".join([f"### {chat_markdown(title)}", "", chat_markdown(what), "",
                               *(f"- {chat_markdown(line)}" for line in facts), "",
                               *(f"> {chat_markdown(line)}" for line in notes)]),
        "level": None,
        "kind": "health",
        "audience": "operators",
        "recipients": [r.document() for r in operators],
        "notice": "health_recovered" if recovered_at is not None else "health",
        "health": {
            "id": alert_id, "fingerprint": alert.fingerprint, "title": alert.title,
            "reason": alert.reason, "jurisdiction": alert.jurisdiction,
            "detected_at": alert.detected_at.isoformat(),
            "recovered_at": recovered_at.isoformat() if recovered_at is not None else None,
            "fallback_to_duty": fallback,
        },
    }
