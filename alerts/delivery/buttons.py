"""签收 and 查看 buttons: signed one-tap links added to a notification when it is sent.

A link names one incident, one recipient and one action, and expires (console.links signs
them; this module only asks a LinkMaker for URLs, so alerts/ never imports the console). The
links are made at delivery, not when the alert is queued: a link's two hours start when the
message goes out, and the outbox never stores a credential. Each routed recipient gets their
own 签收 button (the acknowledgement is recorded as them); one 查看 button opens the incident.
Labels and URLs are written by jingyu, never taken from post text. Channels with buttons
(DingTalk actionCard, Feishu card, WeCom template_card) render payload["buttons"]; the others
read the same links at the end of payload["text"], and e-mail in its HTML too.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

ACK, VIEW = "ack", "view"
MAX_ACK_BUTTONS = 4          # a group message for a whole unit still fits a phone screen
VIEW_LABEL = "查看详情"


class LinkMaker(Protocol):
    """Makes the signed URL of one link (console.links.LinkSigner satisfies it)."""

    def url(self, incident_id: int, recipient: str, action: str, now: datetime) -> str: ...


@dataclass(frozen=True)
class Button:
    action: str          # ack | view
    label: str           # shown on the button: 签收（张三） / 查看详情
    url: str             # http(s), signed
    recipient: str


def recipient_names(payload: Mapping[str, Any]) -> list[str]:
    """The names of the routed recipients, each once, in order."""
    names: list[str] = []
    recipients = payload.get("recipients")
    for recipient in recipients if isinstance(recipients, list) else ():
        name = recipient.get("name") if isinstance(recipient, Mapping) else None
        if isinstance(name, str) and name.strip() and name.strip() not in names:
            names.append(name.strip())
    return names


def with_buttons(payload: Mapping[str, Any], incident_id: int, links: LinkMaker,
                 now: datetime, *, awaiting_ack: bool) -> dict[str, Any]:
    """The payload with its buttons (payload["buttons"]) and the same links in its text.

    `awaiting_ack`: the incident is still 待签收; otherwise only 查看 is offered.
    """
    names = recipient_names(payload)
    buttons: list[Button] = []
    if awaiting_ack:
        for name in names[:MAX_ACK_BUTTONS]:
            label = f"签收（{name}）" if len(names) > 1 else "签收"
            buttons.append(Button(ACK, label, links.url(incident_id, name, ACK, now), name))
    viewer = names[0] if names else ""
    buttons.append(Button(VIEW, VIEW_LABEL, links.url(incident_id, viewer, VIEW, now), viewer))
    lines = [f"{b.label}：{b.url}" for b in buttons]
    text = str(payload.get("text") or payload.get("title") or "")
    return {**payload, "buttons": [b.__dict__ for b in buttons],
            "text": "\n".join([text, *lines]) if text else "\n".join(lines)}


def buttons_of(payload: Mapping[str, Any]) -> list[Button]:
    """The buttons a payload carries (only well-formed ones with an http(s) URL)."""
    found: list[Button] = []
    raw = payload.get("buttons")
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, Mapping):
            continue
        action, label, url = item.get("action"), item.get("label"), item.get("url")
        if (action in (ACK, VIEW) and isinstance(label, str) and isinstance(url, str)
                and url.startswith(("http://", "https://"))):
            found.append(Button(action, label, url, str(item.get("recipient") or "")))
    return found


def ack_buttons(buttons: Sequence[Button]) -> list[Button]:
    return [b for b in buttons if b.action == ACK]
