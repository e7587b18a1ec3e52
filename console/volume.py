"""The volume chart of an incident's page: how many of its posts were seen in each interval,
with the moments that matter marked (detection, 签收, official statement). Drawn as SVG by the
template from these numbers: no chart library, no script."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jingyu.timeutil import SHANGHAI, to_utc

WIDTH, HEIGHT = 720, 160          # the SVG's own units; it scales to the page
STEPS = (timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=1), timedelta(hours=3),
         timedelta(hours=6), timedelta(days=1))
MAX_BARS = 72


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    height: float
    count: int
    label: str


@dataclass(frozen=True)
class Mark:
    x: float
    label: str


@dataclass(frozen=True)
class VolumeChart:
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    ticks: tuple[Mark, ...]
    peak: int
    step: str
    total: int


def volume_chart(seen: Sequence[datetime], marks: Sequence[tuple[str, datetime | None]],
                 now: datetime) -> VolumeChart | None:
    """Posts per interval from the first post (or mark) to now; None without posts."""
    if not seen:
        return None
    times = sorted(to_utc(t) for t in seen)
    start = min([times[0], *(to_utc(t) for _, t in marks if t is not None)])
    end = max(to_utc(now), times[-1])
    step = next((s for s in STEPS if (end - start) / s <= MAX_BARS), STEPS[-1])
    # Buckets aligned on local clock boundaries (10:00, 10:10 …), as people read them.
    local = start.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight + step * int((local - midnight) / step)
    count = max(1, int((end - first) / step) + 1)
    counts = [0] * count
    for t in times:
        counts[min(count - 1, int((t - first) / step))] += 1
    peak = max(counts)
    width = WIDTH / count

    def x_of(t: datetime) -> float:
        return round((to_utc(t) - first) / (step * count) * WIDTH, 1)

    fmt = "%H:%M" if step < timedelta(days=1) else "%m-%d"
    bars = tuple(Bar(x=round(i * width, 1), width=round(max(width - 1, 1), 1),
                     height=round(c / peak * (HEIGHT - 20), 1), count=c,
                     label=f"{(first + step * i).astimezone(SHANGHAI):%m-%d %H:%M} {c} 条")
                 for i, c in enumerate(counts))
    every = max(1, count // 6)
    ticks = tuple(Mark(round(i * width, 1), f"{(first + step * i).astimezone(SHANGHAI):{fmt}}")
                  for i in range(0, count, every))
    shown = tuple(Mark(x_of(t), label) for label, t in marks if t is not None)
    minutes = int(step.total_seconds() // 60)
    return VolumeChart(bars=bars, marks=shown, ticks=ticks, peak=peak, total=len(times),
                       step=f"{minutes} 分钟" if minutes < 60 else f"{minutes // 60} 小时")
