"""The accurate sentiment model: a small Chinese transformer, fine-tuned, run with numpy,
averaged with the n-gram model.

A 4-layer, 512-wide BERT (m3e-small, itself uer/chinese_roberta_L-4_H-512 trained further on
Chinese sentence pairs), fine-tuned on the three training sets by
scripts/train_sentiment_bert.py and shipped as models/sentiment_bert.npz: weight matrices
as int8 with one scale per output column, the tokenizer's JSON inside the same file.
Inference is plain numpy (the `tokenizers` library splits the text), so no deep-learning
framework is needed at run time.

It reads characters in context, which the n-gram model (transforms.sentiment_model) cannot;
the two err differently, so the accurate P(positive) is the mean of their logits
(accurate_proba), better on every training domain than either alone. It is far slower: about
105 short Weibo posts a second on two cores, against some 34,000 for the n-gram model's
batch path. Scoring uses it when
scoring.yaml's sentiment.model is "accurate"; models/MODEL_CARD.md has the scores.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from transforms import sentiment_model

MODEL_PATH = Path(__file__).resolve().parent / "models" / "sentiment_bert.npz"
FORMAT_VERSION = 1
BATCH_TOKENS = 1024            # tokens per forward pass (measured fastest on two cores)


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, -1, keepdims=True)
    return centred / np.sqrt(var + eps) * gain + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form (within 1e-3 of BERT's erf form), with one temporary array."""
    inner = x * x
    inner *= 0.044715 * 0.7978845608
    inner += 0.7978845608
    inner *= x
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    inner *= 0.5
    return inner


