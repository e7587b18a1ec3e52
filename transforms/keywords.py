"""TF-IDF keywords from words already segmented, weighted by jieba's bundled IDF table."""
from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class IdfTable:
    """Inverse document frequencies; `median` stands in for words the table lacks."""

    idf: Mapping[str, float]
    median: float


def load_idf_table() -> IdfTable:
    """jieba's bundled IDF table, the one jieba.analyse.extract_tags uses."""
    import jieba.analyse  # loads the table and jieba.posseg; only a Scorer needs them

    default = jieba.analyse.default_tfidf
    return IdfTable(idf=default.idf_freq, median=default.median_idf)


def _is_keyword_candidate(word: str) -> bool:
    # As jieba.analyse: single characters say too little. Numbers (dates, counts) are not
    # topics, so a candidate needs a letter.
    return len(word) >= 2 and any(unicodedata.category(ch)[0] == "L" for ch in word)


def top_keywords(words: Sequence[str], idf: IdfTable, count: int) -> tuple[str, ...]:
    """The `count` words with the highest term frequency x IDF, best first.

    `words` are content words (segment.content_words); ties keep the order of first use.
    """
    frequencies = Counter(word for word in words if _is_keyword_candidate(word))
    # Dividing every TF by the same total would not change the order, so it is skipped.
    weights = {word: n * idf.idf.get(word, idf.median) for word, n in frequencies.items()}
    return tuple(sorted(weights, key=weights.__getitem__, reverse=True)[:count])
