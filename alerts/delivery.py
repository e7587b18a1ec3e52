"""Hand outbox messages to their channels and say when a failed one may be tried again."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from alerts.channels import Channel, DeliveryError
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


def deliver(messages: Sequence[OutboxMessage],
            channels: Mapping[str, Channel]) -> list[DeliveryOutcome]:
    """Try every message once, in order; failures are reported, never raised or dropped."""
    outcomes = []
    for message in messages:
        channel = channels.get(message.channel)
        if channel is None:
            error = (f"channel {message.channel!r} is not configured or is disabled in "
                     f"alerts.yaml; message kept for retry")
            outcomes.append(DeliveryOutcome(message.id, delivered=False, error=error))
            logger.warning("outbox message %s: %s", message.id, error)
            continue
        try:
            channel.send(message)
        except DeliveryError as exc:
            outcomes.append(DeliveryOutcome(message.id, delivered=False, error=str(exc)))
            logger.warning("outbox message %s via %s failed: %s", message.id, channel.name, exc)
        except Exception as exc:
            # A bug in one channel must not stop the others from paging duty staff.
            logger.exception("outbox message %s via %s crashed", message.id, channel.name)
            outcomes.append(DeliveryOutcome(message.id, delivered=False,
                                            error=f"{type(exc).__name__}: {exc}"))
        else:
            outcomes.append(DeliveryOutcome(message.id, delivered=True))
    return outcomes


def next_attempt_delay(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 30 s doubling, capped at 30 min."""
    if attempts < 1:
        raise ValueError(f"attempts counts failed tries and starts at 1, got {attempts}")
    # Stop doubling well before the cap so a huge attempt count cannot overflow timedelta.
    doublings = min(attempts - 1, 16)
    return min(FIRST_RETRY_DELAY * 2 ** doublings, MAX_RETRY_DELAY)
