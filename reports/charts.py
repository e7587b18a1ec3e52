"""Charts for the reports: matplotlib to PNG, in a CJK font when one is installed. A chart
has no title of its own: the report captions it (图1 …)."""
from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
                "Microsoft YaHei", "SimHei", "PingFang SC")
NEGATIVE, OTHER, POSITIVE, NEUTRAL = "#c0392b", "#8fa3b8", "#2e8b57", "#b0b7bf"


# Files of those families, for fonts installed after matplotlib cached its font list.
CJK_FILES = ("NotoSansCJK", "NotoSerifCJK", "SourceHanSans", "wqy-zenhei", "msyh", "simhei",
             "PingFang")


def _installed_cjk() -> str | None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first installed CJK font family, or None (charts then label in ASCII). A font
    matplotlib's cached list does not know yet is looked for in the system's font folders."""
    found = _installed_cjk()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(name in Path(path).name for name in CJK_FILES):
                font_manager.fontManager.addfont(path)
        found = _installed_cjk()
    return found


def rebuild_font_cache() -> tuple[str | None, Path]:
    """Add every font installed on the system that matplotlib's cached list lacks, and save
    the list for every later process (a CJK font installed after matplotlib first ran stays
    unknown to it, and charts label in English). Returns the CJK family charts now use, or
    None, and the cache file."""
    manager = font_manager.fontManager
    known = {entry.fname for entry in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):   # unreadable or not a font file
                continue
    cache = Path(matplotlib.get_cachedir(), f"fontlist-v{font_manager.FontManager.__version__}.json")
    font_manager.json_dump(manager, cache)
    cjk_font.cache_clear()
    return cjk_font(), cache


def label(chinese: str, fallback: str) -> str:
    """Chinese text when a CJK font can draw it, else the ASCII fallback (no tofu boxes)."""
    return chinese if cjk_font() else fallback


def _figure(width: float = 9.0, height: float = 3.2):
    font = cjk_font()
    plt.rcParams["font.family"] = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig, ax


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def volume_bars(labels: Sequence[str], posts: Sequence[int], negative: Sequence[int],
                rotate: bool = False) -> bytes:
    """Stacked bars: negative posts at the bottom in red, the rest above."""
    fig, ax = _figure()
    x = range(len(labels))
    other = [p - n for p, n in zip(posts, negative)]
    ax.bar(x, negative, color=NEGATIVE, label=label("负面", "negative"))
    ax.bar(x, other, bottom=negative, color=OTHER, label=label("其他", "other"))
    for i, total in enumerate(posts):
        if total:
            ax.text(i, total, str(total), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x), labels, rotation=45 if rotate else 0, fontsize=8)
    ax.set_ylabel(label("条数", "posts"))
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.margins(y=0.15)
    return _png(fig)


def polarity_bar(counts: dict[str, int], names: dict[str, str]) -> bytes:
    """One horizontal bar split by polarity, with counts and shares."""
    fig, ax = _figure(height=1.6)
    total = sum(counts.values()) or 1
    left = 0
    colours = {"negative": NEGATIVE, "neutral": NEUTRAL, "positive": POSITIVE}
    for key in ("negative", "neutral", "positive"):
        value = counts.get(key, 0)
        ax.barh([0], [value], left=left, color=colours[key], label=names[key])
        if value:
            ax.text(left + value / 2, 0, f"{names[key]} {value} ({value / total:.0%})",
                    ha="center", va="center", color="white", fontsize=9)
        left += value
    ax.set_yticks([])
    ax.grid(False)
    ax.spines[["left"]].set_visible(False)
    return _png(fig)


def topic_bars(names: Sequence[str], posts: Sequence[int], negative: Sequence[int]) -> bytes:
    """Horizontal bars, largest topic on top, negative part in red."""
    fig, ax = _figure(height=max(1.8, 0.38 * len(names) + 0.8))
    y = list(range(len(names)))[::-1]
    ax.barh(y, negative, color=NEGATIVE, label=label("负面", "negative"))
    ax.barh(y, [p - n for p, n in zip(posts, negative)], left=negative, color=OTHER,
            label=label("其他", "other"))
    for yi, total in zip(y, posts):
        ax.text(total, yi, f" {total}", va="center", fontsize=8)
    ax.set_yticks(y, names, fontsize=9)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.margins(x=0.12)
    return _png(fig)


def _thin_ticks(ax, labels: Sequence[str], most: int = 14) -> None:
    step = max(1, -(-len(labels) // most))
    ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=30, ha="right",
                  fontsize=7)


def timeline(labels: Sequence[str], posts: Sequence[int], negative: Sequence[int],
             markers: Sequence[tuple[float, str]]) -> bytes:
    """Posts per time slot (negative in red) with a dashed line at each moment that matters —
    first post, detection, acknowledgement, statement, level changes — labelled at the top.
    A marker's position is in slots (2.5: half-way through the third)."""
    fig, ax = _figure(height=3.6)
    x = range(len(labels))
    other = [p - n for p, n in zip(posts, negative)]
    ax.bar(x, negative, color=NEGATIVE, width=0.85, label=label("负面", "negative"))
    ax.bar(x, other, bottom=negative, color=OTHER, width=0.85, label=label("其他", "other"))
    top = max(posts or [1])
    for n, (at, text) in enumerate(markers):
        ax.axvline(at - 0.5, color="#1f2328", linestyle="--", linewidth=0.8)
        ax.text(at - 0.5, top * (1.32 - 0.1 * (n % 3)), f" {text}", fontsize=7, va="top",
                ha="left", color="#1f2328")
    _thin_ticks(ax, labels)
    ax.set_ylim(0, top * 1.35)
    ax.set_ylabel(label("条数", "posts"))
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(0, 0.72))
    return _png(fig)


