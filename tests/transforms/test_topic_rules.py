"""The topic rule language (AND / OR / NOT, phrases, brackets, ASCII word boundaries) and
every validation error of rules.yaml."""
from __future__ import annotations

from typing import Any

import pytest

from jingyu.config import ConfigError
from transforms.rules import RuleSet, TopicHit, compile_expression, parse_rules
from transforms.text import normalise

FILE = "config/rules.yaml"


def one_topic(expr: str) -> RuleSet:
    return parse_rules({"topics": [{"id": "t", "name": "测试", "parent": None, "expr": expr}]},
                       FILE)


def fires(expr: str, text: str) -> bool:
    return bool(one_topic(expr).match(normalise(text)))


@pytest.mark.parametrize("expr, text, expected", [
    ("袭警 AND 民警", "男子袭警，民警受伤", True),
    ("袭警 AND 民警", "男子袭警", False),
    ("袭警 OR 暴力抗法", "当事人暴力抗法", True),
    ("袭警 OR 暴力抗法", "当事人拒不配合", False),
    ("袭警 AND NOT 演练", "特警开展袭警处置演练", False),
    ("袭警 AND NOT 演练", "男子袭警被刑拘", True),
    ("NOT NOT 袭警", "男子袭警", True),
    # AND binds tighter than OR: 打人 OR (袭警 AND 民警)
    ("打人 OR 袭警 AND 民警", "男子打人", True),
    ("打人 OR 袭警 AND 民警", "男子袭警", False),
    ("(打人 OR 袭警) AND 民警", "男子打人", False),
    ("(打人 OR 袭警) AND 民警", "男子打人，民警到场", True),
    ('"rock and roll" AND NOT "(live)"', "Rock and Roll night", True),
    ('"rock and roll" AND NOT "(live)"', "rock and roll (LIVE)", False),
    ('"rock and roll"', "rock roll and", False),
    ("（袭警 OR “殴打民警”）AND NOT 演练", "男子殴打民警", True),
    ("（袭警 OR “殴打民警”）AND NOT 演练", "殴打民警演练", False),
])
def test_boolean_operators_phrases_and_brackets(expr: str, text: str, expected: bool) -> None:
    assert fires(expr, text) is expected


@pytest.mark.parametrize("expr, text, expected", [
    ("ai", "AI换脸诈骗高发", True),
    ("ai", "new ai tool", True),
    ("ai", "police training day", False),
    ("ai", "said", False),
    ("110", "拨打110报警", True),
    ("110", "航班1100起飞", False),
    ("110", "共21100人", False),
    ("110", "请拨打１１０", True),
    ("K9警犬", "K9警犬出动", True),
    ("K9警犬", "AK9警犬", False),
    ("警犬K9", "警犬K9出动", True),
    ("警犬K9", "警犬K90", False),
])
def test_ascii_terms_match_only_at_word_boundaries(expr: str, text: str, expected: bool) -> None:
    assert fires(expr, text) is expected


def test_matching_ignores_case_and_width() -> None:
    assert fires("APP", "下载诈骗ａｐｐ")


def test_match_explains_with_the_terms_present_and_not_negated() -> None:
    rules = one_topic("(袭警 OR 暴力抗法 OR 殴打) AND 民警 AND NOT 演练")
    assert rules.match("男子殴打民警，涉嫌袭警") == [TopicHit("t", ("袭警", "殴打", "民警"))]


def test_a_sub_topic_implies_its_category_in_file_order() -> None:
    rules = parse_rules({"topics": [
        {"id": "police", "name": "涉警", "parent": None, "expr": "民警"},
        {"id": "safety", "name": "涉公共安全", "parent": None, "expr": "事故"},
        {"id": "police.assault", "name": "袭警", "parent": "police", "high_risk": True,
         "expr": "袭警"},
    ]}, FILE)
    assert rules.match("男子袭警被刑拘") == [
        TopicHit("police", ("袭警",)), TopicHit("police.assault", ("袭警",))]
    assert rules.match("民警到场，男子袭警") == [
        TopicHit("police", ("民警", "袭警")), TopicHit("police.assault", ("袭警",))]
    assert rules.topics["police.assault"].high_risk
    assert not rules.topics["police"].high_risk


def test_text_without_any_term_matches_nothing() -> None:
    assert one_topic("袭警 OR 民警").match("今天天气不错") == []


