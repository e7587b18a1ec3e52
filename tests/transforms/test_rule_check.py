"""The labelled rule-check set (datasets/stance/rule_check.csv): police casualties, police
violence and deaths in custody go to the high-risk topics, never to 为民服务; and the 涉警
category agrees with police relevance on every labelled text."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from transforms.police import find_police_terms
from transforms.rules import POLICE_CATEGORY, RuleSet
from transforms.text import clean_text, normalise

DATA = Path(__file__).resolve().parents[2] / "datasets" / "stance"


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


RULE_CHECK = _rows("rule_check.csv")


@pytest.mark.parametrize("row", RULE_CHECK, ids=[row["text"][:14] for row in RULE_CHECK])
def test_rule_check_set(shipped_rules: RuleSet, row: dict[str, str]) -> None:
    text = normalise(row["text"])
    fired = {hit.topic_id for hit in shipped_rules.match(text, find_police_terms(text))}
    # Checked: the police sub-topics and every high-risk topic; the categories follow them.
    checked = {topic for topic in fired
               if shipped_rules.topics[topic].parent == POLICE_CATEGORY
               or shipped_rules.topics[topic].high_risk}
    assert checked == set(filter(None, row["expected_topics"].split("|")))


def test_high_risk_police_posts_are_never_filed_as_service(shipped_rules: RuleSet) -> None:
    high_risk = [row for row in RULE_CHECK if any(
        shipped_rules.topics[topic].high_risk and topic.startswith(POLICE_CATEGORY + ".")
        for topic in row["expected_topics"].split("|") if topic)]
    assert len(high_risk) >= 20
    for row in high_risk:
        text = normalise(row["text"])
        assert "police.service" not in {hit.topic_id for hit in shipped_rules.match(text)}


def test_the_police_category_follows_relevance_on_every_labelled_text(
        shipped_rules: RuleSet) -> None:
    for row in _rows("labels.csv"):
        text = clean_text(row["text"])
        terms = find_police_terms(text)
        topics = {hit.topic_id for hit in shipped_rules.match(text, terms)}
        police_topics = {t for t in topics if POLICE_CATEGORY in
                         (t, shipped_rules.topics[t].parent)}
        assert (POLICE_CATEGORY in topics) == bool(terms), row["id"]
        assert bool(police_topics) == bool(terms), row["id"]