def polarity_bars(labels: Sequence[str], counts: dict[str, Sequence[int]],
                  names: dict[str, str]) -> bytes:
    """Posts per time slot split by polarity (or stance toward the police): negative,
    neutral, positive stacked, then any other key of `counts` (not police-related) in a
    light grey."""
    fig, ax = _figure(height=3.0)
    x = range(len(labels))
    bottom = [0] * len(labels)
    colours = {"negative": NEGATIVE, "neutral": NEUTRAL, "positive": POSITIVE}
    keys = [k for k in ("negative", "neutral", "positive") if k in counts or k in names]
    for key in keys + [k for k in counts if k not in colours]:
        colours.setdefault(key, "#d3d9e0")
        values = counts.get(key, [0] * len(labels))
        ax.bar(x, values, bottom=bottom, color=colours[key], width=0.85, label=names[key])
        bottom = [b + v for b, v in zip(bottom, values)]
    _thin_ticks(ax, labels)
    ax.set_ylabel(label("条数", "posts"))
    # above the plot, in one row: a legend inside covers the first bars
    ax.legend(frameon=False, fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.0),
              ncol=4, borderaxespad=0.2)
    ax.margins(y=0.1)
    return _png(fig)


def spread_bars(labels: Sequence[str], posts: Sequence[int], threads: Sequence[int]) -> bytes:
    """Per interval: the event's own posts, with the comments and reposts of them stacked."""
    fig, ax = _figure(height=3.0)
    x = range(len(labels))
    ax.bar(x, posts, color="#35608f", width=0.85, label=label("帖子", "posts"))
    ax.bar(x, threads, bottom=posts, color=OTHER, width=0.85,
           label=label("评论与转发", "comments and reposts"))
    _thin_ticks(ax, labels)
    ax.set_ylabel(label("条数", "posts"))
    # above the plot, in one row: a legend inside covers the first bars
    ax.legend(frameon=False, fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.0),
              ncol=4, borderaxespad=0.2)
    ax.margins(y=0.1)
    return _png(fig)
