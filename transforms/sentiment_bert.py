"""The accurate path's transformer: one encoder pass gives the sentiment, the features the
police stance model reads (transforms.stance) and sentence vectors.

A 4-layer, 512-wide BERT (m3e-small, itself uer/chinese_roberta_L-4_H-512 trained further on
Chinese sentence pairs), fine-tuned for sentiment on the three training sets by
scripts/train_sentiment_bert.py (weights kept as models/sentiment_bert.npz, int8 with one
scale per output column). scripts/train_stance.py exports it as models/encoder.onnx for
onnxruntime's int8 kernels: weights with one scale per output channel, activations quantised
per run, the tokenizer's JSON in the metadata. It runs several times as fast as the float32
numpy forward pass this module used to run. Each text is its own run, so its activation
scales, and its scores, never depend on the other texts scored with it.

The n-gram model (transforms.sentiment_model) errs differently from the transformer, so the
accurate P(positive) is the mean of their logits (accurate_proba). models/MODEL_CARD.md has
the scores and speeds.

Thread safety: an onnxruntime session and a tokenizer may be called from several threads at
once; the loaded model is shared by the whole process (shipped_model).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from transforms import sentiment_model

MODELS = Path(__file__).resolve().parent / "models"
MODEL_PATH = MODELS / "encoder.onnx"
# The fine-tuned sentiment weights the encoder was built from (training input only).
SENTIMENT_WEIGHTS = MODELS / "sentiment_bert.npz"
FORMAT_VERSION = 2
VECTOR_SLICE = slice(512, 1024)
RUN_THREADS = 2               # texts encoded at once (the machines have two cores)


def quantize(matrix: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales, one scale per slice along the other axis (per output
    column of an (in, out) matrix with axis=0; per row of an embedding table with axis=1)."""
    scale = np.abs(matrix).max(axis=axis) / 127.0
    scale[scale == 0] = 1.0
    shaped = np.expand_dims(scale, axis)
    return np.round(matrix / shaped).astype(np.int8), scale.astype(np.float32)


class Encoded(NamedTuple):
    """What one encoder pass gives for each text, in input order."""

    sentiment: np.ndarray      # (n,) the transformer's P(positive)
    features: np.ndarray       # (n, 1536) top layer: first token, mean of tokens, pooled

    @property
    def vectors(self) -> np.ndarray:
        """(n, 512) sentence vectors: the mean of the top layer's token states."""
        return self.features[:, VECTOR_SLICE]


class SharedEncoder:
    """The exported encoder: tokenizer and onnxruntime session."""

    def __init__(self, path: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        # One thread per run, RUN_THREADS runs at once: a short text's matrices are too small
        # to split between cores (two threads per run did half the work per CPU-second).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(str(path), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own NoSuchFile, InvalidProtobuf, Fail ...
            raise RuntimeError(f"cannot read the encoder {path}: {exc} (fix: reinstall jingyu, "
                               "or rebuild it with scripts/train_stance.py)") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        version = int(meta.get("format_version", "0"))
        if version != FORMAT_VERSION:
            raise RuntimeError(f"{path} has model format {version}, this jingyu reads "
                               f"{FORMAT_VERSION} (fix: rebuild it with scripts/train_stance.py)")
        self.max_tokens = int(meta["max_tokens"])
        self.dimensions = int(meta["dimensions"])       # of the features
        self.tokenizer = Tokenizer.from_str(meta["tokenizer"])
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.no_padding()

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Sentiment and features of normalised texts, in one pass: one run per text (the
        int8 activation scales are per run), cut to max_tokens tokens."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        encodings = self.tokenizer.encode_batch(list(texts))
        sentiment = np.zeros(len(encodings), dtype=np.float64)
        features = np.zeros((len(encodings), self.dimensions), dtype=np.float32)

        def run(index: int) -> None:
            ids = np.array([encodings[index].ids], dtype=np.int64)
            logit, text_features = self.session.run(None, {"ids": ids, "mask": np.ones_like(ids)})
            sentiment[index] = logit[0]
            features[index] = text_features[0]

        if len(encodings) < 2:
            for index in range(len(encodings)):
                run(index)
        else:
            # onnxruntime releases the GIL while it runs; a pool per call, never one left
            # over from before a fork (jingyu score's workers are forked).
            with ThreadPoolExecutor(RUN_THREADS) as pool:
                list(pool.map(run, range(len(encodings))))
        return Encoded(1.0 / (1.0 + np.exp(-sentiment)), features)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The transformer's P(positive) for each text, in the input order."""
        if isinstance(texts, str):
            raise TypeError("predict_proba takes a sequence of texts, not one string")
        return self.encode(texts).sentiment


def load_model(path: str | Path = MODEL_PATH) -> SharedEncoder:
    return SharedEncoder(Path(path))


@functools.cache
def shipped_model() -> SharedEncoder:
    """The packaged encoder, loaded once per process."""
    return load_model()


def sentence_vectors(texts: Sequence[str]) -> np.ndarray:
    """(n, 512) vectors of normalised texts from the shipped encoder (the mean of the top
    layer's token states); texts about the same thing have a high cosine. Scoring computes
    them in its own pass (Encoded.vectors); this is for callers that only need vectors."""
    return shipped_model().encode(texts).vectors


def combine(p_transformer: np.ndarray, p_ngrams: np.ndarray) -> np.ndarray:
    """P(positive) from the mean of the two models' logits (equal weights, fixed in advance)."""
    def logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p))

    return 1.0 / (1.0 + np.exp(-(logit(p_transformer) + logit(p_ngrams)) / 2))


def accurate_proba(texts: Sequence[str], words: Sequence[Sequence[str]],
                   encoded: Encoded | None = None) -> np.ndarray:
    """The accurate model's P(positive) of normalised texts and their words
    (transforms.segment.segment, as the n-gram model needs them). Pass `encoded` when the
    encoder already ran on these texts."""
    if encoded is None:
        encoded = shipped_model().encode(texts)
    return combine(encoded.sentiment,
                   sentiment_model.shipped_model().predict_proba(texts, tokens=words))


def metadata(max_tokens: int, dimensions: int, tokenizer_json: str) -> dict[str, str]:
    """The metadata scripts/train_stance.py stores in encoder.onnx for load_model."""
    return {"format_version": str(FORMAT_VERSION), "max_tokens": str(max_tokens),
            "dimensions": str(dimensions), "tokenizer": tokenizer_json}


def tokenizer_json_from_npz(arrays: dict[str, np.ndarray]) -> str:
    """The tokenizer JSON stored in sentiment_bert.npz (scripts/train_sentiment_bert.py)."""
    return bytes(arrays["tokenizer"]).decode("utf-8")
