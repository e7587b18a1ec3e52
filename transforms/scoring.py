"""Score posts: clean, segment, keywords, 涉警 terms, sentiment and topic rules in one pass."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jieba
import pandas as pd

from collectors.records import RawPost
from transforms.keywords import IdfTable, load_idf_table, top_keywords
from transforms.police import find_police_terms
from transforms.records import ScoredPost
from transforms.rules import RuleSet, TopicHit
from transforms.segment import content_words, load_tokenizer, segment
from transforms.sentiment import (PolarityThresholds, SentimentModel, classify_sentiment,
                                  load_sentiment_model)
from transforms.text import clean_text, content_hash, post_text

# The columns score_texts gives each text, in order; list values are joined with "|".
SCORE_COLUMNS = ("sentiment", "polarity", "police_related", "police_terms", "topics", "keywords")
LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class ScoringSettings:
    keyword_count: int = 8
    polarity: PolarityThresholds = field(default_factory=PolarityThresholds)


class _Analysis(NamedTuple):
    keywords: tuple[str, ...]
    police_terms: tuple[str, ...]
    sentiment: float
    polarity: str
    hits: list[TopicHit]


class Scorer:
    """Holds what scoring needs loaded once (jieba dictionary, IDF table, sentiment model,
    compiled rules) and runs the stages over each text."""

    def __init__(self, rules: RuleSet, settings: ScoringSettings | None = None) -> None:
        self.rules = rules
        self.settings = settings or ScoringSettings()
        self._tokenizer: jieba.Tokenizer = load_tokenizer()
        self._idf: IdfTable = load_idf_table()
        self._sentiment: SentimentModel = load_sentiment_model()

    def _analyse(self, text: str) -> _Analysis:
        words = segment(text, self._tokenizer)
        sentiment, polarity = classify_sentiment(words, self._sentiment, self.settings.polarity)
        return _Analysis(
            keywords=top_keywords(content_words(words), self._idf, self.settings.keyword_count),
            police_terms=find_police_terms(text),
            sentiment=sentiment,
            polarity=polarity,
            hits=self.rules.match(text),
        )

    def score(self, raw: RawPost) -> ScoredPost:
        """Score one post; the text scored is its title and body."""
        text = post_text(raw.title, raw.body)
        analysis = self._analyse(text)
        return ScoredPost(
            raw=raw,
            text=text,
            content_hash=content_hash(text),
            keywords=analysis.keywords,
            police_related=bool(analysis.police_terms),
            police_terms=analysis.police_terms,
            sentiment=analysis.sentiment,
            polarity=analysis.polarity,
            topics=tuple(hit.topic_id for hit in analysis.hits),
            rule_hits=tuple(f"{hit.topic_id}: {'+'.join(hit.terms)}" for hit in analysis.hits),
            high_risk=any(self.rules.topics[hit.topic_id].high_risk for hit in analysis.hits),
        )

    def score_many(self, raws: Iterable[RawPost]) -> list[ScoredPost]:
        return [self.score(raw) for raw in raws]

    def score_texts(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """For each text (HTML or plain), the SCORE_COLUMNS as flat values for a table."""
        if isinstance(texts, str):
            raise TypeError("score_texts takes a sequence of texts, not one string")
        rows = []
        for text in texts:
            analysis = self._analyse(clean_text(text))
            rows.append({
                "sentiment": analysis.sentiment,
                "polarity": analysis.polarity,
                "police_related": bool(analysis.police_terms),
                "police_terms": LIST_SEPARATOR.join(analysis.police_terms),
                "topics": LIST_SEPARATOR.join(hit.topic_id for hit in analysis.hits),
                "keywords": LIST_SEPARATOR.join(analysis.keywords),
            })
        return rows

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of `frame` with the SCORE_COLUMNS added, scored from its `text` column."""
        if "text" not in frame.columns:
            found = ", ".join(map(str, frame.columns)) or "none"
            raise ValueError(f"the table needs a 'text' column to score; its columns are: {found}")
        texts = ["" if pd.isna(text) else str(text) for text in frame["text"]]
        scores = pd.DataFrame(self.score_texts(texts), columns=list(SCORE_COLUMNS),
                              index=frame.index)
        return frame.drop(columns=[c for c in SCORE_COLUMNS if c in frame.columns]).join(scores)
