"""Evaluate scoring on a labelled CSV (`label,text`): sentiment (labels 1 positive, 0
negative) and stance toward the police (labels negative, neutral, positive).

`jingyu eval sentiment FILE.csv` calls evaluate_sentiment, `jingyu eval stance FILE.csv`
evaluate_stance; the metrics themselves are in transforms.evaluation.
"""
from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from transforms.evaluation import STANCE_LABELS, binary_metrics, stance_metrics
from transforms.records import ACCURATE
from transforms.rules import RuleSet

REQUIRED_COLUMNS = ("label", "text")
SENTIMENT_LABELS = ("0", "1")


class EvaluationDataError(ValueError):
    """The evaluation file is missing, unreadable or not `label,text` with 0/1 labels."""


def read_labelled_csv(csv_path: str | Path) -> tuple[list[int], list[str]]:
    """(labels, texts) of a sentiment `label,text` CSV: labels 0 or 1."""
    labels, texts = read_labels(csv_path, SENTIMENT_LABELS)
    return [int(label) for label in labels], texts


def read_labels(csv_path: str | Path, allowed: Sequence[str]) -> tuple[list[str], list[str]]:
    """(labels, texts) of a `label,text` CSV (UTF-8, optionally gzip'ed, BOM tolerated) whose
    labels are all in `allowed`."""
    labels, texts, _, _ = read_labelled_groups(csv_path, allowed)
    return labels, texts


# A column that splits a labelled file into groups scored apart (per source, per genre).
GROUP_COLUMNS = ("group", "genre", "source")


def read_labelled_groups(csv_path: str | Path, allowed: Sequence[str]
                         ) -> tuple[list[str], list[str], str | None, list[str]]:
    """read_labels, plus the first of GROUP_COLUMNS the file has (None: none) and its value
    on each row ("-" when empty), read in the same pass."""
    path = Path(csv_path)
    if not path.is_file():
        raise EvaluationDataError(f"{path}: no such file")
    opener: Callable[..., Any]
    if path.suffix == ".gz":
        import gzip
        opener = gzip.open
    else:
        opener = open
    labels: list[str] = []
    texts: list[str] = []
    groups: list[str] = []
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
            column = next((c for c in GROUP_COLUMNS if c in columns), None)
            reader.fieldnames = columns
            for line, row in enumerate(reader, start=2):
                raw = (row.get("label") or "").strip()
                if raw not in allowed:
                    raise EvaluationDataError(
                        f"{path}, line {line}: column 'label' must be "
                        f"{', '.join(allowed[:-1])} or {allowed[-1]}, got {raw!r}")
                labels.append(raw)
                texts.append(row.get("text") or "")
                if column is not None:
                    groups.append((row.get(column) or "").strip() or "-")
    except UnicodeDecodeError as exc:
        raise EvaluationDataError(f"{path}: not UTF-8 text ({exc})") from exc
    except csv.Error as exc:
        raise EvaluationDataError(f"{path}: not a readable CSV ({exc})") from exc
    if not labels:
        raise EvaluationDataError(f"{path}: no rows under the 'label,text' header")
    return labels, texts, column, groups


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


def evaluate_stance(csv_path: str | Path, rules: RuleSet) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall and "negative vs not" accuracy of the shipped
    stance model on a `label,text` CSV of police-related texts (labels negative, neutral,
    positive), every row scored as the pipeline scores a police-related post (`rules`: the
    RuleSet whose topics are cues; the shipped rules by default). Also counts the rows the
    relevance rule finds police-related."""
    from transforms import sentiment_bert, stance
    from transforms.police import find_police_terms
    from transforms.text import normalise

    labels, texts, column, groups = read_labelled_groups(csv_path, STANCE_LABELS)
    clean = [normalise(t) for t in texts]
    terms = [find_police_terms(t) for t in clean]
    # Labelled police-related: the rules' own topics where relevance finds no police word.
    topics = [tuple(hit.topic_id for hit in rules.match(t, found or None))
              for t, found in zip(clean, terms)]
    features = sentiment_bert.shipped_model().encode(clean).features
    predicted = [label for label, _ in stance.shipped_model().predict(features, clean, topics)]
    by_group = {}
    for name in dict.fromkeys(groups):
        rows = [k for k, group in enumerate(groups) if group == name]
        by_group[name] = {"rows": len(rows), **stance_metrics([labels[k] for k in rows],
                                                              [predicted[k] for k in rows])}
    return {"file": str(csv_path), "rows": len(labels),
            "counts": {cls: labels.count(cls) for cls in STANCE_LABELS},
            "police_related_found": sum(bool(t) for t in terms),
            **stance_metrics(labels, predicted), "group_column": column, "groups": by_group}

