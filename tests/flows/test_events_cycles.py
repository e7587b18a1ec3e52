"""One real event, one incident, across many monitor cycles: benchmarks/eval_events.py's
scenario (concurrent happenings in neighbouring districts told in many wordings, reposts,
sensitive items, a surge, official statements, background chatter) through twelve real
30-minute cycles. Each happening that alerts is one incident, paged once however much it
grows; its statement is recorded (before detection: a negative delay)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

EVAL = Path(__file__).resolve().parents[2] / "benchmarks" / "eval_events.py"


def _eval_module():
    spec = importlib.util.spec_from_file_location("eval_events", EVAL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_each_happening_is_one_incident_paged_once_over_twelve_cycles():
    outcome = _eval_module().evaluate(seed=1, cycles=12)
    precision, recall, f1 = outcome.bcubed()
    assert f1 >= 0.9 and outcome.wrong_merges() == 0, (precision, recall)
    # The night market (45 posts over 2.5 hours, a sensitive item, a surge) and the
    # petition alert; each is one incident, no incident carries both, one page each.
    assert {"market", "petition"} <= set(outcome.incidents)
    assert all(len(ids) == 1 for ids in outcome.incidents.values()), outcome.incidents
    assert outcome.shared_incidents() == 0
    assert all(outcome.pages[label] == 1 for label in outcome.incidents), outcome.pages
    # Statements: the market's came after detection, the petition's before it.
    assert outcome.statements["market"] > 0 and outcome.statements["petition"] < 0
