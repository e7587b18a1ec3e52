"""Scorer end to end: a RawPost to a ScoredPost, and the table API behind `jingyu score`."""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from collectors.records import RawPost
from transforms.records import NEGATIVE, NEUTRAL, POSITIVE, ScoredPost
from transforms.scoring import SCORE_COLUMNS, Scorer
from transforms.text import content_hash

FETCHED = datetime(2024, 5, 3, 8, 0, tzinfo=timezone.utc)


def raw_post(title: str, body: str) -> RawPost:
    return RawPost(source_id="weibo-kw-xijing", external_id="4999", url="https://example.org/1",
                   title=title, body=body, author="网友", published_at=FETCHED,
                   fetched_at=FETCHED)


ASSAULT = raw_post(
    "男子酒后袭警被刑拘",
    "<p>5月2日晚，某派出所民警在处置一起纠纷时，男子酒后拒不配合，"
    "当场殴打民警&amp;辅警，致一名民警受伤。</p><p>目前该男子因涉嫌袭警罪已被刑事拘留。</p>"
    "<script>trackClick()</script>",
)


def test_score_a_post_end_to_end(scorer: Scorer) -> None:
    scored = scorer.score(ASSAULT)
    assert isinstance(scored, ScoredPost) and scored.raw is ASSAULT
    assert scored.text.startswith("男子酒后袭警被刑拘\n5月2日晚")
    assert "殴打民警&辅警" in scored.text and "trackClick" not in scored.text
    assert scored.content_hash == content_hash(scored.text)
    assert scored.police_related and {"派出所", "民警", "袭警"} <= set(scored.police_terms)
    assert {"police", "police.assault"} <= set(scored.topics)
    assert scored.high_risk
    assault_hit = next(hit for hit in scored.rule_hits if hit.startswith("police.assault: "))
    assert {"袭警", "殴打民警"} <= set(assault_hit.removeprefix("police.assault: ").split("+"))
    assert len(scored.rule_hits) == len(scored.topics)
    assert "袭警" in scored.keywords and len(scored.keywords) <= scorer.settings.keyword_count
    assert 0.0 <= scored.sentiment <= 1.0
    assert scored.polarity in (NEGATIVE, NEUTRAL, POSITIVE)


def test_a_post_about_nothing_sensitive(scorer: Scorer) -> None:
    scored = scorer.score(raw_post("", "今天天气不错，和朋友去公园散步，心情很好。"))
    assert not scored.police_related and scored.police_terms == ()
    assert scored.topics == () and scored.rule_hits == () and not scored.high_risk


def test_a_praise_post_is_not_high_risk(scorer: Scorer) -> None:
    scored = scorer.score(raw_post("暖心", "八旬老人走失，民警连夜寻找，帮助老人平安回家，"
                                           "家属送来锦旗表示感谢。"))
    assert "police.service" in scored.topics and not scored.high_risk


def test_score_many_keeps_order(scorer: Scorer) -> None:
    posts = [ASSAULT, raw_post("", "今天天气不错")]
    assert [s.raw for s in scorer.score_many(posts)] == posts
    assert [s.high_risk for s in scorer.score_many(posts)] == [True, False]


def test_score_texts_gives_flat_columns(scorer: Scorer) -> None:
    rows = scorer.score_texts(["拨打110报警后，<b>民警</b>赶到现场制止袭警行为", ""])
    assert [tuple(row) for row in rows] == [SCORE_COLUMNS, SCORE_COLUMNS]
    first = rows[0]
    assert first["police_terms"].split("|")[:3] == ["110", "报警", "民警"]
    assert {"police", "police.assault"} <= set(first["topics"].split("|"))
    assert first["police_related"] is True
    assert rows[1]["police_related"] is False and rows[1]["topics"] == ""


def test_score_texts_refuses_a_single_string(scorer: Scorer) -> None:
    with pytest.raises(TypeError):
        scorer.score_texts("民警")


def test_score_frame_adds_the_columns_and_keeps_the_rest(scorer: Scorer) -> None:
    frame = pd.DataFrame({"id": [7, 9], "text": ["男子袭警被刑拘", None]}, index=[10, 20])
    scored = scorer.score_frame(frame)
    assert list(scored.columns) == ["id", "text", *SCORE_COLUMNS]
    assert list(scored.index) == [10, 20] and list(scored["id"]) == [7, 9]
    assert "police.assault" in scored.loc[10, "topics"].split("|")
    assert scored.loc[20, "topics"] == ""


def test_score_frame_without_a_text_column_says_so(scorer: Scorer) -> None:
    with pytest.raises(ValueError, match="'text' column.*content, id"):
        scorer.score_frame(pd.DataFrame({"content": ["民警"], "id": [1]}))
