"""Evaluate the sentiment model on a labelled CSV (`label,text`; 1 positive, 0 negative).

`jingyu eval sentiment FILE.csv` calls evaluate_sentiment; the metrics themselves are in
transforms.evaluation.
"""
from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from transforms.evaluation import binary_metrics
from transforms.records import ACCURATE

REQUIRED_COLUMNS = ("label", "text")


class EvaluationDataError(ValueError):
    """The evaluation file is missing, unreadable or not `label,text` with 0/1 labels."""


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
                       threshold: float = 0.5, model: str = ACCURATE) -> dict[str, Any]:
    """Accuracy, macro-F1 and ROC AUC of P(positive) on a `label,text` CSV.

    `predict` maps texts to P(positive); by default the shipped `model` (accurate or fast)
    on the normalised texts, as the pipeline scores them.
    Returns {"file", "rows", "positives", "accuracy", "macro_f1", "roc_auc", "threshold"}.
    """
    labels, texts = read_labelled_csv(csv_path)
    if predict is None:
        predict = functools.partial(shipped_predict, model=model)
    p = np.asarray(predict(texts), dtype=np.float64)
    if p.shape != (len(texts),):
        raise ValueError(f"predict returned shape {p.shape} for {len(texts)} texts")
    return {"file": str(csv_path), "rows": len(labels), "positives": int(sum(labels)),
            **binary_metrics(labels, p, threshold), "threshold": threshold}


def shipped_predict(texts: list[str], model: str = ACCURATE) -> np.ndarray:
    """P(positive) of raw texts by a shipped model, normalised and segmented as the pipeline
    does."""
    from transforms.scoring import sentiment_proba
    from transforms.segment import load_tokenizer, segment
    from transforms.text import normalise

    tokenizer = load_tokenizer()
    clean = [normalise(t) for t in texts]
    return sentiment_proba(model, clean, [segment(t, tokenizer) for t in clean])
