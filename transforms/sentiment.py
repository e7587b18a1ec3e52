"""Baseline sentiment: snownlp's bundled naive Bayes (shopping reviews) over our words — kept
for benchmarks/bench_sentiment.py to compare the shipped model (transforms.sentiment_model) with."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from transforms.records import NEGATIVE, NEUTRAL, POSITIVE


@dataclass(frozen=True)
class PolarityThresholds:
    """P(positive) below `negative_below` is negative, above `positive_above` positive,
    and in between neutral."""

    negative_below: float = 0.4
    positive_above: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 <= self.negative_below <= self.positive_above <= 1.0:
            raise ValueError(
                f"need 0 <= negative_below <= positive_above <= 1, got {self.negative_below}"
                f" and {self.positive_above}")


@dataclass(frozen=True)
class SentimentModel:
    """A two-class (pos/neg) naive Bayes model and the stopwords removed before training it."""

    classifier: Any              # snownlp.classification.bayes.Bayes
    stopwords: frozenset[str]


def load_sentiment_model() -> SentimentModel:
    """snownlp's default model, trained on online-shopping reviews (snownlp issue #38)."""
    from snownlp import normal, sentiment  # loads the model files; only a Scorer needs them

    return SentimentModel(classifier=sentiment.classifier.classifier,
                          stopwords=frozenset(normal.stop))


def classify_sentiment(words: Sequence[str], model: SentimentModel,
                       thresholds: PolarityThresholds) -> tuple[float, str]:
    """(P(positive) in 0..1, polarity) of segmented words (segment.segment).

    The model's stopwords are dropped first, as in its training; no words at all give the
    model's prior.
    """
    features = [word for word in words if word not in model.stopwords]
    label, probability = model.classifier.classify(features)
    positive = probability if label == "pos" else 1.0 - probability
    if positive < thresholds.negative_below:
        return positive, NEGATIVE
    if positive > thresholds.positive_above:
        return positive, POSITIVE
    return positive, NEUTRAL
