"""涉警 relevance: which police vocabulary a text contains."""
from __future__ import annotations

import re

POLICE_TERMS: tuple[str, ...] = (
    # bodies and places
    "公安", "公安局", "公安厅", "公安部", "公安机关", "分局", "派出所", "警务站", "看守所",
    "拘留所", "车管所", "交管",
    # people
    "警察", "人民警察", "民警", "辅警", "协警", "警方", "警官", "警长", "警员", "交警", "特警",
    "刑警", "巡警", "网警", "乘警", "铁警",
    # work
    "警情", "警情通报", "警力", "警车", "警服", "警号", "警犬", "接警", "出警", "处警",
    "报警", "110", "执法", "执法记录仪", "刑侦", "治安", "反诈", "刑拘", "刑事拘留",
    "行政拘留", "袭警",
)
# 武警 is left out on purpose: the armed police is a military force, not public security.

# Terms that also name things outside the police; each is matched only in the context below.
_CONTEXT_PATTERNS: dict[str, str] = {
    # The emergency number alone: not inside 1100, 2110, 96110 or a phone number, nor a
    # quantity such as 110千伏 or 110万元.
    "110": r"(?<![\d.])(?<!\d[-\s])110(?![-\s.]?\d)(?!\s*(?:千伏|(?i:kv)|万|亿|元|米|公里|岁|号|斤|%))",
    # Tax, environment and other agencies have 分局 too.
    "分局": r"(?<!税务|环境|监管|气象|海事|邮政)分局",
    # 城管 and other agencies enforce laws too.
    "执法": r"(?<!城管|综合|环保|监管|渔政|海关)执法",
    # An alarm device is not a call to the police.
    "报警": r"报警(?!器|系统|装置|灯)",
}

# Longest terms first, so 公安局 is reported rather than the 公安 inside it.
_POLICE_PATTERN = re.compile("|".join(
    _CONTEXT_PATTERNS.get(term, re.escape(term))
    for term in sorted(POLICE_TERMS, key=len, reverse=True)
))


def find_police_terms(text: str) -> tuple[str, ...]:
    """Police vocabulary in a normalised text (see text.normalise), each once, in order of
    first appearance. A non-empty result makes the text 涉警."""
    return tuple(dict.fromkeys(match.group() for match in _POLICE_PATTERN.finditer(text)))
