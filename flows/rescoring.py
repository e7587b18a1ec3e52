"""`jingyu rescore`: score stored posts again with the current model, rules and places."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from flows.scoring import load_scoring
from flows.settings import load_places, load_rules
from jingyu.progress import progress
from transforms.scoring import Scorer
from warehouse.rescoring import RescoreReport, posts_to_rescore, rescore_posts
from warehouse.store import Warehouse


def rescore(config_dir: str | Path | None = None, database_url: str | None = None,
            since: datetime | None = None, batch: int = 1000,
            sentiment_model: str | None = None) -> RescoreReport:
    """Rescore every post seen since `since` (all by default); see rescore_posts.
    `sentiment_model` overrides scoring.yaml's choice. A progress bar on a terminal."""
    scorer = Scorer(load_rules(config_dir), load_scoring(config_dir, sentiment_model),
                    places=load_places(config_dir))
    warehouse = Warehouse(database_url)
    try:
        total = posts_to_rescore(warehouse, since) if sys.stderr.isatty() else None
        with progress("rescoring", total) as done:
            return rescore_posts(warehouse, scorer.score_stored, since=since, batch=batch,
                                 on_posts=done)
    finally:
        warehouse.close()