def quantize(matrix: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales, one scale per slice along the other axis (per output
    column of an (in, out) matrix with axis=0; per row of an embedding table with axis=1)."""
    scale = np.abs(matrix).max(axis=axis) / 127.0
    scale[scale == 0] = 1.0
    shaped = np.expand_dims(scale, axis)
    return np.round(matrix / shaped).astype(np.int8), scale.astype(np.float32)


def _dequantize(values: np.ndarray, scale: np.ndarray, axis: int = 0) -> np.ndarray:
    return values.astype(np.float32) * np.expand_dims(scale, axis)


class BertSentimentModel:
    """P(positive) of each text, from the fine-tuned transformer."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        from tokenizers import Tokenizer

        config = json.loads(bytes(arrays["config"]).decode("utf-8"))
        self.layers = int(config["layers"])
        self.heads = int(config["heads"])
        self.max_tokens = int(config["max_tokens"])
        self.eps = float(config["eps"])
        self.tokenizer = Tokenizer.from_str(bytes(arrays["tokenizer"]).decode("utf-8"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.no_padding()

        def matrix(name: str) -> np.ndarray:
            return _dequantize(arrays[f"{name}.q"], arrays[f"{name}.s"])

        self.word = _dequantize(arrays["word.q"], arrays["word.s"], axis=1)
        self.position = arrays["position"].astype(np.float32)
        self.token_type = arrays["token_type"].astype(np.float32)
        self.emb_ln = (arrays["emb_ln.g"], arrays["emb_ln.b"])
        self.blocks = [{
            "qkv": (matrix(f"l{i}.qkv"), arrays[f"l{i}.qkv.b"]),
            "out": (matrix(f"l{i}.out"), arrays[f"l{i}.out.b"]),
            "ln1": (arrays[f"l{i}.ln1.g"], arrays[f"l{i}.ln1.b"]),
            "ff1": (matrix(f"l{i}.ff1"), arrays[f"l{i}.ff1.b"]),
            "ff2": (matrix(f"l{i}.ff2"), arrays[f"l{i}.ff2.b"]),
            "ln2": (arrays[f"l{i}.ln2.g"], arrays[f"l{i}.ln2.b"]),
        } for i in range(self.layers)]
        self.pool = (matrix("pool"), arrays["pool.b"])
        self.classifier = (arrays["cls.w"].astype(np.float32), arrays["cls.b"].astype(np.float32))

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        """Logit of positive for a batch of texts of one token length (ids: (batch, length))."""
        batch, length = ids.shape
        hidden = self.word.shape[1]
        head = hidden // self.heads
        # Token rows are kept as one (batch * length, hidden) matrix, so that every linear
        # layer is a single matrix product.
        x = (self.word[ids] + self.position[:length] + self.token_type).reshape(-1, hidden)
        x = _layer_norm(x, *self.emb_ln, self.eps)
        for block in self.blocks:
            weight, b = block["qkv"]
            qkv = (x @ weight + b).reshape(batch, length, 3, self.heads, head)
            # Contiguous copies: numpy's stacked matmul calls BLAS only on contiguous slices.
            q = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3))
            k = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1))
            v = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
            scores = q @ k
            scores *= 1.0 / math.sqrt(head)
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(-1, hidden)
            weight, b = block["out"]
            x = _layer_norm(x + context @ weight + b, *block["ln1"], self.eps)
            weight, b = block["ff1"]
            inner = _gelu(x @ weight + b)
            weight, b = block["ff2"]
            x = _layer_norm(x + inner @ weight + b, *block["ln2"], self.eps)
        weight, b = self.pool
        pooled = np.tanh(x.reshape(batch, length, hidden)[:, 0] @ weight + b)
        weight, b = self.classifier
        logits = pooled @ weight + b
        return logits[:, 1] - logits[:, 0]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) for each text, in the input order.

        Texts are batched with others of exactly their token length: nothing is padded, and a
        text's score depends on which texts share its batch only through BLAS rounding (below
        1e-7), so a file scored in chunks, on several processes or again later gives the same
        numbers to six decimals."""
        if isinstance(texts, str):
            raise TypeError("predict_proba takes a sequence of texts, not one string")
        by_length: dict[int, list[int]] = {}
        encodings = self.tokenizer.encode_batch(list(texts))
        for index, encoding in enumerate(encodings):
            by_length.setdefault(len(encoding.ids), []).append(index)
        logits = np.zeros(len(encodings), dtype=np.float64)
        for length, indexes in by_length.items():
            size = max(1, BATCH_TOKENS // length)
            for start in range(0, len(indexes), size):
                chunk = indexes[start:start + size]
                ids = np.array([encodings[i].ids for i in chunk], dtype=np.int64)
                logits[chunk] = self._forward(ids)
        return 1.0 / (1.0 + np.exp(-logits))


def load_model(path: str | Path = MODEL_PATH) -> BertSentimentModel:
    path = Path(path)
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot read the transformer sentiment model {path}: {exc} "
                           "(fix: reinstall jingyu, or retrain with "
                           "scripts/train_sentiment_bert.py)") from exc
    version = int(arrays.get("format_version", np.array(0)))
    if version != FORMAT_VERSION:
        raise RuntimeError(f"{path} has model format {version}, this jingyu reads "
                           f"{FORMAT_VERSION} (fix: retrain with scripts/train_sentiment_bert.py)")
    return BertSentimentModel(arrays)


@functools.cache
def shipped_model() -> BertSentimentModel:
    """The packaged model, loaded once per process."""
    return load_model()


def combine(p_transformer: np.ndarray, p_ngrams: np.ndarray) -> np.ndarray:
    """P(positive) from the mean of the two models' logits (equal weights, fixed in advance)."""
    def logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p))

    return 1.0 / (1.0 + np.exp(-(logit(p_transformer) + logit(p_ngrams)) / 2))


def accurate_proba(texts: Sequence[str], words: Sequence[Sequence[str]]) -> np.ndarray:
    """The accurate model's P(positive) of normalised texts and their words
    (transforms.segment.segment, as the n-gram model needs them)."""
    return combine(shipped_model().predict_proba(texts),
                   sentiment_model.shipped_model().predict_proba(texts, tokens=words))
