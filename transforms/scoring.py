"""Score posts: clean, segment, keywords, 涉警 terms, sentiment, topic rules, places and the
near-duplicate fingerprint, in one pass."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jieba
import numpy as np
import pandas as pd

from collectors.records import RawPost
from jingyu.config import ConfigError, reject_unknown_keys
from transforms import sentiment_bert, sentiment_model, stance
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
# rule_hits explains each topic ("topic: term+term"); police_stance is negative, neutral or
# positive toward the police (empty when the text is not police-related) and police_stance_p
# its probability; places are jurisdiction ids, the most specific first; story_keys are the
# near-duplicate band keys (16 hex digits each): rows sharing a key are candidate copies.
SCORE_COLUMNS = ("sentiment", "polarity", "police_related", "police_terms", "police_stance",
                 "police_stance_p", "topics", "keywords", "rule_hits", "places", "story_keys")
LIST_SEPARATOR = "|"
# One batch is analysed at a time in a process, whichever thread asks: the encoder already
# spreads a batch over the cores (sentiment_bert.RUN_THREADS), so batches side by side only
# multiply threads, native buffers and memory (a cycle of 200 sources once ran 200 batches
# at once and died in native code). Threads that ask meanwhile wait their turn.
_SCORING_LANE = threading.Lock()


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


def sentiment_proba(model: str, texts: Sequence[str], words: Sequence[Sequence[str]],
                    encoded: sentiment_bert.Encoded | None = None) -> np.ndarray:
    """P(positive) of normalised texts and their words (segment.segment) by the named model
    (ACCURATE or FAST), in one batched call; `encoded`: the encoder's pass over these texts,
    when it already ran (ACCURATE)."""
    if model == FAST:
        return sentiment_model.shipped_model().predict_proba(texts, tokens=words)
    return sentiment_bert.accurate_proba(texts, words, encoded)


def police_stances(texts: Sequence[str], police: Sequence[bool],
                   topics: Sequence[Sequence[str]],
                   encoded: sentiment_bert.Encoded | None = None
                   ) -> list[tuple[str, float] | None]:
    """(stance, probability) toward the police of each police-related normalised text, None
    for the others. `encoded`: the encoder's pass over all the texts, when it already ran;
    otherwise the encoder runs on the police-related texts only."""
    chosen = [i for i, is_police in enumerate(police) if is_police]
    result: list[tuple[str, float] | None] = [None] * len(texts)
    if not chosen:
        return result
    if encoded is None:
        features = sentiment_bert.shipped_model().encode([texts[i] for i in chosen]).features
    else:
        features = encoded.features[chosen]
    predicted = stance.shipped_model().predict(features, [texts[i] for i in chosen],
                                               [topics[i] for i in chosen])
    for i, found in zip(chosen, predicted):
        result[i] = found
    return result


class _Analysis(NamedTuple):
    keywords: tuple[str, ...]
    police_terms: tuple[str, ...]
    sentiment: float
    polarity: str
    stance: tuple[str, float] | None
    hits: list[TopicHit]
    places: tuple[str, ...]
    story_keys: tuple[int, ...]


def _rule_hits(hits: Sequence[TopicHit]) -> tuple[str, ...]:
    return tuple(f"{hit.topic_id}: {'+'.join(hit.terms)}" for hit in hits)


class Scorer:
    """Holds what scoring needs loaded once (jieba dictionary, IDF table, sentiment model,
    compiled rules, the jurisdictions) and runs the stages over each text.

    Safe to share between threads: batches are analysed one at a time per process (the
    scoring lane); busy_s counts the seconds this scorer spent analysing, waits excluded.
    """

    def __init__(self, rules: RuleSet, settings: ScoringSettings | None = None,
                 places: Gazetteer = EMPTY_GAZETTEER) -> None:
        self.rules = rules
        self.settings = settings or ScoringSettings()
        self.places = places
        self._tokenizer: jieba.Tokenizer = load_tokenizer()
        self._idf: IdfTable = load_idf_table()
        self.busy_s = 0.0
        # Loaded now (once per process, shared by every Scorer), not in the first cycle. The
        # encoder serves the stance of police-related posts in both sentiment modes.
        sentiment_model.shipped_model()
        sentiment_bert.shipped_model()
        stance.shipped_model()

    def _analyse_many(self, texts: Sequence[str], threaded: Sequence[bool] | None = None
                      ) -> list[_Analysis]:
        """The analysis of each normalised text, in the scoring lane (one batch at a time);
        `threaded`: which texts are comments or reposts (their stance is read even without
        a police term of their own: their thread may be about the police)."""
        with _SCORING_LANE:
            started = time.perf_counter()
            try:
                return self._analyse_batch(texts, threaded or [False] * len(texts))
            finally:
                self.busy_s += time.perf_counter() - started

    def _analyse_batch(self, texts: Sequence[str], threaded: Sequence[bool]
                       ) -> list[_Analysis]:
        """One encoder pass serves sentiment and stance (the accurate model; the fast one
        runs the encoder on police-related texts only); the fingerprints are hashed as one
        batch."""
        words = [segment(text, self._tokenizer) for text in texts]
        terms = [find_police_terms(text) for text in texts]
        hits = [self.rules.match(text, text_terms) for text, text_terms in zip(texts, terms)]
        encoded = (sentiment_bert.shipped_model().encode(texts)
                   if self.settings.sentiment_model == ACCURATE else None)
        positive = sentiment_proba(self.settings.sentiment_model, texts, words, encoded)
        stances = police_stances(texts, [bool(t) or thread
                                         for t, thread in zip(terms, threaded)],
                                 [tuple(hit.topic_id for hit in found) for found in hits],
                                 encoded)
        return [_Analysis(
            keywords=top_keywords(content_words(text_words), self._idf,
                                  self.settings.keyword_count),
            police_terms=text_terms,
            sentiment=float(p),
            polarity=polarity(float(p), text, self.settings.polarity),
            stance=text_stance,
            hits=text_hits,
            places=self.places.find(text),
            story_keys=keys,
        ) for text, text_words, text_terms, text_hits, p, text_stance, keys in zip(
            texts, words, terms, hits, positive, stances, fingerprints(texts))]

    def score(self, raw: RawPost) -> ScoredPost:
        """Score one post; the text scored is its title and body."""
        return self.score_many([raw])[0]

    def score_many(self, raws: Iterable[RawPost]) -> list[ScoredPost]:
        raws = list(raws)
        return self.score_stored(raws, [post_text(raw.title, raw.body) for raw in raws])

    def score_stored(self, raws: Sequence[RawPost], texts: Sequence[str]) -> list[ScoredPost]:
        """Score posts whose text is already clean (post_text of an earlier scoring, as the
        warehouse stores it): rescoring after a model or rule change.

        A comment or repost (raw.parent_id) gets a stance toward the police even when its
        own text names no police: the warehouse counts it as police-related when its thread
        is (warehouse.store.police_threads), and "太过分了" under a video of an officer is
        opinion about the police."""
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
            police_stance=analysis.stance[0] if analysis.stance else None,
            police_stance_p=analysis.stance[1] if analysis.stance else None,
        ) for raw, text, analysis in zip(raws, texts, self._analyse_many(
            texts, [raw.parent_id is not None for raw in raws]))]

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
            "police_stance": analysis.stance[0] if analysis.stance else "",
            "police_stance_p": round(analysis.stance[1], 4) if analysis.stance else None,
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
