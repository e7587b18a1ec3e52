"""The 传播路径 section of an incident's page: warehouse.spread.incident_spread (the same
reading the 专报 uses) and its curve as SVG bars — the posts of the event and, stacked on
them, the comments and reposts of its threads. No chart library, no script."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from jingyu.timeutil import shanghai
from warehouse.spread import Spread, incident_spread

WIDTH, HEIGHT = 720, 120


@dataclass(frozen=True)
class SpreadBar:
    x: float
    width: float
    posts: float          # height of the event's own posts
    threads: float        # height of the comments and reposts on top of them
    label: str


@dataclass(frozen=True)
class SpreadChart:
    bars: tuple[SpreadBar, ...]
    peak: int
    step: str
    first: str
    last: str


def step_name(step: timedelta) -> str:
    hours = int(step.total_seconds() // 3600)
    return f"{hours}小时" if hours < 24 else f"{hours // 24}天"


def spread_chart(spread: Spread) -> SpreadChart:
    peak = max(b.total for b in spread.curve)
    width = WIDTH / len(spread.curve)
    bars = []
    for i, b in enumerate(spread.curve):
        when = shanghai(b.start).strftime("%m-%d %H:%M")
        bars.append(SpreadBar(
            x=round(i * width, 1), width=round(max(width - 1, 1), 1),
            posts=round(HEIGHT * b.posts / peak, 1), threads=round(HEIGHT * b.threads / peak, 1),
            label=f"{when} 起 {step_name(spread.step)}：帖子 {b.posts} 条，评论/转发 {b.threads} 条"))
    fmt = "%m-%d %H:%M"
    return SpreadChart(bars=tuple(bars), peak=peak, step=step_name(spread.step),
                       first=shanghai(spread.curve[0].start).strftime(fmt),
                       last=shanghai(spread.curve[-1].start).strftime(fmt))


class SpreadCache:
    """The spread of a big event is read once a minute, not on every view: a major incident is
    the one every duty officer opens at once, and an event of 10,000 posts with 50,000
    comments takes about 2 s to read (benchmarks/bench_spread.py). A spread read in under
    SLOW_S is never kept, so small events are always current."""

    SLOW_S = 0.3
    KEEP_S = 60.0
    SIZE = 32

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, tuple[float, Spread | None]] = OrderedDict()
        self._lock = threading.Lock()

    def spread(self, engine: Engine, event_id: int | None, post_ids: Sequence[int]
               ) -> Spread | None:
        key = (str(engine.url), event_id, tuple(sorted(set(post_ids))))
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] > now:
                return kept[1]
        found = incident_spread(engine, event_id, post_ids)
        took = time.monotonic() - now
        if took >= self.SLOW_S:
            with self._lock:
                self._kept[key] = (time.monotonic() + self.KEEP_S, found)
                self._kept.move_to_end(key)
                while len(self._kept) > self.SIZE:
                    self._kept.popitem(last=False)
        return found


SPREADS = SpreadCache()