def test_expression_lists_its_terms_and_the_evidence_terms() -> None:
    compiled = compile_expression('(袭警 OR "殴打 民警") AND NOT (演练 OR 袭警)')
    assert compiled.terms == ("袭警", "殴打 民警", "演练")
    assert compiled.evidence_terms == ("袭警", "殴打 民警")


# ---- validation ----------------------------------------------------------------------------

def config_error(data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_rules(data, FILE)
    return caught.value


def topic(**fields: Any) -> dict[str, Any]:
    return {"id": "police", "name": "涉警", "parent": None, "expr": "民警"} | fields


@pytest.mark.parametrize("data, field, problem", [
    (["not", "a", "mapping"], "(top level)", "must be a mapping"),
    ({"topic": []}, "topic", "unknown key"),
    ({}, "topics", "is required"),
    ({"topics": {"id": "police"}}, "topics", "must be list"),
    ({"topics": []}, "topics", "is empty"),
    ({"topics": ["police"]}, "topics[0]", "must be a mapping"),
    ({"topics": [topic(exprs="民警")]}, "topics[0].exprs", "unknown key"),
    ({"topics": [topic(id=None)]}, "topics[0].id", "is required"),
    ({"topics": [topic(id="Police Assault")]}, "topics[0].id", "not a valid topic id"),
    ({"topics": [topic(name=None)]}, "topics[0].name", "is required"),
    ({"topics": [topic(name="  ")]}, "topics[0].name", "is empty"),
    ({"topics": [topic(parent=["police"])]}, "topics[0].parent", "must be a topic id or null"),
    ({"topics": [topic(high_risk="yes")]}, "topics[0].high_risk", "must be true or false"),
    ({"topics": [topic(expr=110)]}, "topics[0].expr", "must be str"),
    ({"topics": [topic(id="a"), topic(id="b"), topic(id="c"), topic(id="d", expr=None)]},
     "topics[3].expr", "is required"),
    ({"topics": [topic(expr="袭警 OR OR 民警")]}, "topics[0].expr", "column 7"),
    ({"topics": [topic(expr="(袭警 OR 民警")]}, "topics[0].expr", "column 1: this '(' is never"),
    ({"topics": [topic(expr="袭警 民警")]}, "topics[0].expr", "column 4: expected AND or OR"),
    ({"topics": [topic(expr='袭警 OR "殴打民警')]}, "topics[0].expr", "column 7: this quote"),
    ({"topics": [topic(expr="袭警)")]}, "topics[0].expr", "column 3: ')' has no matching"),
    ({"topics": [topic(expr="   ")]}, "topics[0].expr", "the expression is empty"),
    ({"topics": [topic(expr="袭警 AND")]}, "topics[0].expr", "found the end"),
    ({"topics": [topic(expr="NOT 演练")]}, "topics[0].expr", "none of its terms"),
    ({"topics": [topic(expr="袭警\nOR AND 民警")]}, "topics[0].expr", "line 2, column 4"),
    ({"topics": [topic(), topic(name="重复")]}, "topics[1].id", "already the id of topics[0]"),
    ({"topics": [topic(), topic(id="police.assault", parent="polise")]}, "topics[1].parent",
     "'polise' is not the id of any topic"),
    ({"topics": [topic(), topic(id="police.assault", parent="police"),
                 topic(id="police.assault.knife", parent="police.assault")]},
     "topics[2].parent", "is not a category"),
])
def test_invalid_rules_name_file_field_and_problem(data: Any, field: str, problem: str) -> None:
    error = config_error(data)
    assert error.file == FILE
    assert error.field == field
    assert problem in error.problem
    assert error.fix, "every error says how to fix it"
    assert str(error).startswith(f"{FILE}: {field}: ")


def test_unknown_key_suggests_the_nearest_allowed_key() -> None:
    assert "did you mean 'expr'" in config_error({"topics": [topic(exprs="民警")]}).fix


def test_syntax_errors_name_the_topic() -> None:
    error = config_error({"topics": [topic(id="police.assault", expr="袭警 AND")]})
    assert "police.assault" in error.problem


def test_unknown_parent_lists_the_categories() -> None:
    error = config_error({"topics": [topic(), topic(id="police.assault", parent="polise")]})
    assert "police" in error.fix
