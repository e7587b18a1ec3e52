"""The shared encoder (transforms/models/encoder.onnx, run by onnxruntime): the accurate
sentiment, the stance features and sentence vectors from one pass."""
from __future__ import annotations

import numpy as np
import pytest

from tests.transforms.sentiment_pairs import COMPLAINT_PRAISE_PAIRS
from transforms.segment import load_tokenizer, segment
from transforms.sentiment_bert import (
    MODEL_PATH,
    SENTIMENT_WEIGHTS,
    accurate_proba,
    combine,
    load_model,
    quantize,
    sentence_vectors,
    shipped_model,
)
from transforms.sentiment_model import shipped_model as ngram_model
from transforms.text import normalise

TEXTS = [normalise(t) for pair in COMPLAINT_PRAISE_PAIRS for t in pair] + ["", "。。。", "110"]


def test_the_model_file_is_shipped_and_loads_once() -> None:
    assert MODEL_PATH.is_file() and SENTIMENT_WEIGHTS.is_file()
    assert MODEL_PATH.stat().st_size < 30_000_000
    model = shipped_model()
    assert model is shipped_model()
    assert model.max_tokens == 160 and model.dimensions == 3 * 512


def test_one_pass_gives_sentiment_features_and_vectors() -> None:
    encoded = shipped_model().encode(TEXTS)
    assert encoded.sentiment.shape == (len(TEXTS),)
    assert encoded.features.shape == (len(TEXTS), 1536)
    assert encoded.vectors.shape == (len(TEXTS), 512)
    np.testing.assert_allclose(encoded.sentiment, shipped_model().predict_proba(TEXTS),
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(sentence_vectors(TEXTS), encoded.vectors, rtol=0, atol=1e-6)


def test_sentence_vectors_are_closer_for_texts_about_the_same_thing() -> None:
    a, b, c = sentence_vectors(["民警救起落水儿童", "警察把落水的孩子救上了岸",
                                "这家酒店的早餐很难吃"])
    cosine = lambda u, v: float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))  # noqa: E731
    assert cosine(a, b) > cosine(a, c)


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
    # One run per text: its score does not depend on the texts scored with it.
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-9)
    np.testing.assert_allclose(together, reversed_, rtol=0, atol=1e-9)


def test_long_texts_are_cut_to_the_training_length() -> None:
    model = shipped_model()
    long_text = "派出所民警态度恶劣，推诿扯皮。" * 200
    assert len(model.tokenizer.encode(long_text).ids) == model.max_tokens
    p = model.predict_proba([long_text, *TEXTS])
    assert p[0] < 0.35
    np.testing.assert_allclose(p[1:], model.predict_proba(TEXTS), rtol=0, atol=1e-9)


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


def test_the_encoder_matches_the_sentiment_weights_it_was_built_from() -> None:
    """encoder.onnx holds the weights of sentiment_bert.npz: its sentiment is the fine-tuned
    model's up to int8 activation rounding."""
    import json
    import math

    with np.load(SENTIMENT_WEIGHTS) as data:
        arrays = {name: data[name] for name in data.files}
    config = json.loads(bytes(arrays["config"]).decode())
    ids = shipped_model().tokenizer.encode(TEXTS[0]).ids

    def dq(name: str) -> np.ndarray:
        return arrays[f"{name}.q"].astype(np.float32) * arrays[f"{name}.s"]

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        centred = x - x.mean(-1, keepdims=True)
        return (centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + config["eps"])
                * arrays[f"{name}.g"] + arrays[f"{name}.b"])

    x = (arrays["word.q"][ids].astype(np.float32) * arrays["word.s"][ids, None]
         + arrays["position"][:len(ids)].astype(np.float32) + arrays["token_type"])
    x = norm(x, "emb_ln")
    heads, head = config["heads"], 512 // config["heads"]
    for i in range(config["layers"]):
        qkv = (x @ dq(f"l{i}.qkv") + arrays[f"l{i}.qkv.b"]).reshape(len(ids), 3, heads, head)
        q, k, v = (qkv[:, j].transpose(1, 0, 2) for j in range(3))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(head)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(len(ids), 512)
        x = norm(x + context @ dq(f"l{i}.out") + arrays[f"l{i}.out.b"], f"l{i}.ln1")
        inner = x @ dq(f"l{i}.ff1") + arrays[f"l{i}.ff1.b"]
        inner = 0.5 * inner * (1 + np.tanh(0.7978845608 * (inner + 0.044715 * inner ** 3)))
        x = norm(x + inner @ dq(f"l{i}.ff2") + arrays[f"l{i}.ff2.b"], f"l{i}.ln2")
    pooled = np.tanh(x[0] @ dq("pool") + arrays["pool.b"])
    logits = pooled @ arrays["cls.w"] + arrays["cls.b"]
    expected = 1 / (1 + np.exp(-(logits[1] - logits[0])))
    assert abs(shipped_model().predict_proba([TEXTS[0]])[0] - expected) < 0.05


def test_a_missing_or_foreign_model_file_is_named(tmp_path) -> None:
    with pytest.raises(RuntimeError, match=r"nothere\.onnx.*scripts/train_stance\.py"):
        load_model(tmp_path / "nothere.onnx")
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match=r"cannot read the encoder .*other\.onnx"):
        load_model(other)
