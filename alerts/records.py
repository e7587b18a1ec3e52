"""Record types produced by the alert detectors."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# 分级预警: level 1 is the most severe.
LEVELS = {
    1: {"roman": "I", "colour": "red", "colour_zh": "红色", "name_zh": "特别重大"},
    2: {"roman": "II", "colour": "orange", "colour_zh": "橙色", "name_zh": "重大"},
    3: {"roman": "III", "colour": "yellow", "colour_zh": "黄色", "name_zh": "较大"},
    4: {"roman": "IV", "colour": "blue", "colour_zh": "蓝色", "name_zh": "一般"},
}


def level_label(level: int) -> str:
    info = LEVELS[level]
    return f"{info['roman']}级 {info['colour_zh']}预警 ({info['name_zh']})"


@dataclass(frozen=True)
class Evidence:
    post_id: int
    url: str | None
    title: str
    source_id: str
    published_at: datetime | None


@dataclass(frozen=True)
class Alert:
    fingerprint: str                   # same story or spike -> same fingerprint -> one alert
    kind: str                          # "sensitive_item" | "spike"
    level: int                         # 1..4, see LEVELS
    title: str
    reason: str                        # one or two sentences a duty officer can act on
    evidence: tuple[Evidence, ...]
    jurisdiction: str | None
    detected_at: datetime              # aware UTC
