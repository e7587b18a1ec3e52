"""Hand outbox messages to their channels and say when a failed one may be tried again."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from alerts.delivery.channels import Channel, DeliveryError, DeliveryReceipts, NotHeld, RateLimited
from warehouse.records import OutboxMessage

logger = logging.getLogger(__name__)

FIRST_RETRY_DELAY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(minutes=30)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened to one outbox message in this cycle."""

    message_id: int
    delivered: bool
    error: str | None = None
    retry_after: float | None = None   # rate limited: seconds the channel asks us to wait
    taken_over: bool = False           # another delivery pass holds it now and sends it


def deliver(messages: Sequence[OutboxMessage], channels: Mapping[str, Channel],
            receipts: DeliveryReceipts | None = None) -> list[DeliveryOutcome]:
    """Try every message once; failures are reported, never raised or dropped. `receipts`
    (the outbox) hears of each send before and right after it.

    The messages due for one channel are handed over together (Channel.send_batch), so a chat
    robot short of rate budget can combine them into a digest. Outcomes come back in the order
    of `messages`.
    """
    outcomes: list[DeliveryOutcome | None] = [None] * len(messages)
    batches: dict[str, list[int]] = {}
    for index, message in enumerate(messages):
        if message.channel in channels:
            batches.setdefault(message.channel, []).append(index)
            continue
        error = (f"channel {message.channel!r} is not configured or is disabled in "
                 f"alerts.yaml; message kept for retry")
        outcomes[index] = DeliveryOutcome(message.id, delivered=False, error=error)
        logger.warning("outbox message %s: %s", message.id, error)
    for name, indexes in batches.items():
        channel = channels[name]
        batch = [messages[i] for i in indexes]
        try:
            results = list(channel.send_batch(batch, receipts))
            if len(results) != len(batch):
                raise RuntimeError(f"send_batch returned {len(results)} results for "
                                   f"{len(batch)} messages")
        except Exception as exc:
            # A bug in one channel must not stop the others from paging duty staff.
            logger.exception("outbox messages %s via %s crashed", [m.id for m in batch],
                             channel.name)
            results = [DeliveryError(f"{type(exc).__name__}: {exc}")] * len(batch)
        for index, message, result in zip(indexes, batch, results, strict=True):
            if result is None:
                outcomes[index] = DeliveryOutcome(message.id, delivered=True)
                continue
            if isinstance(result, NotHeld):
                outcomes[index] = DeliveryOutcome(message.id, delivered=False,
                                                  error=str(result), taken_over=True)
                continue
            retry_after = result.retry_after if isinstance(result, RateLimited) else None
            outcomes[index] = DeliveryOutcome(message.id, delivered=False, error=str(result),
                                              retry_after=retry_after)
            logger.warning("outbox message %s via %s %s: %s", message.id, channel.name,
                           "deferred" if isinstance(result, RateLimited) else "failed", result)
    return [outcome for outcome in outcomes if outcome is not None]


def next_attempt_delay(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 30 s doubling, capped at 30 min."""
    if attempts < 1:
        raise ValueError(f"attempts counts failed tries and starts at 1, got {attempts}")
    # Stop doubling well before the cap so a huge attempt count cannot overflow timedelta.
    doublings = min(attempts - 1, 16)
    return min(FIRST_RETRY_DELAY * 2 ** doublings, MAX_RETRY_DELAY)
