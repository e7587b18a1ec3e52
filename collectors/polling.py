"""Adaptive polling: a busy source is fetched more often, a quiet one less, within the bounds
its sources.yaml entry sets (poll_min_minutes .. poll_max_minutes)."""
from __future__ import annotations

FASTER = 0.5        # a fetch that brought new items halves the interval
SLOWER = 1.5        # one that brought nothing lengthens it by half


def next_interval(current: float, new_items: int, lowest: float, highest: float) -> float:
    """The interval in minutes after a successful fetch that brought `new_items`."""
    proposed = current * (FASTER if new_items else SLOWER)
    return min(max(proposed, lowest), highest)
