"""Dry runs of the channels of alerts.yaml for `jingyu doctor`: is each one configured and
reachable from here? Nothing is ever sent: a robot's host gets a TCP (and TLS) handshake but
no HTTP request, an SMTP server a greeting, STARTTLS and login, then QUIT."""
from __future__ import annotations

import os
import smtplib
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from alerts.delivery.channel_secrets import MissingSecret, redact_text, redact_url, resolve_secret
from alerts.delivery.email import email_channel
from alerts.channel_options import (
    ChannelOptions,
    EmailOptions,
    JsonlOptions,
    PostingOptions,
    SignedRobotOptions,
)


class ChannelUnreachable(Exception):
    """The channel could not send from here: what is wrong, and where."""


def dry_run(channel: ChannelOptions, timeout_s: float = 5.0) -> str:
    """What was checked, when the channel could send from this process; ChannelUnreachable
    saying why otherwise. Secrets are resolved the way sending resolves them."""
    try:
        if channel.kind == "console":
            return "prints to the terminal of the process that runs the cycle"
        if isinstance(channel, JsonlOptions):
            return _writable(Path(channel.path))
        if isinstance(channel, PostingOptions):
            url = resolve_secret("webhook URL", env=channel.url_env, block=channel.url_block,
                                 literal=channel.url)
            if not url:
                raise ChannelUnreachable("no webhook URL (set url, url_env or url_block)")
            if isinstance(channel, SignedRobotOptions):
                resolve_secret("signing secret", env=channel.secret_env,
                               block=channel.secret_block)
            return _handshake(url, timeout_s)
        if isinstance(channel, EmailOptions):
            return _smtp_greeting(channel, timeout_s)
    except MissingSecret as exc:
        raise ChannelUnreachable(str(exc)) from None
    raise ChannelUnreachable(f"no dry run for channel kind {channel.kind!r}")


def _writable(path: Path) -> str:
    folder = path.parent if str(path) else Path(".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        raise ChannelUnreachable(f"{existing} is not writable by this process (for {path})")
    if path.exists() and not os.access(path, os.W_OK):
        raise ChannelUnreachable(f"{path} is not writable by this process")
    return f"appends to {path}"


def _handshake(url: str, timeout_s: float) -> str:
    """Connect to the URL's host and port (TLS for https) and hang up before any request."""
    shown = redact_url(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelUnreachable(f"{shown} is not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s) as raw:
            if parts.scheme == "https":
                context = ssl.create_default_context()
                with context.wrap_socket(raw, server_hostname=parts.hostname):
                    pass
    except ssl.SSLError as exc:
        raise ChannelUnreachable(f"TLS with {parts.hostname}:{port} failed: "
                                 f"{exc.reason or exc}") from None
    except OSError as exc:
        raise ChannelUnreachable(f"cannot connect to {parts.hostname}:{port}: "
                                 f"{exc.strerror or type(exc).__name__}") from None
    return f"{parts.hostname}:{port} answers{' (TLS ok)' if parts.scheme == 'https' else ''}; " \
           f"nothing sent to {shown}"


def _smtp_greeting(channel: EmailOptions, timeout_s: float) -> str:
    mailer = email_channel(channel)
    mailer.timeout_seconds = min(mailer.timeout_seconds, timeout_s)
    password = None
    if mailer.username:
        password = resolve_secret("SMTP password", env=channel.password_env,
                                  block=channel.password_block)
    where = f"smtp {mailer.host}:{mailer.port}"
    try:
        with mailer._connect() as smtp:
            smtp.ehlo_or_helo_if_needed()
            if mailer.username:
                smtp.login(mailer.username, password or "")
    except smtplib.SMTPAuthenticationError as exc:
        raise ChannelUnreachable(f"{where}: login as {mailer.username!r} refused "
                                 f"({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelUnreachable(f"{where}: {type(exc).__name__}: "
                                 f"{redact_text(str(exc), [password])}") from None
    login = f", logged in as {mailer.username}" if mailer.username else ""
    return f"{where} answers ({mailer.security}{login}); no mail sent"
