"""The shipped config/rules.yaml: it loads, holds the agreed category tree, and classifies
realistic posts."""
from __future__ import annotations

import pytest

from transforms.rules import RuleSet
from transforms.text import normalise

CATEGORY_TREE = {
    "police": {"police.enforcement_dispute", "police.misconduct", "police.bulletin",
               "police.traffic", "police.anti_fraud", "police.assault", "police.casualty",
               "police.heroes", "police.service"},
    "politics": set(),
    "stability": {"stability.mass_incident", "stability.petition"},
    "public_safety": {"public_safety.fatal_accident", "public_safety.natural_disaster",
                      "public_safety.violent_crime", "public_safety.extreme"},
}
HIGH_RISK = {"police.assault", "police.casualty", "police.enforcement_dispute",
             "stability.mass_incident",
             "public_safety.fatal_accident", "public_safety.violent_crime",
             "public_safety.extreme"}


def test_shipped_rules_hold_the_category_tree(shipped_rules: RuleSet) -> None:
    tree: dict[str, set[str]] = {}
    for topic in shipped_rules.topics.values():
        if topic.parent is None:
            tree.setdefault(topic.id, set())
        else:
            tree.setdefault(topic.parent, set()).add(topic.id)
    assert tree == CATEGORY_TREE
    assert {t.id for t in shipped_rules.topics.values() if t.high_risk} == HIGH_RISK
    assert all(topic.name.strip() for topic in shipped_rules.topics.values())


# (post, topics that must fire, topics that must not fire)
POSTS = [
    ("昨晚在人民路，一男子拒不配合检查，持砖头殴打民警，致一名民警受伤，该男子已被刑事拘留。",
     {"police", "police.assault"}, set()),
    ("市公安局特警支队今日开展反恐处突演练，模拟暴徒袭警场景，提升实战能力。",
     {"police"}, {"police.assault", "public_safety.extreme", "public_safety.violent_crime"}),
    ("【警情通报】2024年5月3日14时许，我局接群众报警称某小区发生一起纠纷，民警迅速到场处置。",
     {"police.bulletin"}, {"police.assault"}),
    ("网传视频显示交警执法时推搡群众，网友质疑暴力执法，当地公安局回应称已成立调查组。",
     {"police.enforcement_dispute", "police.traffic"}, set()),
    ("网友反映城管暴力执法，掀翻小贩摊位。",
     set(), {"police", "police.enforcement_dispute"}),
    ("某派出所副所长醉驾被查，已被停职接受调查。",
     {"police.misconduct"}, set()),
    ("交警连夜查处醉驾违法行为12起。",
     {"police.traffic"}, {"police.misconduct"}),
    ("国家反诈中心提醒：刷单返利都是诈骗，接到冒充公检法的电话请拨打96110咨询。",
     {"police.anti_fraud"}, set()),
    ("民警张某在抓捕持刀歹徒时英勇牺牲，年仅32岁。",
     {"police.casualty"}, set()),
    ("清明节前夕，市局组织民警祭奠因公牺牲的战友。",
     {"police"}, {"police.casualty"}),
    ("他荣立个人一等功，被评为全国优秀人民警察，是我们身边的公安英模。",
     {"police.heroes"}, HIGH_RISK),
    ("八旬老人走失，民警连夜寻找，帮助老人平安回家，家属送来锦旗表示感谢。",
     {"police.service"}, HIGH_RISK),
    ("数十名工人聚集在项目部门口拉横幅讨薪，现场一度堵路。",
     {"stability", "stability.mass_incident"}, set()),
    ("疫情期间请大家避免聚集，做好个人防护，出门戴口罩。",
     set(), {"stability.mass_incident"}),
    ("多名村民因征地补偿问题到县信访局集体上访。",
     {"stability", "stability.petition"}, set()),
    ("某化工厂发生爆炸事故，已造成3人死亡、5人受伤，事故原因正在调查中。",
     {"public_safety", "public_safety.fatal_accident"}, set()),
    ("消防与公安联合开展化工厂爆炸事故应急演练，模拟3人被困。",
     set(), {"public_safety.fatal_accident"}),
    ("受台风影响，我市多地出现暴雨内涝，部分道路积水严重。",
     {"public_safety.natural_disaster"}, HIGH_RISK),
    ("一男子在街头持刀行凶致2人受伤，嫌疑人已被警方控制。",
     {"public_safety.violent_crime", "police"}, set()),
    ("这部电影讲述了一名卧底警察的故事，片中有大量枪击和杀人场面。",
     set(), {"public_safety.violent_crime"}),
    ("商场年终跳楼价大甩卖，全场一折起！",
     set(), {"public_safety.extreme", "public_safety"}),
    ("一男子驾车冲撞人群，造成多人伤亡，警方已将其控制。",
     {"public_safety.extreme"}, set()),
    ("一名男子爬上塔吊扬言跳楼讨要工钱，民警和消防员正在劝说。",
     {"public_safety.extreme", "police"}, set()),
    ("别拿孝顺来道德绑架我，我也有自己的生活。",
     set(), {"public_safety.violent_crime"}),
    ("某市原副市长兼公安局长落马，涉嫌严重违纪违法，正接受审查调查。",
     {"politics", "police.misconduct"}, set()),
    ("拨打110报警后，民警五分钟内赶到现场。",
     {"police"}, HIGH_RISK),
    ("航班CA1100延误两小时，旅客滞留机场。",
     set(), {"police"}),
]


@pytest.mark.parametrize("post, expected, forbidden", POSTS, ids=[p[0][:12] for p in POSTS])
def test_shipped_rules_classify_realistic_posts(shipped_rules: RuleSet, post: str,
                                                expected: set[str], forbidden: set[str]) -> None:
    fired = {hit.topic_id for hit in shipped_rules.match(normalise(post))}
    assert expected <= fired
    assert not fired & forbidden


def test_high_risk_follows_the_fired_topics(shipped_rules: RuleSet) -> None:
    def high_risk(post: str) -> bool:
        return any(shipped_rules.topics[hit.topic_id].high_risk
                   for hit in shipped_rules.match(normalise(post)))

    assert high_risk(POSTS[0][0])
    assert not high_risk(POSTS[1][0])
    assert not high_risk("今天天气不错，和朋友去公园散步。")
