"""Delivery channels: the interface every kind implements, and the console, jsonl and webhook kinds.

Which kind builds which channel is alerts.delivery.registry's job; the robot and e-mail kinds
live in their own modules and build on the interface here.
"""
from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import requests

from alerts.delivery.channel_secrets import (
    MissingSecret,
    redact_text,
    redact_url,
    resolve_secret,
    url_secrets,
)
from jingyu.display import clean_text, excerpt
from jingyu.timeutil import utcnow
from warehouse.records import OutboxMessage

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A channel could not hand a message over; the message stays in the outbox for retry."""


class RateLimited(DeliveryError):
    """Not sent because of a rate limit (the receiver's or our own budget for it): the message
    stays pending, is not counted as delivered, and may be tried again after retry_after s."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotHeld(DeliveryError):
    """Not sent: the message is no longer this delivery pass's to send (its lease ran out and
    another pass took it over, and sends it). Neither delivered nor failed here."""


# What send_batch reports for each message, in order: None = handed over, else why not.
SendResult = DeliveryError | None


class DeliveryReceipts(Protocol):
    """Where a channel reports its messages as it goes (alerts.delivery.outbox keeps them in
    the warehouse), so that each is sent once even with two delivery passes at once."""

    def hold(self, messages: Sequence[OutboxMessage]) -> bool:
        """Just before sending them: True if they are all still this pass's to send."""

    def delivered(self, messages: Sequence[OutboxMessage]) -> None:
        """Right after the platform took them: recorded before anything else is sent."""


@dataclass(frozen=True)
class PostRecord:
    """One post a rate-limited channel made to its platform (a digest of many alerts is one).

    Kept in the warehouse so that every process posting through the same robot (the monitor
    flow, the watchdog flow, `jingyu alerts ...`) spends one budget, not one budget each.
    """

    at: datetime                       # aware UTC, wall clock, when the post was attempted
    by: str                            # the limiter that made it (one per process and robot)
    blocked_until: datetime | None = None   # the platform said "too fast": nothing until then


class PostLedger(Protocol):
    """Where posts are recorded and read back across processes (alerts.delivery.outbox gives the
    warehouse)."""

    def posts_since(self, channel: str, since: datetime) -> list[PostRecord]:
        """Posts made through `channel` at or after `since`, and blocks still running then."""

    def claim_post(self, channel: str, record: PostRecord, since: datetime,
                   decide: Callable[[list[PostRecord]], float]) -> float:
        """Atomically: read the posts since `since`, ask `decide` (0.0: one more fits, else
        seconds to wait) and, on 0.0, record `record`. No other process claims in between."""

    def record_block(self, channel: str, record: PostRecord) -> None:
        """The platform refused the claimed post `record` as too fast, until
        `record.blocked_until`."""


class Channel(ABC):
    """Somewhere duty staff receive notifications; send() returns only once it is handed over."""

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def send(self, message: OutboxMessage) -> None:
        """Deliver one message or raise DeliveryError saying why not."""

    def send_batch(self, messages: Sequence[OutboxMessage],
                   receipts: DeliveryReceipts | None = None) -> list[SendResult]:
        """Deliver the messages due for this channel in one cycle; one result per message, in
        order: None if delivered, else the DeliveryError (RateLimited: try later; NotHeld:
        another pass sends it). `receipts` hears of each send before and right after it.

        This default sends them one by one; channels with a tight rate limit (chat robots)
        override it to combine messages into a digest when their budget is short. Never
        raises for one message: a bug while sending one must not lose the others' results.
        """
        results: list[SendResult] = []
        for message in messages:
            if receipts is not None and not receipts.hold([message]):
                results.append(NotHeld(f"{self.name}: message {message.id} is another "
                                       f"delivery pass's now"))
                continue
            try:
                self.send(message)
            except DeliveryError as exc:
                results.append(exc)
            except Exception as exc:
                # A bug in one channel must not stop the others from paging duty staff.
                logger.exception("outbox message %s via %s crashed", message.id, self.name)
                results.append(DeliveryError(f"{type(exc).__name__}: {exc}"))
            else:
                if receipts is not None:
                    receipts.delivered([message])
                results.append(None)
        return results

    def share_budget(self, ledger: PostLedger) -> None:
        """Spend the platform's rate budget together with other processes (see PostLedger).

        Only channels with a platform rate limit (chat robots) keep a budget; the rest ignore
        this.
        """


class ConsoleChannel(Channel):
    """Print to the worker's stdout and log, for whoever watches the flow run (post text loses
    terminal escapes, carriage returns and bidi overrides on the way)."""

    def send(self, message: OutboxMessage) -> None:
        text = clean_text(message.payload.get("text") or json.dumps(dict(message.payload),
                                                                    ensure_ascii=False))
        logger.info("alert %s via %s: %s", message.alert_id, self.name, text)
        print(f"[{self.name}] {text}", flush=True)


class JsonLinesChannel(Channel):
    """Append one JSON object per message to a file: an audit trail other tools can tail."""

    def __init__(self, name: str, path: str | Path) -> None:
        super().__init__(name)
        self.path = Path(path)

    def send(self, message: OutboxMessage) -> None:
        record = {
            "message_id": message.id,
            "alert_id": message.alert_id,
            "channel": message.channel,
            "idempotency_key": message.idempotency_key,
            "attempts": message.attempts,
            "written_at": utcnow().isoformat(),
            "payload": dict(message.payload),
        }
        try:
            line = json.dumps(record, ensure_ascii=False) + "\n"
        except (TypeError, ValueError) as exc:
            raise DeliveryError(f"jsonl {self.path}: payload is not JSON: {exc}") from exc
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                # Reported as delivered only once it is on disk: a crash must not lose it.
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DeliveryError(f"jsonl {self.path}: cannot append: {exc}") from exc


class WebhookChannel(Channel):
    """POST the payload as JSON; the receiver dedups redeliveries on the Idempotency-Key header.

    The URL often holds a token, so it may come from the environment (url_env) or a Prefect
    Secret block (url_block), and errors, logs and outbox.last_error show it redacted; what
    the receiver answered is read up to RECEIVER_BODY_BYTES and quoted redacted and short."""

    RECEIVER_BODY_BYTES = 4096

    def __init__(self, name: str, url: str | None = None, timeout_seconds: float = 10.0, *,
                 url_env: str | None = None, url_block: str | None = None) -> None:
        super().__init__(name)
        self._url, self._url_env, self._url_block = url, url_env, url_block
        self.timeout_seconds = timeout_seconds

    @property
    def prefix(self) -> str:
        where = (redact_url(self._url) if self._url else f"URL from ${self._url_env}"
                 if self._url_env else f"URL from Prefect block {self._url_block!r}")
        return f"webhook {self.name} ({where})"

    def send(self, message: OutboxMessage) -> None:
        try:
            url = resolve_secret("webhook URL", env=self._url_env, block=self._url_block,
                                 literal=self._url)
        except MissingSecret as exc:
            raise DeliveryError(f"{self.prefix}: {exc}") from None
        if not url:
            raise DeliveryError(f"{self.prefix}: no URL configured")
        try:
            body = json.dumps(dict(message.payload), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise DeliveryError(f"{self.prefix}: payload is not JSON: {exc}") from exc
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.idempotency_key,
        }
        try:
            with requests.post(url, data=body, headers=headers, timeout=self.timeout_seconds,
                               stream=True) as response:
                status = response.status_code
                answer = response.raw.read(self.RECEIVER_BODY_BYTES, decode_content=True) or b""
        except requests.RequestException as exc:
            raise DeliveryError(f"{self.prefix}: no response ({type(exc).__name__}: "
                                f"{excerpt(redact_text(str(exc), url_secrets(url)))})"
                                ) from None
        if not 200 <= status < 300:
            text = redact_text(answer.decode("utf-8", errors="replace"), url_secrets(url))
            raise DeliveryError(f"{self.prefix} answered HTTP {status}: {excerpt(text)}")
