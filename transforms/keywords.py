"""TF-IDF keywords from words already segmented, weighted by jieba's bundled IDF table."""
from __future__ import annotations

import functools
import heapq
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jieba


@dataclass(frozen=True)
class IdfTable:
    """Inverse document frequencies; `median` stands in for words the table lacks."""

    idf: Mapping[str, float]
    median: float


def load_idf_table() -> IdfTable:
    """jieba's bundled IDF table, the one jieba.analyse.extract_tags uses.

    Read from the file directly: importing jieba.analyse would also load jieba.posseg's
    tables, seconds of start-up `jingyu score` does not need.
    """
    path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    idf: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, freq = line.strip().split(" ")
        idf[word] = float(freq)
    # As jieba.analyse.tfidf.IDFLoader: the upper median.
    return IdfTable(idf=idf, median=sorted(idf.values())[len(idf) // 2])


@functools.lru_cache(maxsize=1 << 16)
def _is_keyword_candidate(word: str) -> bool:
    # As jieba.analyse: single characters say too little. Numbers (dates, counts) are not
    # topics, so a candidate needs a letter.
    return len(word) >= 2 and any(unicodedata.category(ch)[0] == "L" for ch in word)


def top_keywords(words: Sequence[str], idf: IdfTable, count: int) -> tuple[str, ...]:
    """The `count` words with the highest term frequency x IDF, best first.

    `words` are content words (segment.content_words); ties keep the order of first use.
    """
    # Counter(filter(...)) counts in C; the filter's test is cached per word.
    frequencies = Counter(filter(_is_keyword_candidate, words))
    # Dividing every TF by the same total would not change the order, so it is skipped.
    table, median = idf.idf, idf.median
    weights = {word: n * table.get(word, median) for word, n in frequencies.items()}
    # nlargest is sorted(...)[:count], ties in first-use order included, without sorting all.
    return tuple(heapq.nlargest(count, weights, key=weights.__getitem__))
