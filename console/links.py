"""Signed one-tap links: one incident, one recipient, one action (签收 or 查看), an expiry.

The robot messages carry them as buttons (alerts.delivery.buttons); console.tap serves them.
The token is the credential — a duty officer at 3 a.m. taps 签收 on the phone without logging
in — so it is signed with itsdangerous (HMAC-SHA256 over the JSON payload) under a key that is
never in the repository: $JINGYU_LINK_SECRET (or the variable alerts.yaml console.secret_env
names), else a random key the warehouse makes on first use and every process of that warehouse
(monitor, watchdog, console) reads. The expiry is inside the signed payload, so a link cannot
be stretched; each link has its own id, which an action link spends once (warehouse.links).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

ACK, VIEW = "ack", "view"
ACTIONS = (ACK, VIEW)
DEFAULT_LIFETIME = timedelta(hours=2)
SALT = "jingyu.one-tap-link.v1"
PATH = "/t/"                 # where console.tap serves the links
WAREHOUSE_KEY = "links"            # warehouse.accounts secrets table
SECRET_ENV = "JINGYU_LINK_SECRET"
MIN_SECRET_LENGTH = 32


class LinkRefused(ValueError):
    """A link that must not be honoured; `reason` is tampered | expired | unknown."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class TapLink:
    """What a valid token says."""

    link_id: str            # 16 hex digits: spent once for an action link
    incident_id: int
    recipient: str          # the roster name the link was sent to ("" for a group's 查看)
    action: str             # ack | view
    expires_at: datetime    # aware UTC


class LinkSigner:
    """Makes and reads the tokens of one key; `url` gives the address a button opens."""

    def __init__(self, secret: str, base_url: str = "", lifetime: timedelta = DEFAULT_LIFETIME
                 ) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"a link key needs at least {MIN_SECRET_LENGTH} characters")
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.base_url = base_url.rstrip("/")
        self.lifetime = lifetime

    def token(self, incident_id: int, recipient: str, action: str, now: datetime) -> str:
        if action not in ACTIONS:
            raise ValueError(f"unknown link action {action!r}: use {' or '.join(ACTIONS)}")
        if action == ACK and not recipient:
            raise ValueError("a 签收 link must name its recipient")
        expires = int((now + self.lifetime).timestamp())
        return self._serializer.dumps({"i": int(incident_id), "r": recipient, "a": action,
                                       "x": expires, "n": secrets.token_hex(8)})

    def url(self, incident_id: int, recipient: str, action: str, now: datetime) -> str:
        return f"{self.base_url}{PATH}{self.token(incident_id, recipient, action, now)}"

    def read(self, token: str, now: datetime) -> TapLink:
        """The link a token names; LinkRefused if it was altered, is not ours or expired."""
        try:
            data: Any = self._serializer.loads(token)
        except BadSignature:
            raise LinkRefused("tampered", "the signature does not match") from None
        if not (isinstance(data, dict) and isinstance(data.get("i"), int)
                and isinstance(data.get("r"), str) and data.get("a") in ACTIONS
                and isinstance(data.get("x"), int) and isinstance(data.get("n"), str)):
            raise LinkRefused("unknown", "the signed payload is not a jingyu link")
        link = TapLink(link_id=data["n"], incident_id=data["i"], recipient=data["r"],
                       action=data["a"],
                       expires_at=datetime.fromtimestamp(data["x"], tz=timezone.utc))
        if now >= link.expires_at:
            raise LinkRefused("expired", f"expired at {link.expires_at.isoformat()}")
        return link


def link_secret(warehouse_key: Any, env: str | None = None) -> str:
    """The key links are signed with: the environment variable `env` (default
    $JINGYU_LINK_SECRET) when set, else `warehouse_key()` — the warehouse's own key, made at
    random the first time (the demo's key is made this way)."""
    value = os.environ.get(env or SECRET_ENV, "")
    if value:
        if len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"${env or SECRET_ENV} is shorter than {MIN_SECRET_LENGTH} "
                             "characters (fix: python -c 'import secrets; "
                             "print(secrets.token_urlsafe(48))')")
        return value
    return str(warehouse_key())


def links_for(warehouse: Any, base_url: str | None, link_hours: float,
              secret_env: str | None, now: datetime) -> LinkSigner | None:
    """The signer the delivery of this warehouse uses (alerts.yaml console.*): None when no
    console address is configured, and messages then carry no links."""
    if not base_url:
        return None
    from warehouse.accounts import AccountStore

    secret = link_secret(lambda: AccountStore(warehouse).secret(WAREHOUSE_KEY, now),
                         secret_env)
    return LinkSigner(secret, base_url, timedelta(hours=link_hours))
