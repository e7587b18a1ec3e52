"""Score posts: clean, segment, keywords, 涉警 terms, sentiment, topic rules, places and the
near-duplicate fingerprint, in one pass."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jieba
import numpy as np
import pandas as pd

from collectors.records import RawPost
from jingyu.config import ConfigError, reject_unknown_keys
from transforms import sentiment_bert, sentiment_model
from transforms.keywords import IdfTable, load_idf_table, top_keywords
from transforms.places import EMPTY_GAZETTEER, Gazetteer
from transforms.police import find_police_terms
from transforms.records import ACCURATE, FAST, SENTIMENT_MODELS, ScoredPost
from transforms.rules import RuleSet, TopicHit
from transforms.segment import content_words, load_tokenizer, segment
from transforms.sentiment_model import ThreeWay, polarity
from transforms.stories import fingerprints
from transforms.text import clean_text, content_hash, post_text

# The columns score_texts gives each text, in order; list values are joined with "|".
# rule_hits explains each topic ("topic: term+term"); places are jurisdiction ids, the most
# specific first; story_keys are the near-duplicate band keys (16 hex digits each): rows
# sharing a key are candidate copies of one story.
SCORE_COLUMNS = ("sentiment", "polarity", "police_related", "police_terms", "topics", "keywords",
                 "rule_hits", "places", "story_keys")
LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class ScoringSettings:
    keyword_count: int = 8
    polarity: ThreeWay = field(default_factory=ThreeWay)
    sentiment_model: str = ACCURATE

    def __post_init__(self) -> None:
        if self.sentiment_model not in SENTIMENT_MODELS:
            raise ValueError(f"unknown sentiment model {self.sentiment_model!r}: use "
                             f"{' or '.join(SENTIMENT_MODELS)}")


def parse_scoring(data: Any, file: str | Path) -> ScoringSettings:
    """Validate scoring.yaml (`sentiment: {model: accurate|fast}`); ConfigError names the
    field. An empty file means the defaults."""
    if data is None:
        return ScoringSettings()
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", f"must be a mapping, got {type(data).__name__}",
                          "start the file with 'sentiment:'")
    reject_unknown_keys(data, ("sentiment",), file)
    sentiment = data.get("sentiment") or {}
    if not isinstance(sentiment, dict):
        raise ConfigError(file, "sentiment", f"must be a mapping, got {type(sentiment).__name__}",
                          "write 'sentiment:' then '  model: accurate' on the next line")
    reject_unknown_keys(sentiment, ("model",), file, "sentiment")
    model = sentiment.get("model", ACCURATE)
    if model not in SENTIMENT_MODELS:
        raise ConfigError(file, "sentiment.model", f"must be {' or '.join(SENTIMENT_MODELS)}, "
                          f"got {model!r}", "accurate for monitoring, fast for bulk scoring")
    return ScoringSettings(sentiment_model=model)


def sentiment_proba(model: str, texts: Sequence[str],
                    words: Sequence[Sequence[str]]) -> np.ndarray:
    """P(positive) of normalised texts and their words (segment.segment) by the named model
    (ACCURATE or FAST), in one batched call."""
    if model == FAST:
        return sentiment_model.shipped_model().predict_proba(texts, tokens=words)
    return sentiment_bert.accurate_proba(texts, words)


class _Analysis(NamedTuple):
    keywords: tuple[str, ...]
    police_terms: tuple[str, ...]
    sentiment: float
    polarity: str
    hits: list[TopicHit]
    places: tuple[str, ...]
    story_keys: tuple[int, ...]


def _rule_hits(hits: Sequence[TopicHit]) -> tuple[str, ...]:
    return tuple(f"{hit.topic_id}: {'+'.join(hit.terms)}" for hit in hits)


class Scorer:
    """Holds what scoring needs loaded once (jieba dictionary, IDF table, sentiment model,
    compiled rules, the jurisdictions) and runs the stages over each text."""

    def __init__(self, rules: RuleSet, settings: ScoringSettings | None = None,
                 places: Gazetteer = EMPTY_GAZETTEER) -> None:
        self.rules = rules
        self.settings = settings or ScoringSettings()
        self.places = places
        self._tokenizer: jieba.Tokenizer = load_tokenizer()
        self._idf: IdfTable = load_idf_table()
        # Loaded now (once per process, shared by every Scorer), not in the first cycle.
        sentiment_model.shipped_model()
        if self.settings.sentiment_model == ACCURATE:
            sentiment_bert.shipped_model()

    def _analyse_many(self, texts: Sequence[str]) -> list[_Analysis]:
        """The analysis of each normalised text; the fingerprints are hashed as one batch."""
        words = [segment(text, self._tokenizer) for text in texts]
        positive = sentiment_proba(self.settings.sentiment_model, texts, words)
        analyses = []
        for text, text_words, p, keys in zip(texts, words, positive, fingerprints(texts)):
            sentiment = float(p)
            police_terms = find_police_terms(text)
            analyses.append(_Analysis(
                keywords=top_keywords(content_words(text_words), self._idf,
                                      self.settings.keyword_count),
                police_terms=police_terms,
                sentiment=sentiment,
                polarity=polarity(sentiment, text, self.settings.polarity),
                hits=self.rules.match(text, police_terms),
                places=self.places.find(text),
                story_keys=keys,
            ))
        return analyses

    def score(self, raw: RawPost) -> ScoredPost:
        """Score one post; the text scored is its title and body."""
        return self.score_many([raw])[0]

    def score_many(self, raws: Iterable[RawPost]) -> list[ScoredPost]:
        raws = list(raws)
        return self.score_stored(raws, [post_text(raw.title, raw.body) for raw in raws])

    def score_stored(self, raws: Sequence[RawPost], texts: Sequence[str]) -> list[ScoredPost]:
        """Score posts whose text is already clean (post_text of an earlier scoring, as the
        warehouse stores it): rescoring after a model or rule change."""
        return [ScoredPost(
            raw=raw,
            text=text,
            content_hash=content_hash(text),
            keywords=analysis.keywords,
            police_related=bool(analysis.police_terms),
            police_terms=analysis.police_terms,
            sentiment=analysis.sentiment,
            polarity=analysis.polarity,
            topics=tuple(hit.topic_id for hit in analysis.hits),
            rule_hits=_rule_hits(analysis.hits),
            high_risk=any(self.rules.topics[hit.topic_id].high_risk for hit in analysis.hits),
            places=analysis.places,
            story_keys=analysis.story_keys,
        ) for raw, text, analysis in zip(raws, texts, self._analyse_many(texts))]

    def score_texts(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """For each text (HTML or plain), the SCORE_COLUMNS as flat values for a table."""
        if isinstance(texts, str):
            raise TypeError("score_texts takes a sequence of texts, not one string")
        join = LIST_SEPARATOR.join
        return [{
            "sentiment": analysis.sentiment,
            "polarity": analysis.polarity,
            "police_related": bool(analysis.police_terms),
            "police_terms": join(analysis.police_terms),
            "topics": join(hit.topic_id for hit in analysis.hits),
            "keywords": join(analysis.keywords),
            "rule_hits": join(_rule_hits(analysis.hits)),
            "places": join(analysis.places),
            "story_keys": join(f"{key:016x}" for key in analysis.story_keys),
        } for analysis in self._analyse_many([clean_text(text) for text in texts])]

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of `frame` with the SCORE_COLUMNS added, scored from its `text` column."""
        if "text" not in frame.columns:
            found = ", ".join(map(str, frame.columns)) or "none"
            raise ValueError(f"the table needs a 'text' column to score; its columns are: {found}")
        texts = ["" if pd.isna(text) else str(text) for text in frame["text"]]
        scores = pd.DataFrame(self.score_texts(texts), columns=list(SCORE_COLUMNS),
                              index=frame.index)
        return frame.drop(columns=[c for c in SCORE_COLUMNS if c in frame.columns]).join(scores)
