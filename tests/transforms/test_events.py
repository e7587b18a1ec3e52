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


def test_a_lone_post_long_before_needs_more_than_a_busy_event() -> None:
    # The same two specific words: minutes apart they are one happening's posts; an hour
    # and a half apart, with nothing in between, likely two people's everyday talk.
    lone = profile(1, ["快递", "送错", "小区"], None, size=1)
    lone.last_seen = lone.first_seen
    near = EventPost(9, T0 + timedelta(minutes=5), frozenset(["快递", "送错", "火车站"]), None)
    assert choose(near, [lone], weights(near)).event_id == 1
    far = EventPost(9, T0 + timedelta(minutes=90), frozenset(["快递", "送错", "火车站"]), None)
    assert choose(far, [lone], weights(far)).event_id is None
    # A busy event (a post every minute or two for an hour) still takes it.
    busy = profile(2, ["快递", "送错", "小区"], None, size=40)
    busy.last_seen = T0 + timedelta(minutes=60)
    assert choose(far, [busy], weights(far)).event_id == 2


def test_an_official_statement_joins_its_event_hours_later() -> None:
    market = profile(1, ["滨河路", "夜市", "辅警", "摊主"], LINJIANG, size=4)
    late = T0 + timedelta(hours=5)
    statement = EventPost(9, late, frozenset(["通报", "滨河路", "夜市", "辅警", "执法", "纠纷"]),
                          LINJIANG, official=True)
    assert choose(statement, [market], weights(statement)).event_id == 1
    talk = EventPost(9, late, statement.terms, LINJIANG)
    assert choose(talk, [market], weights(talk)).event_id is None


def test_talk_chained_through_one_word_or_another_is_no_magnet() -> None:
    # Twenty posts, each sharing a word or two with another: the event's centroid is spread
    # out, so a post sharing two of its words is not close to it ...
    chain = EventProfile(1, T0, T0 + timedelta(minutes=30), 20)
    for i in range(20):
        chain.terms.update([f"词{i}", f"词{i + 1}", f"杂{i}"])
    p = EventPost(9, T0 + timedelta(minutes=32), frozenset(["词3", "词4", "某某店", "某某桥"]),
                  None)
    assert choose(p, [chain], weights(p)).event_id is None
    # ... while a happening whose posts keep saying the same specifics is.
    market = EventProfile(2, T0, T0 + timedelta(minutes=30), 20)
    for i in range(20):
        market.terms.update(["滨河路", "夜市", f"杂{i}"])
    q = EventPost(9, T0 + timedelta(minutes=32), frozenset(["滨河路", "夜市", "某某店", "某某桥"]),
                  None)
    assert choose(q, [market], weights(q)).event_id == 2


def busy(event_id: int, shares: dict[str, int], place: str | None, size: int = 12,
         minutes: int = 40) -> EventProfile:
    """An event of `size` posts over `minutes`, `shares`: how many of them use each term."""
    p = EventProfile(event_id, T0, T0 + timedelta(minutes=minutes), size)
    p.terms.update(shares)
    if place:
        p.places[place] = size
    return p


def test_a_busy_event_takes_a_post_by_its_signature_word_and_a_second_sign() -> None:
    station = f"{LINJIANG}.linjiang_pcs"
    market = busy(1, {"辅警": 11, "滨河路": 8, "夜市": 5, "摊主": 4, "#police": 12,
                      "#police.enforcement_dispute": 4}, station)
    rarity = Rarity(Counter({**USING, "#police": 90, "#police.enforcement_dispute": 3}), 100,
                    Counter({"辅警": 14, "滨河路": 8}))
    # One of its words, said the poster's own way, with the same rare rule topic.
    angry = EventPost(99, T0 + timedelta(minutes=35), frozenset(
        {"辅警", "执法权", "严查", "打人", "#police", "#police.enforcement_dispute"}), "qingchuan")
    joining = choose(angry, [market], rarity)
    assert joining.event_id == 1 and joining.reason == "signature"
    # Its street, placed in its station's area.
    crowd = EventPost(98, T0 + timedelta(minutes=38), frozenset(
        {"滨河路", "横幅", "公道", "#police"}), station)
    assert choose(crowd, [market], rarity).reason == "signature"
    # The word alone, with only the beat's topic, is not enough...
    plain = EventPost(97, T0 + timedelta(minutes=35), frozenset(
        {"辅警", "过马路", "老人", "#police"}), "qingchuan")
    assert choose(plain, [market], rarity).event_id is None
    # ... nor a word the city uses as much outside the event (the beat's word, not its own).
    common = Rarity(rarity.using, 100, Counter({"辅警": 40, "滨河路": 8}))
    assert choose(angry, [market], common).event_id is None
    # ... nor once the event has gone quiet,
    late = EventPost(96, T0 + timedelta(hours=4), angry.terms, "qingchuan")
    assert choose(late, [market], rarity).event_id is None
    # ... nor a small event, nor a word under half of its posts use.
    small = busy(2, {"辅警": 4, "滨河路": 4, "#police": 4,
                     "#police.enforcement_dispute": 2}, station, size=4, minutes=10)
    assert choose(angry, [small], rarity).event_id is None
    few = EventPost(95, T0 + timedelta(minutes=35), frozenset(
        {"摊主", "执法权", "#police", "#police.enforcement_dispute"}), "qingchuan")
    assert choose(few, [market], rarity).event_id is None
    # A sibling district never joins, signature or not.
    beihu = EventPost(94, T0 + timedelta(minutes=38), crowd.terms, BEIHU)
    assert choose(beihu, [market], rarity).event_id is None


def test_the_beats_words_are_never_a_signature() -> None:
    """民警 in every post of a school scuffle is still the beat's word: chatter about 民警
    checking for drunk drivers does not join by it, whatever the warehouse has counted."""
    school = busy(3, {"民警": 12, "江滨中学": 10, "学生": 9, "#police": 12, "#police.traffic": 4},
                  None)
    rarity = Rarity(Counter({"#police": 90, "#police.traffic": 3}), 100, Counter({"民警": 12}))
    chatter = EventPost(90, T0 + timedelta(minutes=35), frozenset(
        {"民警", "查酒", "体育馆", "#police", "#police.traffic"}), "qingchuan")
    assert choose(chatter, [school], rarity).event_id is None
    named = EventPost(91, T0 + timedelta(minutes=35), frozenset(
        {"江滨中学", "家长群", "#police", "#police.traffic"}), "qingchuan")
    assert choose(named, [school], rarity).reason == "signature"


def test_a_district_is_too_wide_a_second_sign() -> None:
    station = f"{LINJIANG}.linjiang_pcs"
    market = busy(1, {"辅警": 11, "滨河路": 8, "#police": 12}, station)
    rarity = Rarity(Counter({"#police": 90}), 100, Counter({"辅警": 12, "滨河路": 8}))
    wallet = EventPost(93, T0 + timedelta(minutes=35), frozenset(
        {"辅警", "钱包", "找回", "#police"}), LINJIANG)
    assert choose(wallet, [market], rarity).event_id is None
    crowd = EventPost(92, T0 + timedelta(minutes=35), frozenset(
        {"滨河路", "横幅", "#police"}), station)
    assert choose(crowd, [market], rarity).reason == "signature"
