"""Stance toward the police (transforms/stance.py, models/stance.npz): the target, not the
mood; only police-related texts get one; the cue features are the same in every process."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from transforms import stance
from transforms.scoring import Scorer
from transforms.stance import MODEL_PATH, STANCES, cue_features, load_model, shipped_model


# The failure modes of the old signal (general sentiment on police texts), from issue 15.
@pytest.mark.parametrize("text, expected", [
    ("这种畜生，警察一定要严惩！", "neutral"),          # anger at an offender
    ("恳请警方尽快破案，还孩子一个公道", "neutral"),       # an appeal
    ("报警有什么用，说了也白说", "negative"),             # distrust, no angry word
    ("某地民警殴打群众，涉事民警已停职", "negative"),       # a misconduct report, flat tone
    ("民警跳入冰冷的河里救起落水儿童", "positive"),        # a rescue with sad words
    ("派出所民警冒雪上门给瘫痪老人办理身份证，太暖心了", "positive"),
    ("警察不作为，出了事一个人影都没有", "negative"),
])
def test_stance_is_toward_the_police_not_the_mood(scorer: Scorer, text: str,
                                                  expected: str) -> None:
    row = scorer.score_texts([text])[0]
    assert row["police_related"]
    assert row["police_stance"] == expected
    assert 1 / 3 < row["police_stance_p"] <= 1


def test_only_police_related_texts_get_a_stance(scorer: Scorer) -> None:
    rows = scorer.score_texts(["今天天气不错，和朋友去公园散步。", "交警在路口指挥交通"])
    assert rows[0]["police_stance"] == "" and rows[0]["police_stance_p"] is None
    assert rows[1]["police_stance"] in STANCES


def test_the_two_models_are_combined_in_log_space_with_the_stored_share() -> None:
    model = shipped_model()
    rng = np.random.default_rng(3)
    features = rng.normal(size=(2, model.mean.shape[0])) * model.scale + model.mean
    texts, topics = ["派出所不作为", "感谢民警"], [("police", "police.misconduct"), ("police",)]
    both = model.proba(features, texts, topics)
    head, cues = model.head_proba(features), model.cue_proba(texts, topics)
    assert 0 < model.head_share < 1
    expected = head ** model.head_share * cues ** (1 - model.head_share)
    np.testing.assert_allclose(both, expected / expected.sum(1, keepdims=True), atol=1e-9)
    assert [label for label, _ in model.predict(features, texts, topics)] == [
        STANCES[k] for k in both.argmax(1)]


def test_cue_features_are_stable_across_processes() -> None:
    here = cue_features("民警殴打群众", ("police.enforcement_dispute",))
    code = ("from transforms.stance import cue_features;"
            "print(cue_features('民警殴打群众', ('police.enforcement_dispute',)))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert str(here) == there
    assert here != cue_features("民警殴打群众", ())       # the topic is a cue of its own
    assert all(0 <= column < stance.CUE_BUCKETS for column in here)


def test_the_words_next_to_a_police_word_are_cues_of_their_own() -> None:
    # "包庇" right after 警方 is a cue of what is said of the police (">包庇"), before it a
    # different one ("<包庇"); a text without a police word has the plain n-grams only.
    after, before = set(cue_features("警方包庇", ())), set(cue_features("包庇，警方", ()))
    assert stance._hashed(">包庇") in after and stance._hashed(">包庇") not in before
    assert stance._hashed("<包庇") in before and stance._hashed("<包庇") not in after
    plain = "学校包庇"
    assert set(cue_features(plain, ())) == {stance._hashed(plain[i:i + n]) for n in (1, 2, 3)
                                            for i in range(len(plain) - n + 1)}


def test_a_missing_or_foreign_model_file_is_named(tmp_path) -> None:
    assert MODEL_PATH.is_file() and MODEL_PATH.stat().st_size < 5_000_000
    with pytest.raises(RuntimeError, match=r"nothere\.npz.*train_stance\.py"):
        load_model(tmp_path / "nothere.npz")
    other = tmp_path / "other.npz"
    np.savez(other, format_version=np.array(99), stances=np.array(STANCES))
    with pytest.raises(RuntimeError, match=r"other\.npz has stance model format 99"):
        load_model(other)


def _target_check_rows() -> list[tuple[str, str]]:
    import csv
    from pathlib import Path

    path = Path(stance.__file__).resolve().parents[1] / "datasets" / "stance" / "target_check.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        return [(row["text"], row["kind"]) for row in csv.DictReader(handle)]


@pytest.mark.parametrize("text, kind", _target_check_rows())
def test_the_guides_target_words_tell_appeals_from_criticism(text: str, kind: str) -> None:
    # datasets/stance/target_check.csv: appeals and anger at an offender carry no criticism
    # cue (the guide's neutral cases), criticism sits next to a police word.
    cues = stance.target_cues(text)
    near = {f"${kind}<", f"${kind}>"}
    if kind in ("appeal", "offender"):
        assert f"${kind}_only" in cues
    else:
        assert cues & near, f"no {kind} word next to a police word in {text}: {sorted(cues)}"
    if kind != "criticism":
        assert not any(cue.startswith("$criticism") for cue in cues)
    assert {stance._hashed(cue) for cue in cues} <= set(cue_features(text, ()))


def test_target_words_count_only_in_texts_with_a_police_word() -> None:
    assert stance.target_cues("学校包庇，恳请严查") == set()
    assert stance.target_cues("学校包庇，恳请警方严查") >= {"$criticism", "$appeal>"}
