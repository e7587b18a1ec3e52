"""The scorer is shared by a cycle's task threads: scoring from many threads at once gives
exactly what scoring one batch after another gives, and its busy time is counted."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from collectors.records import RawPost
from flows.settings import load_places, load_rules
from transforms.scoring import Scorer


WHO = ["民警", "辅警", "交警", "网友", "摊贩", "司机"]
WHAT = ["路口发生争执", "救起落水儿童", "被指暴力执法", "破获电信诈骗案", "处置交通事故"]
WHERE = ["临江区", "北湖区", "夜市", "火车站"]


def _posts(batch: int, rng: random.Random) -> list[RawPost]:
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    return [RawPost(source_id=f"s{batch}", external_id=f"{batch}-{i}", url=None, title="",
                    body=f"{rng.choice(WHERE)}{rng.choice(WHO)}{rng.choice(WHAT)}（{i}）",
                    author=None, published_at=None, fetched_at=at)
            for i in range(12)]


def test_scoring_from_many_threads_matches_scoring_in_turn() -> None:
    scorer = Scorer(load_rules(), places=load_places())
    rng = random.Random(5)
    batches = [_posts(n, rng) for n in range(16)]
    in_turn = [scorer.score_many(batch) for batch in batches]
    busy = scorer.busy_s
    assert busy > 0
    with ThreadPoolExecutor(16) as pool:
        at_once = list(pool.map(scorer.score_many, batches))
    assert at_once == in_turn
    assert scorer.busy_s > busy
