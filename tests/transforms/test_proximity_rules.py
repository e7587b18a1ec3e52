"""Proximity in the rule language: `a NEAR/n b`, its evaluation and its errors."""
from __future__ import annotations

import pytest

from jingyu.config import ConfigError
from transforms.rules import RuleSet, parse_rules
from transforms.text import normalise

FILE = "config/rules.yaml"


def one_topic(expr: str) -> RuleSet:
    return parse_rules({"topics": [{"id": "t", "name": "测试", "parent": None, "expr": expr}]},
                       FILE)


def hits(expr: str, text: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(hit.topic_id, hit.terms) for hit in one_topic(expr).match(normalise(text))]


@pytest.mark.parametrize("expr, text, expected", [
    ("民警 NEAR/3 打人", "民警当街打人", True),           # 2 characters between
    ("民警 NEAR/1 打人", "民警当街打人", False),
    ("民警 NEAR/0 打人", "民警打人", True),               # adjacent
    ("民警 NEAR/3 打人", "打人者被民警制服", True),        # either order
    ("民警 NEAR/5 打人", "民警到场。多年前此人曾因打人被拘", False),
    # Any occurrence pair counts, not only the first of each.
    ("民警 NEAR/2 打人", "民警说，昨天有人在这里看见民警打人", True),
    ("(民警 OR 辅警) NEAR/4 (推搡 OR 推倒)", "一名辅警推倒摆摊阿姨", True),
    ("(民警 OR 辅警) NEAR/4 (推搡 OR 推倒)", "辅警到场后，双方发生争执，后有人推搡", False),
    ("民警 NEAR/3 打人 AND NOT 演练", "民警打人演练", False),
    ("NOT 民警 NEAR/3 打人 AND 视频", "视频：民警在现场，没有人打人", True),
    ("袭警 OR 民警 NEAR/4 受伤", "民警在处置中受伤", True),
    ("袭警 OR 民警 NEAR/3 受伤", "民警在处置中受伤", False),
    # ASCII word boundaries hold inside NEAR too.
    ("ai NEAR/2 诈骗", "training诈骗", False),
    ("ai NEAR/2 诈骗", "AI换脸诈骗", True),
])
def test_near_finds_terms_within_n_characters(expr: str, text: str, expected: bool) -> None:
    assert bool(hits(expr, text)) is expected


def test_a_near_hit_is_explained_by_its_terms() -> None:
    assert hits("(民警 OR 辅警) NEAR/4 推倒", "一名辅警推倒摆摊阿姨") == [("t", ("辅警", "推倒"))]


@pytest.mark.parametrize("expr, where", [
    ("民警 NEAR 打人", "column 4: 'NEAR' is not a proximity operator"),
    ("民警 NEAR/x 打人", "column 4: 'NEAR/x' is not a proximity operator"),
    ("民警 NEAR/5000 打人", "column 4: NEAR/5000 is too far"),
    ("民警 NEAR/5 打人 NEAR/5 受伤", "column 14: NEAR joins exactly two operands"),
    ("(民警 AND 辅警) NEAR/5 打人", "column 1: NEAR joins a term"),
    ("民警 NEAR/5 (打人 OR NOT 受伤)", "column 11: NEAR joins a term"),
    ("民警 NEAR/5", "column 10: expected a term"),
    ("NOT (民警 NEAR/5 打人)", "matches a text that contains none of its terms"),
])
def test_bad_proximity_names_file_field_and_column(expr: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        one_topic(expr)
    assert caught.value.file == FILE and caught.value.field == "topics[0].expr"
    assert where in caught.value.problem and "NEAR/10" in caught.value.fix
