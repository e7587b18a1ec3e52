"""Event grouping (pure): different wordings of one happening join, the beat's words do not
tie different happenings, sibling districts never share an event, and a bridging post merges
two halves of one happening."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from transforms.events import (
    EventPost,
    EventProfile,
    choose,
    event_place,
    Rarity,
    places_compatible,
)

T0 = datetime(2026, 11, 26, 10, 0)
LINJIANG = "qingchuan.linjiang"
BEIHU = "qingchuan.beihu"
# The beat: words most events of the past days use.
USING = Counter({"民警": 40, "派出所": 30, "辅警": 6, "报警": 25})


def profile(event_id: int, terms: list[str], place: str | None, size: int = 3) -> EventProfile:
    p = EventProfile(event_id, T0, T0 + timedelta(minutes=30), size)
    p.terms.update({t: size for t in terms})
    if place:
        p.places[place] = size
    return p


def post(terms: list[str], place: str | None, minutes: int = 40) -> EventPost:
    return EventPost(99, T0 + timedelta(minutes=minutes), frozenset(terms), place)


def weights(p: EventPost) -> Rarity:
    return Rarity(USING, 100)


def test_other_wording_of_the_same_happening_joins() -> None:
    market = profile(1, ["滨河路", "夜市", "辅警", "摊主", "推人"], f"{LINJIANG}.linjiang_pcs")
    p = post(["辅警", "夜市", "摊主", "视频", "过分"], LINJIANG)
    joining = choose(p, [market], weights(p))
    assert joining.event_id == 1 and joining.reason == "terms"
    assert set(joining.shared) >= {"夜市", "摊主"} and joining.place == LINJIANG


def test_words_of_the_beat_alone_do_not_join() -> None:
    market = profile(1, ["滨河路", "夜市", "辅警", "摊主", "民警", "派出所"], LINJIANG)
    p = post(["民警", "派出所", "老人", "迷路", "回家"], LINJIANG)
    assert choose(p, [market], weights(p)).event_id is None


def test_sibling_districts_never_share_an_event() -> None:
    market = profile(1, ["夜市", "摊主", "推人", "辅警"], LINJIANG)
    p = post(["夜市", "摊主", "推人", "辅警"], BEIHU)
    assert choose(p, [market], weights(p)).event_id is None
    # A post placed only at the city (its source's default) may join either.
    city = post(["夜市", "摊主", "推人", "辅警"], "qingchuan")
    assert choose(city, [market], weights(city)).event_id == 1


def test_too_late_for_the_window() -> None:
    market = profile(1, ["滨河路", "夜市", "摊主", "推人"], LINJIANG)
    p = post(["滨河路", "夜市", "摊主", "推人"], LINJIANG, minutes=60 * 30)
    assert choose(p, [market], weights(p)).event_id is None


def test_story_goes_first_and_a_strong_bridge_merges() -> None:
    p = EventPost(5, T0, frozenset(["a"]), None, story_event=7)
    assert choose(p, [], {}).reason == "story"
    first = profile(1, ["滨河路", "夜市", "摊主"], LINJIANG)
    second = profile(2, ["辅警", "推人", "阿姨", "滨河路"], LINJIANG)
    bridge = post(["滨河路", "夜市", "摊主", "推人", "阿姨"], LINJIANG)
    joining = choose(bridge, [first, second], weights(bridge))
    assert joining.event_id in (1, 2)
    assert {joining.event_id, *joining.bridged} == {1, 2}


def test_event_place_is_the_deepest_majority() -> None:
    assert event_place({f"{LINJIANG}.linjiang_pcs": 3, LINJIANG: 1, "qingchuan": 1}) == \
        f"{LINJIANG}.linjiang_pcs"
    assert event_place({LINJIANG: 2, BEIHU: 2}) == "qingchuan"
    assert event_place({}) is None
    assert places_compatible(LINJIANG, f"{LINJIANG}.x") and not places_compatible(LINJIANG, BEIHU)


def test_words_common_in_chinese_at_large_weigh_little() -> None:
    from transforms.events import general_specificity

    assert general_specificity("知道") < 0.2 and general_specificity("学生") < 0.2
    assert general_specificity("滨河路") == 1.0 and general_specificity("#police") == 1.0
    assert general_specificity("某个jieba不认识的地名") == 1.0
    rarity = Rarity({}, 0)
    assert rarity.weights(["知道"])["知道"] < rarity.weights(["摊主"])["摊主"]
