"""Evaluate the sentiment model on a labelled CSV (`label,text`; 1 positive, 0 negative).

`jingyu eval sentiment FILE.csv` calls evaluate_sentiment. The metrics are computed with
numpy alone, so evaluation needs nothing beyond the product's own dependencies.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REQUIRED_COLUMNS = ("label", "text")


class EvaluationDataError(ValueError):
    """The evaluation file is missing, unreadable or not `label,text` with 0/1 labels."""


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return float((labels == predicted).mean()) if len(labels) else float("nan")


def macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Mean over the classes 0 and 1 of F1; a class never predicted nor present scores 0."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    scores = []
    for cls in (0, 1):
        tp = float(np.sum((predicted == cls) & (labels == cls)))
        fp = float(np.sum((predicted == cls) & (labels != cls)))
        fn = float(np.sum((predicted != cls) & (labels == cls)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with ties counted half); NaN if one class."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average ranks (1-based) over tied scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(scores)]))
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + 1 + end) / 2.0
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def binary_metrics(labels: Sequence[int], p_positive: Sequence[float],
                   threshold: float = 0.5) -> dict[str, float]:
    """accuracy, macro_f1 (predicting positive when p >= threshold) and roc_auc."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(p_positive, dtype=np.float64)
    predicted = (p >= threshold).astype(np.int64)
    return {"accuracy": accuracy(y, predicted), "macro_f1": macro_f1(y, predicted),
            "roc_auc": roc_auc(y, p)}


def read_labelled_csv(csv_path: str | Path) -> tuple[list[int], list[str]]:
    """(labels, texts) of a `label,text` CSV (UTF-8, optionally gzip'ed, BOM tolerated)."""
    path = Path(csv_path)
    if not path.is_file():
        raise EvaluationDataError(f"{path}: no such file")
    opener: Callable[..., Any]
    if path.suffix == ".gz":
        import gzip
        opener = gzip.open
    else:
        opener = open
    labels: list[int] = []
    texts: list[str] = []
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                found = ", ".join(columns) or "none"
                raise EvaluationDataError(
                    f"{path}: missing column {', '.join(repr(c) for c in missing)}; "
                    f"the header must contain 'label' and 'text' (found: {found})")
            reader.fieldnames = columns
            for line, row in enumerate(reader, start=2):
                raw = (row.get("label") or "").strip()
                if raw not in ("0", "1"):
                    raise EvaluationDataError(
                        f"{path}, line {line}: column 'label' must be 0 or 1, got {raw!r}")
                labels.append(int(raw))
                texts.append(row.get("text") or "")
    except UnicodeDecodeError as exc:
        raise EvaluationDataError(f"{path}: not UTF-8 text ({exc})") from exc
    except csv.Error as exc:
        raise EvaluationDataError(f"{path}: not a readable CSV ({exc})") from exc
    if not labels:
        raise EvaluationDataError(f"{path}: no rows under the 'label,text' header")
    return labels, texts


def evaluate_sentiment(csv_path: str | Path,
                       predict: Callable[[list[str]], Sequence[float]] | None = None,
                       threshold: float = 0.5) -> dict[str, Any]:
    """Accuracy, macro-F1 and ROC AUC of P(positive) on a `label,text` CSV.

    `predict` maps texts to P(positive); by default the shipped model
    (transforms.sentiment_model) on the normalised texts, segmented as the pipeline does.
    Returns {"file", "rows", "positives", "accuracy", "macro_f1", "roc_auc", "threshold"}.
    """
    labels, texts = read_labelled_csv(csv_path)
    if predict is None:
        predict = _shipped_predict
    p = np.asarray(predict(texts), dtype=np.float64)
    if p.shape != (len(texts),):
        raise ValueError(f"predict returned shape {p.shape} for {len(texts)} texts")
    return {"file": str(csv_path), "rows": len(labels), "positives": int(sum(labels)),
            **binary_metrics(labels, p, threshold), "threshold": threshold}


def _shipped_predict(texts: list[str]) -> np.ndarray:
    from transforms.segment import load_tokenizer, segment
    from transforms.sentiment_model import shipped_model
    from transforms.text import normalise

    tokenizer = load_tokenizer()
    clean = [normalise(t) for t in texts]
    return shipped_model().predict_proba(clean, [segment(t, tokenizer) for t in clean])
