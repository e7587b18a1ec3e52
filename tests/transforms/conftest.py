"""Shared fixtures for the transforms tests: the shipped rules and one loaded Scorer."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from transforms.rules import RuleSet, parse_rules
from transforms.scoring import Scorer

RULES_PATH = Path(__file__).resolve().parents[2] / "config" / "rules.yaml"


@pytest.fixture(scope="session")
def shipped_rules() -> RuleSet:
    with RULES_PATH.open(encoding="utf-8") as f:
        return parse_rules(yaml.safe_load(f), RULES_PATH)


@pytest.fixture(scope="session")
def scorer(shipped_rules: RuleSet) -> Scorer:
    # Loading jieba's dictionary and the sentiment model takes seconds: do it once.
    return Scorer(shipped_rules)
