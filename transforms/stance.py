"""Stance toward the police (涉警立场) of police-related texts: negative, neutral or positive.

Not the writer's mood: "这种畜生，警察一定要严惩！" is angry but not against the police, and
"哈哈，这效率，真是人民的好警察" is cheerful but is. Two models, trained on the hand-labelled
datasets/stance (its GUIDE.md says what each stance means) by scripts/train_stance.py and
shipped together in models/stance.npz:

- an encoder head: a logistic regression on the shared encoder's features of the text
  (transforms.sentiment_bert, the same pass that gives the accurate sentiment, so stance adds
  no transformer pass);
- a cue model: a logistic regression on hashed character 1-3-grams, on the characters right
  before and after each police word (what is said of the police: "警方包庇", "警察干啥吃的",
  "相信警方", "@云南警方"), and on the topics the rules fire (执法争议 and 违纪作风 point at
  the police as the wrongdoer, 袭警 and 民警伤亡 at the police as victims, 英模 and 为民服务
  at praise).

The stance is the class with the highest weighted mean log-probability of the two (the
weight is stored with the model; train_stance.py chooses it by cross-validation on the
training rows). numpy only.
"""
from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transforms.police import police_term_spans
from transforms.records import NEGATIVE, NEUTRAL, POSITIVE

MODEL_PATH = Path(__file__).resolve().parent / "models" / "stance.npz"
FORMAT_VERSION = 2
STANCES = (NEGATIVE, NEUTRAL, POSITIVE)
CUE_BUCKETS = 1 << 18
# Characters read on each side of a police word for the target cues.
TARGET_WINDOW = 8


def _hashed(key: str) -> int:
    return zlib.crc32(key.encode("utf-8")) % CUE_BUCKETS


def cue_features(text: str, topics: Sequence[str]) -> list[int]:
    """Hashed cue columns of a normalised text: its character 1-, 2- and 3-grams, the
    character 1- and 2-grams within TARGET_WINDOW characters before ("<") and after (">")
    each police word, and its topic ids. crc32, so the columns are the same in every process
    and on every machine."""
    columns = {_hashed("#" + topic) for topic in topics}
    for n in (1, 2, 3):
        columns.update(_hashed(text[i:i + n]) for i in range(len(text) - n + 1))
    for start, end in police_term_spans(text):
        for side, window in (("<", text[max(0, start - TARGET_WINDOW):start]),
                             (">", text[end:end + TARGET_WINDOW])):
            for n in (1, 2):
                columns.update(_hashed(side + window[i:i + n])
                               for i in range(len(window) - n + 1))
    return sorted(columns)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class StanceModel:
    mean: np.ndarray            # (features,) standardisation of the encoder features
    scale: np.ndarray           # (features,)
    head_weights: np.ndarray    # (features, 3)
    head_bias: np.ndarray       # (3,)
    cue_weights: np.ndarray     # (3, CUE_BUCKETS), float16
    cue_bias: np.ndarray        # (3,)
    head_share: float = 0.5     # weight of the encoder head's log-probabilities

    def head_log_proba(self, features: np.ndarray) -> np.ndarray:
        standard = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return _log_softmax(standard @ self.head_weights + self.head_bias)

    def cue_log_proba(self, texts: Sequence[str], topics: Sequence[Sequence[str]]) -> np.ndarray:
        logits = np.empty((len(texts), len(STANCES)), dtype=np.float64)
        for row, (text, text_topics) in enumerate(zip(texts, topics)):
            columns = cue_features(text, text_topics)
            logits[row] = self.cue_weights[:, columns].sum(axis=1, dtype=np.float64)
        return _log_softmax(logits + self.cue_bias)

    def head_proba(self, features: np.ndarray) -> np.ndarray:
        return np.exp(self.head_log_proba(features))

    def cue_proba(self, texts: Sequence[str], topics: Sequence[Sequence[str]]) -> np.ndarray:
        return np.exp(self.cue_log_proba(texts, topics))

    def proba(self, features: np.ndarray, texts: Sequence[str],
              topics: Sequence[Sequence[str]]) -> np.ndarray:
        """(n, 3) P(negative, neutral, positive): the renormalised weighted mean of the two
        models' log-probabilities (head_share for the encoder head, the rest for the cues)."""
        if len(texts) == 0:
            return np.zeros((0, len(STANCES)))
        share = float(self.head_share)
        return np.exp(_log_softmax(share * self.head_log_proba(features)
                                   + (1 - share) * self.cue_log_proba(texts, topics)))

    def predict(self, features: np.ndarray, texts: Sequence[str],
                topics: Sequence[Sequence[str]]) -> list[tuple[str, float]]:
        """(stance, its probability) of each text."""
        proba = self.proba(features, texts, topics)
        return [(STANCES[k], float(row[k])) for row, k in zip(proba, proba.argmax(axis=1))]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, format_version=np.array(FORMAT_VERSION),
                            stances=np.array(STANCES), mean=self.mean, scale=self.scale,
                            head_weights=self.head_weights, head_bias=self.head_bias,
                            cue_weights=self.cue_weights, cue_bias=self.cue_bias,
                            head_share=np.array(self.head_share))


def load_model(path: str | Path = MODEL_PATH) -> StanceModel:
    path = Path(path)
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot read the stance model {path}: {exc} (fix: reinstall "
                           "jingyu, or retrain with scripts/train_stance.py)") from exc
    version = int(arrays.get("format_version", np.array(0)))
    if version != FORMAT_VERSION or tuple(arrays["stances"]) != STANCES:
        raise RuntimeError(f"{path} has stance model format {version}, this jingyu reads "
                           f"{FORMAT_VERSION} (fix: retrain with scripts/train_stance.py)")
    return StanceModel(**{name: arrays[name] for name in (
        "mean", "scale", "head_weights", "head_bias", "cue_weights", "cue_bias")},
        head_share=float(arrays["head_share"]))


@functools.cache
def shipped_model() -> StanceModel:
    """The packaged stance model, loaded once per process."""
    return load_model()
