"""Sentiment from jieba words with snownlp's model: ordering on clear cases, and polarity."""
from __future__ import annotations

import pytest

from tests.transforms.sentiment_pairs import COMPLAINT_PRAISE_PAIRS
from transforms.records import NEGATIVE, NEUTRAL, POSITIVE
from transforms.segment import load_tokenizer, segment
from transforms.sentiment import PolarityThresholds, classify_sentiment, load_sentiment_model
from transforms.text import normalise


def probability(text: str, thresholds: PolarityThresholds = PolarityThresholds()) -> float:
    return sentiment(text, thresholds)[0]


def sentiment(text: str, thresholds: PolarityThresholds = PolarityThresholds()
              ) -> tuple[float, str]:
    return classify_sentiment(segment(normalise(text), load_tokenizer()),
                              load_sentiment_model(), thresholds)


@pytest.mark.parametrize("complaint, praise", COMPLAINT_PRAISE_PAIRS)
def test_complaints_score_below_praise(complaint: str, praise: str) -> None:
    assert probability(complaint) < probability(praise)


@pytest.mark.parametrize("complaint, praise", COMPLAINT_PRAISE_PAIRS[:2])
def test_clear_cases_land_on_their_side_of_the_neutral_band(complaint: str, praise: str) -> None:
    assert sentiment(complaint)[1] == NEGATIVE
    assert sentiment(praise)[1] == POSITIVE


def test_probability_is_between_zero_and_one() -> None:
    for pair in COMPLAINT_PRAISE_PAIRS:
        for text in pair:
            assert 0.0 <= probability(text) <= 1.0


def test_polarity_follows_the_thresholds() -> None:
    texts = [text for pair in COMPLAINT_PRAISE_PAIRS for text in pair]
    everything_neutral = PolarityThresholds(negative_below=0.0, positive_above=1.0)
    assert {sentiment(text, everything_neutral)[1] for text in texts} == {NEUTRAL}
    at_half = PolarityThresholds(negative_below=0.5, positive_above=0.5)
    for text in texts:
        p, polarity = sentiment(text, at_half)
        assert polarity == (NEGATIVE if p < 0.5 else POSITIVE if p > 0.5 else NEUTRAL)


def test_the_models_stopwords_are_ignored() -> None:
    model = load_sentiment_model()
    stopwords = [word for word in ("的", "了", "吧", "我们") if word in model.stopwords]
    assert stopwords, "snownlp's stop list should hold common function words"
    prior = classify_sentiment([], model, PolarityThresholds())[0]
    assert 0.0 < prior < 1.0
    assert classify_sentiment(stopwords, model, PolarityThresholds())[0] == pytest.approx(prior)
    with_word = classify_sentiment([*stopwords, "失望"], model, PolarityThresholds())[0]
    assert with_word < prior


@pytest.mark.parametrize("negative_below, positive_above", [(0.7, 0.3), (-0.1, 0.5), (0.5, 1.2)])
def test_thresholds_out_of_order_or_range_are_refused(negative_below: float,
                                                      positive_above: float) -> None:
    with pytest.raises(ValueError, match="negative_below"):
        PolarityThresholds(negative_below, positive_above)
