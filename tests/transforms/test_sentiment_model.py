"""The shipped sentiment model (transforms/models/sentiment.npz) and flows.evaluate."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from flows.evaluate import EvaluationDataError, evaluate_sentiment
from tests.transforms.sentiment_pairs import COMPLAINT_PRAISE_PAIRS
from transforms.evaluation import roc_auc
from transforms.records import NEGATIVE, NEUTRAL, POSITIVE
from transforms.segment import load_tokenizer, segment
from transforms.sentiment_model import (MODEL_PATH, ThreeWay, factual_score, load_model,
                                        polarity, shipped_model)
from transforms.text import normalise

TEXTS = [text for pair in COMPLAINT_PRAISE_PAIRS for text in pair] + ["", "。。。", "110"]


def words_of(texts: list[str]) -> tuple[list[str], list[list[str]]]:
    clean = [normalise(t) for t in texts]
    return clean, [segment(t, load_tokenizer()) for t in clean]


def test_the_model_file_is_shipped_and_small() -> None:
    assert MODEL_PATH.is_file()
    assert MODEL_PATH.stat().st_size < 20_000_000
    model = shipped_model()
    assert model is shipped_model()          # loaded once
    assert len(model.vocab) == model.weights.shape[0] > 1000


@pytest.mark.parametrize("complaint, praise", COMPLAINT_PRAISE_PAIRS)
def test_complaints_score_below_praise(complaint: str, praise: str) -> None:
    texts, words = words_of([complaint, praise])
    p_complaint, p_praise = shipped_model().predict_proba(texts, words)
    assert p_complaint < p_praise


@pytest.mark.parametrize("complaint, praise", COMPLAINT_PRAISE_PAIRS[:2])
def test_clear_cases_land_on_their_side(complaint: str, praise: str) -> None:
    texts, words = words_of([complaint, praise])
    p_complaint, p_praise = shipped_model().predict_proba(texts, words)
    assert p_complaint < 0.35 and p_praise > 0.65


def test_text_without_known_features_is_undecided() -> None:
    texts, words = words_of(["", "   "])
    np.testing.assert_array_equal(shipped_model().predict_proba(texts, words), [0.5, 0.5])


def test_batch_equals_single_and_is_deterministic() -> None:
    texts, words = words_of(TEXTS)
    model = shipped_model()
    batch = model.predict_proba(texts, words)
    assert batch.shape == (len(TEXTS),)
    assert np.all((batch >= 0) & (batch <= 1))
    singles = [model.predict_one(t, w) for t, w in zip(texts, words)]
    np.testing.assert_allclose(batch, singles, rtol=0, atol=1e-9)
    one_by_one = [model.predict_proba([t], [w])[0] for t, w in zip(texts, words)]
    np.testing.assert_allclose(batch, one_by_one, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(batch, model.predict_proba(texts, words))
    np.testing.assert_array_equal(batch, load_model(MODEL_PATH).predict_proba(texts, words))
    # Order in the batch does not matter.
    np.testing.assert_allclose(batch[::-1], model.predict_proba(texts[::-1], words[::-1]),
                               atol=1e-9)


def test_tokens_default_to_the_pipeline_segmentation() -> None:
    texts, words = words_of(TEXTS[:4])
    model = shipped_model()
    np.testing.assert_allclose(model.predict_proba(texts), model.predict_proba(texts, words))


def test_bad_inputs_are_refused() -> None:
    model = shipped_model()
    with pytest.raises(TypeError):
        model.predict_proba("一条文本")
    with pytest.raises(ValueError, match="2 texts but 1 token lists"):
        model.predict_proba(["a", "b"], [["a"]])
    assert model.predict_proba([], []).shape == (0,)


def test_domain_gate_is_a_distribution() -> None:
    texts, words = words_of(TEXTS[:4])
    gate = shipped_model().domain_weights(texts, words)
    assert gate.shape == (4, 3)
    np.testing.assert_allclose(gate.sum(axis=1), 1.0)


NEWS = [
    "3月5日，某市公安局发布警情通报：经查，犯罪嫌疑人王某已被依法刑事拘留，案件正在进一步调查中。",
    "据新华社报道，公安部召开会议，部署开展打击电信网络诈骗专项行动。",
    "记者从市交管局获悉，5月1日起，市区部分路段将实行单向通行。",
]
OPINIONS = [
    "警察叔叔太棒了，为你们点赞！",
    "这种执法简直让人气死，凭什么打人？",
]


def test_factual_news_reads_as_factual_and_opinions_do_not() -> None:
    assert all(factual_score(text) >= 0.5 for text in NEWS)
    assert all(factual_score(text) < 0.5 for text in OPINIONS)


def test_three_way_polarity() -> None:
    bands = ThreeWay()
    assert polarity(0.05, "", bands) == NEGATIVE
    assert polarity(0.5, "", bands) == NEUTRAL
    assert polarity(0.95, "", bands) == POSITIVE
    # A factual report needs a confident score to leave neutral.
    assert polarity(0.25, NEWS[0], bands) == NEUTRAL
    assert polarity(0.25, OPINIONS[1], bands) == NEGATIVE
    assert polarity(0.02, NEWS[0], bands) == NEGATIVE


# ---- flows.evaluate ----------------------------------------------------------------------

def write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_evaluate_sentiment_metrics_by_hand(tmp_path) -> None:
    csv_path = write(tmp_path / "small.csv",
                     "label,text\n1,a\n1,b\n1,c\n0,d\n0,e\n")
    scores = {"a": 0.9, "b": 0.4, "c": 0.7, "d": 0.6, "e": 0.1}
    result = evaluate_sentiment(csv_path, predict=lambda texts: [scores[t] for t in texts])
    # Predicted at 0.5: a 1, b 0, c 1, d 1, e 0 -> 3 of 5 right.
    assert result["rows"] == 5 and result["positives"] == 3
    assert result["accuracy"] == pytest.approx(3 / 5)
    # class 1: tp 2, fp 1, fn 1 -> F1 4/6; class 0: tp 1, fp 1, fn 1 -> F1 2/4.
    assert result["macro_f1"] == pytest.approx((4 / 6 + 2 / 4) / 2)
    # Positive/negative pairs ranked right: a>d a>e b>e c>d c>e (b<d wrong) -> 5 of 6.
    assert result["roc_auc"] == pytest.approx(5 / 6)


def test_roc_auc_counts_ties_half() -> None:
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.array([1, 1, 0]), np.array([0.3, 0.8, 0.3])) == pytest.approx(0.75)
    assert np.isnan(roc_auc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_evaluate_sentiment_with_the_shipped_model(tmp_path) -> None:
    rows = [f"0,{c}" for c, _ in COMPLAINT_PRAISE_PAIRS] + [f"1,{p}" for _, p in
                                                             COMPLAINT_PRAISE_PAIRS]
    csv_path = tmp_path / "police.csv.gz"
    with gzip.open(csv_path, "wt", encoding="utf-8") as f:
        f.write("\ufefflabel,text\n" + "\n".join(rows) + "\n")
    result = evaluate_sentiment(csv_path)
    assert result["rows"] == 8 and result["positives"] == 4
    assert result["roc_auc"] == 1.0          # every praise above every complaint
    assert result["accuracy"] >= 0.75


def test_missing_column_names_file_and_column(tmp_path) -> None:
    csv_path = write(tmp_path / "bad.csv", "polarity,text\n1,好\n")
    with pytest.raises(EvaluationDataError, match=r"bad\.csv.*'label'"):
        evaluate_sentiment(csv_path, predict=lambda texts: [0.5] * len(texts))


def test_bad_label_names_file_line_and_column(tmp_path) -> None:
    csv_path = write(tmp_path / "labels.csv", "label,text\n1,好\npositive,很好\n")
    with pytest.raises(EvaluationDataError, match=r"labels\.csv, line 3: column 'label'"):
        evaluate_sentiment(csv_path, predict=lambda texts: [0.5] * len(texts))


def test_missing_or_empty_file(tmp_path) -> None:
    with pytest.raises(EvaluationDataError, match="no such file"):
        evaluate_sentiment(tmp_path / "nope.csv")
    with pytest.raises(EvaluationDataError, match="empty.csv"):
        evaluate_sentiment(write(tmp_path / "empty.csv", ""))
