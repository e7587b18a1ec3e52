"""The accurate sentiment model (transforms/models/sentiment_bert.npz), run with numpy."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.transforms.sentiment_pairs import COMPLAINT_PRAISE_PAIRS
from transforms import sentiment_bert
from transforms.segment import load_tokenizer, segment
from transforms.sentiment_bert import (MODEL_PATH, accurate_proba, combine, load_model,
                                       quantize, shipped_model)
from transforms.sentiment_model import shipped_model as ngram_model
from transforms.text import normalise

TEXTS = [normalise(t) for pair in COMPLAINT_PRAISE_PAIRS for t in pair] + ["", "。。。", "110"]


def test_the_model_file_is_shipped_and_loads_once() -> None:
    assert MODEL_PATH.is_file()
    assert MODEL_PATH.stat().st_size < 40_000_000
    model = shipped_model()
    assert model is shipped_model()
    assert model.layers == 4 and model.word.shape[1] == 512


@pytest.mark.parametrize("complaint, praise", COMPLAINT_PRAISE_PAIRS)
def test_complaints_score_below_praise(complaint: str, praise: str) -> None:
    texts = [normalise(complaint), normalise(praise)]
    p_complaint, p_praise = shipped_model().predict_proba(texts)
    assert p_complaint < p_praise
    p_complaint, p_praise = accurate_proba(texts, [segment(t, load_tokenizer()) for t in texts])
    assert p_complaint < p_praise


@pytest.mark.parametrize("complaint, praise", COMPLAINT_PRAISE_PAIRS[:3])
def test_clear_cases_land_on_their_side(complaint: str, praise: str) -> None:
    texts = [normalise(complaint), normalise(praise)]
    p_complaint, p_praise = accurate_proba(texts, [segment(t, load_tokenizer()) for t in texts])
    assert p_complaint < 0.35 and p_praise > 0.65


def test_the_accurate_score_is_the_mean_of_the_two_models_logits() -> None:
    words = [segment(t, load_tokenizer()) for t in TEXTS]
    transformer = shipped_model().predict_proba(TEXTS)
    ngrams = ngram_model().predict_proba(TEXTS, words)
    both = accurate_proba(TEXTS, words)
    np.testing.assert_allclose(both, combine(transformer, ngrams), rtol=0, atol=1e-12)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    np.testing.assert_allclose(logit(both), (logit(transformer) + logit(ngrams)) / 2,
                               rtol=0, atol=1e-6)
    # Always between the two.
    assert np.all(both >= np.minimum(transformer, ngrams) - 1e-12)
    assert np.all(both <= np.maximum(transformer, ngrams) + 1e-12)


def test_batching_and_order_do_not_change_a_text_s_score() -> None:
    model = shipped_model()
    together = model.predict_proba(TEXTS)
    alone = [model.predict_proba([t])[0] for t in TEXTS]
    reversed_ = model.predict_proba(TEXTS[::-1])[::-1]
    assert together.shape == (len(TEXTS),) and np.all((together > 0) & (together < 1))
    # Padding in a batch of longer texts must not leak into a short one.
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-5)
    np.testing.assert_allclose(together, reversed_, rtol=0, atol=1e-5)


def test_long_texts_are_cut_to_the_training_length_and_batches_are_bounded(monkeypatch) -> None:
    model = shipped_model()
    long_text = "派出所民警态度恶劣，推诿扯皮。" * 200
    monkeypatch.setattr(sentiment_bert, "BATCH_TOKENS", 300)   # forces many small batches
    p = model.predict_proba([long_text, *TEXTS])
    assert p[0] < 0.35
    monkeypatch.undo()
    np.testing.assert_allclose(p[1:], model.predict_proba(TEXTS), rtol=0, atol=1e-5)


def test_one_string_is_refused() -> None:
    with pytest.raises(TypeError, match="sequence of texts"):
        shipped_model().predict_proba("民警")


def test_quantize_keeps_every_column_within_half_a_step() -> None:
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(64, 48)).astype(np.float32) * rng.uniform(0.01, 3, size=48)
    matrix[:, 5] = 0.0
    values, scale = quantize(matrix)
    assert values.dtype == np.int8 and scale.shape == (48,)
    restored = values.astype(np.float32) * scale
    assert np.all(np.abs(restored - matrix) <= scale / 2 + 1e-7)
    rows, row_scale = quantize(matrix, axis=1)
    assert row_scale.shape == (64,)
    assert np.all(np.abs(rows.astype(np.float32) * row_scale[:, None] - matrix)
                  <= row_scale[:, None] / 2 + 1e-7)


def test_a_missing_or_foreign_model_file_is_named(tmp_path) -> None:
    with pytest.raises(RuntimeError, match=r"nothere\.npz.*retrain"):
        load_model(tmp_path / "nothere.npz")
    other = tmp_path / "other.npz"
    np.savez(other, format_version=np.array(99),
             config=np.frombuffer(json.dumps({}).encode(), dtype=np.uint8))
    with pytest.raises(RuntimeError, match=r"other\.npz has model format 99"):
        load_model(other)
