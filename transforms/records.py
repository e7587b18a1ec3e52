"""Record type produced by the transforms: a post with its scores."""
from __future__ import annotations

from dataclasses import dataclass

from collectors.records import RawPost

NEGATIVE = "negative"
NEUTRAL = "neutral"
POSITIVE = "positive"

# The two sentiment models (models/MODEL_CARD.md has their scores and speeds).
ACCURATE = "accurate"     # fine-tuned transformer + n-grams: about 100 posts a second
FAST = "fast"             # the n-gram model: as fast as segmentation, less accurate
SENTIMENT_MODELS = (ACCURATE, FAST)


@dataclass(frozen=True)
class ScoredPost:
    raw: RawPost
    text: str                          # clean plain text: title + body, normalised
    content_hash: str                  # sha1 hex of the normalised text, for exact dedup
    keywords: tuple[str, ...]          # TF-IDF top terms
    police_related: bool               # 涉警
    police_terms: tuple[str, ...]      # police vocabulary found in the text
    sentiment: float                   # P(positive), 0..1
    polarity: str                      # NEGATIVE | NEUTRAL | POSITIVE
    topics: tuple[str, ...]            # topic ids whose rule fired, e.g. "police.assault"
    rule_hits: tuple[str, ...]         # "topic_id: matched terms" explanations
    high_risk: bool                    # some fired topic is marked high_risk in rules.yaml
    places: tuple[str, ...] = ()       # jurisdiction ids named in the text, most specific first
    story_keys: tuple[int, ...] = ()   # near-duplicate band keys (stories.fingerprints)
    # Stance toward the police (transforms.stance), police-related posts only, else None:
    police_stance: str | None = None   # NEGATIVE | NEUTRAL | POSITIVE
    police_stance_p: float | None = None   # the probability of that stance

    @property
    def negative(self) -> bool:
        """What the 涉警负面 signals count: negative toward the police for a police-related
        post, negative sentiment for any other."""
        if self.police_related:
            return self.police_stance == NEGATIVE
        return self.polarity == NEGATIVE
