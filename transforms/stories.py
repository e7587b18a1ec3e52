"""Near-duplicate fingerprints for stories: MinHash over character shingles, split into LSH
band keys, so reposts and syndicated copies are found by key lookup, never by all pairs."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

# Posts are short (a Weibo post is a few dozen characters): a repost prefix ("转发微博
# //@某某:") or a dropped sentence changes a large share of word-level features, which is
# why SimHash's few-bit threshold misses such copies. Character 3-grams of the letters and
# digits (punctuation, emoji and spacing ignored, as in text.content_hash) keep the overlap.
SHINGLE = 3
# Two posts are one story when their shingle sets overlap this much (Jaccard).
SAME_STORY = 0.5
# 8 bands of 4 MinHash values: a pair with Jaccard 0.8 shares a band with probability 0.98,
# at 0.5 with 0.40 (then checked exactly against SAME_STORY), at 0.1 with 0.001.
BANDS = 8
ROWS = 4


def _constants(name: str, count: int, bits: int) -> list[int]:
    # Derived from a hash, not a random generator whose stream may change between numpy
    # releases: the keys stored in the warehouse must stay comparable across upgrades.
    return [int.from_bytes(hashlib.blake2b(f"jingyu.stories.{name}.{i}".encode(),
                                           digest_size=8).digest(), "little") >> (64 - bits)
            for i in range(count)]


# A shingle id is mixed into 32 bits once; each MinHash permutation is then x -> a*x + b
# mod 2**32 with a odd (a bijection): 32-bit arithmetic, half the memory traffic of 64.
_MIX = np.uint64(0x9E3779B97F4A7C15)
_MULTIPLIERS = np.array([c | 1 for c in _constants("multiplier", BANDS * ROWS, 32)],
                        dtype=np.uint32)
_OFFSETS = np.array(_constants("offset", BANDS * ROWS, 32), dtype=np.uint32)
_ROW_MULTIPLIERS = np.array([c | 1 for c in _constants("row", ROWS, 64)], dtype=np.uint64)
_BAND_OFFSETS = np.array(_constants("band", BANDS, 64), dtype=np.uint64)
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def story_text(text: str) -> str:
    """What near-duplicate detection compares: the letters and digits of a normalised text
    (text.normalise), case-folded."""
    return _NOT_LETTER_OR_DIGIT.sub("", text.casefold())


def shingles(text: str) -> frozenset[str]:
    """The distinct character 3-grams of story_text(text), for jaccard(); a shorter text is
    its own one shingle."""
    kept = story_text(text)
    if len(kept) <= SHINGLE:
        return frozenset([kept]) if kept else frozenset()
    return frozenset(kept[i:i + SHINGLE] for i in range(len(kept) - SHINGLE + 1))


def fingerprints(texts: Sequence[str]) -> list[tuple[int, ...]]:
    """For each normalised text, its BANDS locality-sensitive keys; () for a text without
    letters or digits.

    Posts that share a key are candidates for one story (then compared with jaccard()).
    Keys are non-negative 63-bit integers (they fit a signed BIGINT), the same in every
    process and run. Texts are hashed together: numpy's cost per call is paid once a batch.
    """
    kept = [story_text(text) for text in texts]
    # Pad short texts to one shingle; empty ones take no part.
    padded = [k + "\0" * (SHINGLE - len(k)) if 0 < len(k) < SHINGLE else k for k in kept]
    lengths = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
    has_text = lengths > 0
    if not has_text.any():
        return [() for _ in texts]
    # A code point has 21 bits: three pack exactly into one 63-bit shingle id.
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    packed = (codes[:-2] << np.uint64(42)) | (codes[1:-1] << np.uint64(21)) | codes[2:]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    # The shingles of text i start at starts[i] .. ends[i] - SHINGLE; the others straddle two.
    counts = np.where(has_text, lengths - (SHINGLE - 1), 0)
    gram_starts = np.repeat(starts, counts) + (np.arange(counts.sum())
                                               - np.repeat(np.cumsum(counts) - counts, counts))
    mixed = ((packed[gram_starts] * _MIX) >> np.uint64(32)).astype(np.uint32)
    # (permutation, shingle): reducing along contiguous rows is several times faster.
    hashed = _MULTIPLIERS[:, None] * mixed + _OFFSETS[:, None]
    first = (np.cumsum(counts) - counts)[has_text]
    signatures = np.minimum.reduceat(hashed, first, axis=1).T.reshape(-1, BANDS, ROWS)
    keys = ((signatures.astype(np.uint64) * _ROW_MULTIPLIERS).sum(axis=2, dtype=np.uint64)
            + _BAND_OFFSETS
            ) >> np.uint64(1)
    rows = iter(keys.tolist())
    return [tuple(next(rows)) if present else () for present in has_text.tolist()]


def fingerprint(text: str) -> tuple[int, ...]:
    """fingerprints() of one text."""
    return fingerprints([text])[0]


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
