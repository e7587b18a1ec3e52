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
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jingyu.redaction import REDACTED, redact_text, redact_url, url_secrets

__all__ = ["REDACTED", "MissingSecret", "redact_text", "redact_url", "url_secrets",
           "install_log_redaction", "resolve_secret", "check_channel_secrets"]

if TYPE_CHECKING:
    from alerts.settings import AlertSettings


class MissingSecret(LookupError):
    """A secret named in alerts.yaml is not available to this process."""


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
        for what, env, block in channel.secrets():
            if block and not check_blocks:
                continue
            try:
                resolve_secret(what, env=env, block=block)
            except MissingSecret as exc:
                problems.append(f"channel {channel.name!r} ({channel.kind}): {exc}")
    return problems
