"""Email channel: one mail per notification through an SMTP server (smtplib).

Subject = the payload title (level badge first); a plain-text body (the payload text) with an
HTML alternative rendered from the payload markdown. Post titles come from the internet, so
every piece of text is HTML-escaped before the few markdown forms we use are turned into tags,
and only http(s) links become anchors. The outbox idempotency key travels in the
X-Jingyu-Idempotency-Key header, and the Message-ID is derived from it, so a redelivery after a
crash carries the same Message-ID and mail systems can recognise the duplicate.
"""
from __future__ import annotations

import hashlib
import html
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from alerts.delivery.buttons import buttons_of
from alerts.delivery.channel_secrets import MissingSecret, redact_text, resolve_secret
from alerts.delivery.channels import Channel, DeliveryError
from alerts.channel_options import EmailOptions
from jingyu.display import clean_text, excerpt, one_line
from warehouse.records import OutboxMessage

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "X-Jingyu-Idempotency-Key"


class EmailChannel(Channel):
    """Send each notification as a multipart/alternative mail (text + HTML)."""

    def __init__(self, name: str, host: str, sender: str, to: Sequence[str], *,
                 port: int | None = None, security: str = "starttls",
                 username: str | None = None, password: str | None = None,
                 password_env: str | None = None, password_block: str | None = None,
                 timeout_seconds: float = 10.0,
                 ssl_context: ssl.SSLContext | None = None,
                 allow_plaintext_login: bool = False) -> None:
        super().__init__(name)
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"security must be starttls, ssl or none, got {security!r}")
        if security == "none" and username and not allow_plaintext_login:
            # The password would cross the network in clear: only when the operator says so.
            raise ValueError(f"email {name}: security none would send the SMTP password "
                             "unencrypted; use starttls or ssl (or allow_plaintext_login)")
        if not to:
            raise ValueError("an email channel needs at least one recipient")
        self.host = host
        self.port = port or {"ssl": 465, "starttls": 587, "none": 25}[security]
        self.security = security
        self.sender = sender
        self.to = tuple(to)
        self.username = username
        self._password, self._password_env, self._password_block = (password, password_env,
                                                                    password_block)
        self.timeout_seconds = timeout_seconds
        self.ssl_context = ssl_context

    @property
    def prefix(self) -> str:
        return f"email {self.name} (smtp {self.host}:{self.port})"

    def send(self, message: OutboxMessage) -> None:
        password = None
        if self.username:
            try:
                password = resolve_secret("SMTP password", env=self._password_env,
                                          block=self._password_block, literal=self._password)
            except MissingSecret as exc:
                raise DeliveryError(f"{self.prefix}: {exc}") from None
        mail = build_mail(message, self.sender, self.to)
        secrets = [password] if password else []
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, password or "")
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{self.prefix}: login as {self.username!r} refused "
                                f"({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"{self.prefix}: every recipient refused: "
                                f"{', '.join(sorted(exc.recipients))}") from None
        except (smtplib.SMTPException, OSError) as exc:
            # OSError covers refused connections, timeouts and TLS failures.
            raise DeliveryError(f"{self.prefix}: {type(exc).__name__}: "
                                f"{excerpt(redact_text(str(exc), secrets))}") from None
        if refused:
            # Some recipients have it: sending again would duplicate it for them.
            logger.warning("%s: alert %s not accepted for %s", self.prefix, message.alert_id,
                           ", ".join(sorted(refused)))

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_seconds,
                                    context=self.ssl_context or ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        try:
            if self.security == "starttls":
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
        return smtp


def build_mail(message: OutboxMessage, sender: str, to: Sequence[str]) -> EmailMessage:
    """The mail for one outbox message: subject, text body, HTML alternative, headers."""
    payload = message.payload
    title = one_line(payload.get("title") or "警舆预警")   # no header injection
    text = clean_text(payload.get("text") or title)
    markdown = str(payload.get("markdown") or "")
    buttons = buttons_of(payload)
    if markdown and buttons:
        # The same signed links as the robots' buttons (the text body has them already).
        markdown += "\n\n" + "\n".join(
            f"- [{b.label.replace('[', '［').replace(']', '］')}]({b.url})" for b in buttons)
    mail = EmailMessage()
    mail["Subject"] = title
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id(message.idempotency_key, sender)
    mail[IDEMPOTENCY_HEADER] = message.idempotency_key
    mail.set_content(text)
    if markdown:
        mail.add_alternative(markdown_to_html(markdown, title), subtype="html")
    return mail


def message_id(idempotency_key: str, sender: str) -> str:
    """A stable Message-ID for the key: the same notification always gets the same one."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    domain = sender.rsplit("@", 1)[-1].strip("<> ") or "jingyu.invalid"
    return f"<{digest}.jingyu@{domain}>"


_LINK = re.compile(r"\[([^\[\]]*)\]\(([^()\s]*)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ORDERED = re.compile(r"^\d+\.\s+")


def _inline(text: str) -> str:
    """Escape, then turn **bold** and [label](http…) into tags (links only for http/https)."""
    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), html.unescape(match.group(2))
        if not url.startswith(("http://", "https://")):
            return match.group(0)
        return f'<a href="{html.escape(url, quote=True)}">{label}</a>'

    escaped = html.escape(text, quote=True)
    return _BOLD.sub(r"<strong>\1</strong>", _LINK.sub(link, escaped))


def markdown_to_html(markdown: str, title: str) -> str:
    """The small markdown subset alerts.delivery.render writes (### heading, - and 1. lists,
    **bold**, [link](url), paragraphs) as a self-contained HTML document."""
    body: list[str] = []
    open_list: str | None = None
    for line in markdown.splitlines():
        stripped = line.strip()
        kind = ("ul" if stripped.startswith("- ") else
                "ol" if _ORDERED.match(stripped) else None)
        if kind != open_list and open_list:
            body.append(f"</{open_list}>")
            open_list = None
        if kind and kind != open_list:
            body.append(f"<{kind}>")
            open_list = kind
        if kind == "ul":
            body.append(f"<li>{_inline(stripped[2:])}</li>")
        elif kind == "ol":
            body.append(f"<li>{_inline(_ORDERED.sub('', stripped, count=1))}</li>")
        elif stripped.startswith("#"):
            level = min(len(stripped) - len(stripped.lstrip("#")), 6)
            body.append(f"<h{level}>{_inline(stripped.lstrip('#').strip())}</h{level}>")
        elif stripped:
            body.append(f"<p>{_inline(stripped)}</p>")
    if open_list:
        body.append(f"</{open_list}>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def email_channel(settings: EmailOptions) -> EmailChannel:
    """The email channel of one alerts.yaml entry."""
    return EmailChannel(settings.name, settings.host, settings.sender, settings.to,
                        port=settings.port, security=settings.security,
                        username=settings.username, password_env=settings.password_env,
                        password_block=settings.password_block,
                        timeout_seconds=settings.timeout_seconds,
                        allow_plaintext_login=settings.allow_plaintext_login)
