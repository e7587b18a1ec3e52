"""Channel secrets: read from the environment (or a Prefect Secret block) when sending; never
logged.

alerts.yaml names *where* a secret lives (``secret_env: JINGYU_DINGTALK_SECRET``), never the
secret itself: the file is committed and copied around, the environment of the worker is not.
The variable is read when a message is sent, not when the file is parsed, because the process
that validates the file (a CLI on an analyst's laptop) may have a different environment from
the worker that sends. ``check_channel_secrets`` lets the startup check report a missing one
before the first alert needs it.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from alerts.settings import AlertSettings, ChannelSettings

REDACTED = "***"

# Query parameters that carry a credential in the robots' webhook URLs:
# DingTalk access_token/sign, WeCom key, Feishu (none in the query, see the path below).
SECRET_QUERY_KEYS = ("access_token", "key", "sign", "secret", "token", "password")
_QUERY_VALUE = re.compile(
    r"(?i)(?P<name>\b(?:" + "|".join(SECRET_QUERY_KEYS) + r"))=(?P<value>[^&\s\"'<>#)]+)")
# Feishu/Lark carry the robot's token in the path: /open-apis/bot/v2/hook/<token>.
_HOOK_PATH = re.compile(r"(?P<prefix>/bot/v2/hook/)(?P<value>[^/?#\s\"'<>)]+)")


class MissingSecret(LookupError):
    """A secret named in alerts.yaml is not available to this process."""


def redact_url(url: str) -> str:
    """The URL with every credential replaced by ***, safe for errors and logs.

    Query values of access_token, key, sign (and similar) and the token in a Feishu hook path
    are hidden; host, path and other parameters stay so the operator can tell robots apart.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    query = urlencode([(name, REDACTED if name.lower() in SECRET_QUERY_KEYS else value)
                       for name, value in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    path = _HOOK_PATH.sub(lambda m: m.group("prefix") + REDACTED, parts.path)
    path = "/".join(REDACTED if _looks_secret(segment) else segment
                    for segment in path.split("/"))
    netloc = parts.netloc
    if "@" in netloc:                                   # user:password@host
        netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


# A path segment that reads like a token (a webhook key in the path: /hook/<token>,
# /services/T0/B0/<token>): long, or letters mixed with digits.
_TOKEN_LIKE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-.~]{12,}$|^[A-Za-z0-9_\-]{24,}$")


def _looks_secret(segment: str) -> bool:
    return bool(_TOKEN_LIKE.match(segment))


def url_secrets(url: str | None) -> list[str]:
    """The parts of a configured URL that may be credentials — the whole URL, its query
    values, user info and token-like path segments — for redact_text."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [url, *(value for _, value in parse_qsl(parts.query) if len(value) >= 4)]
    found += [segment for segment in parts.path.split("/") if _looks_secret(segment)]
    if parts.password:
        found.append(parts.password)
    return found


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Hide credentials in free text (exception messages, log lines).

    Catches URLs embedded anywhere (requests puts the full URL with its query in connection
    errors) and, belt and braces, any of the given secret values verbatim.
    """
    text = _QUERY_VALUE.sub(lambda m: f"{m.group('name')}={REDACTED}", text)
    text = _HOOK_PATH.sub(lambda m: m.group("prefix") + REDACTED, text)
    # Longest first, so a secret containing a shorter one is hidden whole.
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrite records of a third-party logger (urllib3 logs full URLs at DEBUG) before any
    handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install_log_redaction(logger_names: Iterable[str] = ("urllib3.connectionpool",)) -> None:
    """Attach RedactingFilter once to each named logger (idempotent)."""
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())


def load_secret_block(name: str) -> str:
    """The value of the Prefect Secret block `name` (Prefect 3: Secret.load(name).get())."""
    from prefect.blocks.system import Secret  # deferred: importing prefect is slow

    value = Secret.load(name).get()
    return value if isinstance(value, str) else str(value)


def resolve_secret(what: str, env: str | None = None, block: str | None = None,
                   literal: str | None = None) -> str | None:
    """The secret from the first source configured: literal, env var, Prefect Secret block.

    None when no source is configured (e.g. a robot without signing); MissingSecret when one is
    configured but empty or unavailable. Messages name the variable or block, never the value.
    """
    if literal:
        return literal
    if env:
        value = os.environ.get(env)
        if not value:
            raise MissingSecret(f"secret env {env} is not set (the {what} of this channel)")
        return value
    if block:
        try:
            value = load_secret_block(block)
        except Exception as exc:  # noqa: BLE001 - any failure means "not available"
            raise MissingSecret(f"Prefect Secret block {block!r} cannot be loaded (the {what} "
                                f"of this channel): {type(exc).__name__}") from exc
        if not value:
            raise MissingSecret(f"Prefect Secret block {block!r} is empty (the {what} of this "
                                f"channel)")
        return value
    return None


def _secret_sources(channel: ChannelSettings) -> list[tuple[str, str | None, str | None]]:
    return [("webhook URL", channel.url_env, channel.url_block),
            ("signing secret", channel.secret_env, channel.secret_block),
            ("SMTP password", channel.password_env, channel.password_block)]


def check_channel_secrets(settings: AlertSettings, check_blocks: bool = True) -> list[str]:
    """One line per enabled channel whose configured secret is not available here.

    For jingyu's startup check: a missing DingTalk secret should be found when the worker
    starts, not at 3 a.m. when the first red alert cannot be sent. Blocks are loaded only when
    check_blocks is true (it needs the Prefect API).
    """
    problems = []
    for channel in settings.channels:
        if not channel.enabled:
            continue
        for what, env, block in _secret_sources(channel):
            if block and not check_blocks:
                continue
            try:
                resolve_secret(what, env=env, block=block)
            except MissingSecret as exc:
                problems.append(f"channel {channel.name!r} ({channel.kind}): {exc}")
    return problems
