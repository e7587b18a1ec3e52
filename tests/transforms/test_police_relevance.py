"""涉警 relevance: police vocabulary found in text, and 110 only as the emergency number."""
from __future__ import annotations

import pytest

from transforms.police import POLICE_TERMS, find_police_terms
from transforms.text import normalise


def test_terms_are_reported_once_in_order_of_appearance() -> None:
    text = "派出所民警接到报警后出警，民警将男子带回派出所。"
    assert find_police_terms(text) == ("派出所", "民警", "报警", "出警")


def test_the_longest_term_is_reported() -> None:
    assert find_police_terms("市公安局发布警情通报") == ("公安局", "警情通报")


@pytest.mark.parametrize("text", [
    "遇到危险请拨打110报警",
    "110接警后民警迅速赶到",
    "他拨了110。",
    "打110",
    "110 指挥中心",
])
def test_110_as_the_emergency_number_is_a_police_term(text: str) -> None:
    assert "110" in find_police_terms(text)


@pytest.mark.parametrize("text", [
    "本次航班1100起飞",
    "大约2110人参加",
    "联系电话13811012345",
    "联系电话010-110-2345",
    "值班室分机 0755-110",
    "反诈专线96110",
    "110千伏变电站检修",
    "110kV线路停电",
    "涉案金额110万元",
    "房间号1.110",
])
def test_110_inside_other_numbers_and_quantities_is_not(text: str) -> None:
    assert "110" not in find_police_terms(normalise(text))


def test_full_width_110_counts_after_normalisation() -> None:
    assert "110" in find_police_terms(normalise("请拨打１１０"))


@pytest.mark.parametrize("text, absent", [
    ("家中安装了烟雾报警器", "报警"),
    ("国家税务总局某区税务分局", "分局"),
    ("城管执法人员现场劝离摊贩", "执法"),
])
def test_terms_outside_police_context_are_not_counted(text: str, absent: str) -> None:
    assert absent not in find_police_terms(text)


def test_text_without_police_vocabulary_is_not_police_related() -> None:
    assert find_police_terms("今天天气不错，和朋友去公园散步。") == ()


def test_every_term_is_found_on_its_own() -> None:
    missing = [term for term in POLICE_TERMS if term not in find_police_terms(f"关于{term}的消息")]
    assert missing == []


@pytest.mark.parametrize("text, term", [
    ("便衣民警在地铁里抓获一名扒手", "便衣民警"),
    ("已经报了三次警，还是没人管", "报了警"),
    ("他因为打架进了局子", "进局子"),
    ("@平安北京 这里有人虐猫，麻烦处理一下", "@平安"),
    ("警务室今天正式启用", "警务室"),
    ("立案十二天了，结论呢", "立案"),
    ("去派出所开无犯罪记录证明", "派出所"),
    ("出入境大厅今天人很多", "出入境"),
])
def test_ordinary_police_words_outside_the_old_vocabulary_count(text: str, term: str) -> None:
    assert term in find_police_terms(normalise(text))


@pytest.mark.parametrize("text", [
    "武警官兵在抗洪一线奋战",
    "这部刑侦剧的剧情太假了，破案全靠巧合",
    "小说里的女警察太飒了，作者文笔很好",
    "周末重温老港片《警察故事》，动作戏还是燃",
    "道歉有用的话要警察干什么",
    "颜值警察出动！这个妹子太好看了",
    "快递三天还没到，客服态度还差，真想报警",
    "身体已经在报警了，再熬夜真的要出事",
    "电脑开机报警，主板滴滴响个不停",
    "地震预警系统提前十秒发出警报",
    "法院不给立案，说材料不全",
    "这场比赛的主裁判执法水平太差了",
    "纪委监委对该局长立案审查",
    "这款车最高时速110，油耗很低",
    "@人民日报四世三公安阳王",
])
def test_police_words_in_other_senses_do_not_count(text: str) -> None:
    assert find_police_terms(normalise(text)) == ()


@pytest.mark.parametrize("text, term", [
    ("都一个月了，凶手抓到了吗", "抓到了吗"),
    ("上个月他进了一回局子", "进局子"),
    ("逃了十年的人终于落网", "落网"),
    ("阿Sir，你们能不能快点", "阿sir"),
    ("社区开了一次警民恳谈会", "警民"),
])
def test_comments_about_arrests_and_nicknames_count(text: str, term: str) -> None:
    assert term in find_police_terms(normalise(text))


@pytest.mark.parametrize("text", [
    "热水器温度太高就会报警，吓了一跳",
    "消防中队接到报警后立即出动",
    "笔记本电池不行，用半天就报警",
    "人大执法检查组来我县检查安全生产",
    "给孩子买了警察服装和警车玩具",
    "宝宝总抓人，姥姥脸上都是伤",
    "早安！蜀黍开始工作了",
    "鼻炎又犯了，好怕在街上被抓去隔离",
    "车上的胎压报警灯一直亮",
])
def test_alarms_inspections_toys_and_everyday_words_are_not_police(text: str) -> None:
    assert find_police_terms(normalise(text)) == ()


@pytest.mark.parametrize("text, term", [
    # A law or regulation in 《》 is no film title: police notices cite them all the time.
    ("依据《中华人民共和国治安管理处罚法》第二十六条，公安机关对其行政拘留十日", "公安机关"),
    ("民警在什么情况下可以开枪？《人民警察使用警械和武器条例》有明确规定", "民警"),
    ("《人民日报》评论：派出所不能把群众挡在门外", "派出所"),
    # 剧情 said of a real incident, and reality measured against fiction.
    ("警方通报一出，剧情反转了", "警方"),
    ("别脑补剧情了，等警方的调查结果", "警方"),
    ("笑死，警方通报比小说还离谱", "警方"),
    ("现实中的民警比电视剧里还要辛苦", "民警"),
    # Not wanting to call the police any more is distrust of them, not a figure of speech.
    ("每次看到这种视频就不想报警了，报了吃亏的还是自己", "报警"),
])
def test_laws_real_plots_and_not_wanting_to_call_the_police_count(text: str, term: str) -> None:
    assert term in find_police_terms(normalise(text))
