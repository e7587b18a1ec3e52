"""The 传播路径 section of an incident's page: warehouse.spread.incident_spread (the same
reading the 专报 uses) and its curve as SVG bars — the posts of the event and, stacked on
them, the comments and reposts of its threads. No chart library, no script."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from jingyu.timeutil import shanghai
from warehouse.spread import Spread

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
