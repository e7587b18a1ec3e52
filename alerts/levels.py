"""The four warning levels (分级预警) every stage, report and page names alerts by."""
from __future__ import annotations

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
