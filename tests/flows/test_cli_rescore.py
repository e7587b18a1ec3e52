"""`jingyu rescore` on real SQLite and PostgreSQL: scores, places and stories recomputed
after a rule change; a second run changes nothing."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from flows.cli import main
from transforms.records import ScoredPost
from warehouse.models import Post, PostBand, PostTopic, Story
from warehouse.store import Warehouse

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
SOURCE = SourceConfig(id="weibo", name="微博关键词", kind="feed", url="http://127.0.0.1/w.xml",
                      jurisdiction="qingchuan")
TEXTS = [
    "青川市临江区滨河路夜市发生一起纠纷，一名辅警在执法过程中推倒摆摊阿姨，现场视频引发热议。",
    "转发微博 青川市临江区滨河路夜市发生一起纠纷，一名辅警在执法过程中推倒摆摊阿姨，现场视频引发热议。",
    "北湖公园今天举办菊花展，市民游客络绎不绝。",
    "男子酒后袭警，将两名民警打伤，已被刑事拘留。",
]


def stale(i: int, text: str) -> ScoredPost:
    """A post as an old model scored it: nothing found, no places, no story keys."""
    seen = NOW + timedelta(minutes=i)
    raw = RawPost(source_id="weibo", external_id=f"w{i}", url=None, title="", body=text,
                  author=None, published_at=seen, fetched_at=seen)
    return ScoredPost(raw=raw, text=text, content_hash=f"old{i}", keywords=(),
                      police_related=False, police_terms=(), sentiment=0.5, polarity="neutral",
                      topics=("politics",), rule_hits=("politics: 书记",), high_risk=False)


def snapshot(url: str) -> dict[str, list]:
    wh = Warehouse(url)
    with wh.engine.connect() as conn:
        found = {
            "posts": [tuple(r) for r in conn.execute(select(Post).order_by(Post.id))],
            "topics": [tuple(r) for r in conn.execute(
                select(PostTopic).order_by(PostTopic.post_id, PostTopic.topic_id))],
            "stories": [tuple(r) for r in conn.execute(select(Story).order_by(Story.id))],
            "bands": [tuple(r) for r in conn.execute(
                select(PostBand).order_by(PostBand.band_key, PostBand.post_id))],
        }
    wh.close()
    return found


@pytest.fixture
def stored(warehouse_url: str) -> str:
    wh = Warehouse(warehouse_url)
    wh.sync_sources([SOURCE])
    posts = [stale(i, text) for i, text in enumerate(TEXTS)]
    result = FetchResult(source_id="weibo", status=FETCH_OK, cursor=SourceCursor(),
                         posts=tuple(p.raw for p in posts), http_status=200)
    wh.store_fetch(wh.start_run(NOW), result, posts, NOW)
    # As if stored before stories existed (migration 0004).
    with wh.engine.begin() as conn:
        conn.execute(update(Post).values(story_id=None))
        conn.execute(delete(PostBand))
        conn.execute(delete(Story))
    wh.close()
    return warehouse_url


def test_rescore_recomputes_then_changes_nothing(stored: str, tmp_path, capsys) -> None:
    config = tmp_path / "config"
    config.mkdir()
    for name in ("rules.yaml", "jurisdictions.yaml"):
        shutil.copy(REPO / "config" / name, config / name)
    args = ["rescore", "--database", stored, "--config", str(config), "--batch", "3"]

    assert main(args) == 0
    assert "rescored 4 posts: 4 changed" in capsys.readouterr().out
    first = snapshot(stored)
    posts = {row[2]: row for row in first["posts"]}           # by external_id
    columns = list(Post.__table__.columns.keys())

    def value(external_id: str, column: str):
        return posts[external_id][columns.index(column)]

    assert value("w3", "police_related") and "police.assault" in value("w3", "topics")
    # Stored before police_stance existed: rescoring gives police-related posts their stance.
    assert value("w0", "police_stance") == "negative" and value("w0", "police_stance_p") > 0.5
    assert value("w3", "police_stance") in ("negative", "neutral", "positive")
    assert value("w2", "police_stance") is None and value("w2", "police_stance_p") is None
    assert value("w0", "jurisdiction") == "qingchuan.linjiang.linjiang_pcs"
    assert value("w2", "jurisdiction") == "qingchuan.beihu.beihu_pcs"
    assert value("w0", "story_id") == value("w1", "story_id") != value("w2", "story_id")
    assert len(first["stories"]) == 3
    assert ("politics" not in {t[1] for t in first["topics"]}
            and any(t[1] == "police.assault" for t in first["topics"]))

    assert main(args) == 0
    assert "rescored 4 posts: 0 changed" in capsys.readouterr().out
    assert snapshot(stored) == first

    # A rule change: only what it touches changes.
    rules = (config / "rules.yaml").read_text(encoding="utf-8")
    (config / "rules.yaml").write_text(rules + """
  - id: culture
    name: 文化活动
    parent: null
    expr: 菊花展 OR 灯会
""", encoding="utf-8")
    assert main(args) == 0
    assert "rescored 4 posts: 1 changed" in capsys.readouterr().out


def test_rescore_since_reads_only_newer_posts(stored: str, capsys) -> None:
    since = (NOW + timedelta(minutes=2, hours=8)).strftime("%Y-%m-%d %H:%M")  # Asia/Shanghai
    assert main(["rescore", "--database", stored, "--since", since]) == 0
    assert "rescored 2 posts" in capsys.readouterr().out


def test_rescore_with_a_bad_date_exits_2(stored: str, capsys) -> None:
    assert main(["rescore", "--database", stored, "--since", "yesterday-ish"]) == 2
    assert "yesterday-ish" in capsys.readouterr().err
