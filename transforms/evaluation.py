"""Classification metrics with numpy alone: binary (accuracy, macro-F1, ROC AUC) and the
three-way police stance."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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


STANCE_LABELS = ("negative", "neutral", "positive")


def stance_metrics(labels: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Three-way stance scores: accuracy, macro-F1 over the three classes, the recall of each
    class, and the accuracy of "negative vs not" (what the 涉警负面 series count)."""
    y, p = np.asarray(labels), np.asarray(predicted)
    f1s = []
    metrics: dict[str, float] = {"n": float(len(y)), "accuracy": accuracy(y, p)}
    for cls in STANCE_LABELS:
        tp = float(np.sum((p == cls) & (y == cls)))
        fp = float(np.sum((p == cls) & (y != cls)))
        fn = float(np.sum((p != cls) & (y == cls)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        metrics[f"recall_{cls}"] = tp / (tp + fn) if tp + fn else float("nan")
    metrics["macro_f1"] = float(np.mean(f1s))
    metrics["negative_vs_not_accuracy"] = accuracy(y == "negative", p == "negative")
    return metrics
