"""涉警 relevance: which police vocabulary a text contains, and in what sense."""
from __future__ import annotations

import re

POLICE_TERMS: tuple[str, ...] = (
    # bodies and places
    "公安", "公安局", "公安厅", "公安部", "公安机关", "分局", "派出所", "警务站", "警务室",
    "看守所", "拘留所", "审讯室", "车管所", "交管", "警局", "警队", "公检法", "网监", "出入境管理",
    # people
    "警察", "人民警察", "民警", "辅警", "协警", "警方", "警官", "警长", "警员", "交警", "特警",
    "刑警", "巡警", "网警", "乘警", "铁警", "片警", "片儿警", "警花", "警嫂", "便衣民警",
    "巡特警", "经侦", "黑警", "边检", "出入境", "禁毒大队", "户籍科", "户籍室", "户籍窗口",
    "户籍民警", "犯罪嫌疑人",
    # work
    "警情", "警情通报", "警力", "警车", "警服", "警号", "警徽", "警衔", "警犬", "警营", "警务",
    "接警", "出警", "处警", "报警", "报案", "110", "执法", "执法记录仪", "刑侦", "治安",
    "反诈", "刑拘", "刑事拘留", "行政拘留", "治安拘留", "袭警", "立案", "破案", "办案",
    "做笔录", "审讯", "抓获", "拘留", "结案", "交通违法", "罚单", "查酒驾", "电子眼", "警用", "无犯罪记录证明",
    # calling the police in other words, and official police accounts (@平安北京)
    "报了警", "进局子", "@平安",
    # arrests in comments that do not name who arrests ("凶手抓到了吗"). Not 被抓 / 抓人 /
    # 蜀黍: in the smp2020 _train posts most of their uses are a baby scratching, quarantine,
    # a game or any "uncle".
    "抓到了吗", "落网",
    # more words for the police and their work
    "警民", "警校", "警灯", "阿sir",
)
# 武警 is left out on purpose: the armed police is a military force, not public security.

# Terms that also name things outside the police; each is matched only in the context below.
_CONTEXT_PATTERNS: dict[str, str] = {
    # The emergency number alone: not inside 1100, 2110, 96110 or a phone number, nor a
    # quantity such as 110千伏 or 110万元.
    "110": r"(?<![\d.])(?<!\d[-\s])110(?![-\s.]?\d)(?!\s*(?:千伏|(?i:kv)|万|亿|元|米|公里|岁|号|斤|"
           r"平|伏|寸|分钟|路|厘米|毫米|公斤|千克|度|码|km|cm|%))(?<!时速110)(?<!尺寸110)",
    # Tax, environment and other agencies have 分局 too.
    "分局": r"(?<!税务|环境|监管|气象|海事|邮政)分局",
    # An alarm device, or a body or machine "sounding the alarm", is not a call to the police.
    # Wanting to call the police is mostly a figure of speech ("真想报警"); not wanting to
    # any more is distrust of them ("都不想报警了，报了吃亏的还是自己").
    "报警": r"(?<![在都])(?<!(?<!不)想)(?<!身体|皮肤|温度|电量|自动|系统|设备|仪表|显示|监控|压力|开机|超载)报警"
           r"(?!器|系统|装置|灯|声|提示|功能|信号)",
    "报了警": r"报[了过](?:[一二三四五六七八九十几两\d]+次)?警(?![告惕示报戒觉醒钟])",
    "进局子": r"(?:进|蹲|关进)[了过]?(?:一趟|一回|一次|几天|几回)?局子",
    "抓到了吗": r"抓到了?(?:[吗没么]|凶手|嫌疑人)",
    # The NPC's and other agencies' 执法检查 (law-enforcement inspections) are not police work.
    "执法": r"执法(?!检查)",
    "警灯": r"(?<![武报])警灯",
    "阿sir": r"阿(?i:sir)",
    "出警": r"(?<!发)出警(?![报告示])",
    "@平安": r"@平安[\u4e00-\u9fff]{2,4}",
    # 公安 is not the 公 of 三公 before 安阳.
    "公安": r"公安(?!阳)",
}
# Armed police (武警官兵, 武警车辆) are not public security.
_CONTEXT_PATTERNS.update({term: "(?<!武)" + re.escape(term) for term in POLICE_TERMS
                          if term.startswith("警") and term not in _CONTEXT_PATTERNS})

# Ambiguous terms count only when no other authority, sport or institution stands within
# _NEAR characters before them: 法院立案, 纪委立案审查, 城管执法, 裁判执法, 市场监管局办案.
_AMBIGUOUS = frozenset({"执法", "立案", "办案", "报案", "结案", "治安", "破案", "罚单", "拘留",
                        "审讯"})
_OTHER_AUTHORITY = re.compile(
    "城管|综合|环保|环境|监管|渔政|海关|海事|税务|稽查|纪委|监委|纪检|监察|法院|法官|检察|司法|"
    "人大|交通运输|运政|林业|水政|文化|文旅|卫生|卫健|烟草|农业|应急|自然资源|劳动|工商|"
    "裁判|比赛|足球|篮球|球员|执法检查组")
_NEAR = 8
# An alarm that a fire brigade receives, or that a household device sounds, is no call to the
# police; looked for within _ALARM_NEAR characters before 报警. Things that get stolen (手机, 车)
# are left out on purpose: "手机被偷了，报警" is a call to the police.
_ALARM_NEAR = 12
_ALARM_CONTEXT = re.compile("消防|火警|119|冰箱|空调|热水器|燃气|洗衣机|体温计|温度计|传感器|"
                            "烟感|烟雾|探测器|监测仪|水位|故障|开机|电池|电量|没电|打印机|杀毒|主板|仪表|胎压")

# A text about fiction (a film, series, novel or game) is about the story, not the police.
# Not fiction: a title of a law, a regulation or a news outlet (《治安管理处罚法》,
# 《人民警察使用警械和武器条例》, 《人民日报》), nor the 剧情 said of real incidents all the time
# ("剧情反转了", "脑补剧情", "这剧情我看不懂").
_FICTION = re.compile("电视剧|电影|影片|小说|(?<!脑补)(?<!这)剧情(?!反转)|剧本杀|短剧|动画片|动漫|"
                      "犯罪片|警匪|刑侦剧|网文|"
                      "男主|女主|主角|演员|导演|游戏里|游戏中|追剧|大结局|"
                      "《[^》]{0,20}(?<![法例定则释见知令报闻刊播谈])》")
# Reality measured against fiction is about reality: "警方通报比小说还离谱",
# "现实中的民警比电视剧里还要辛苦".
_LIKE_FICTION = re.compile("比(?:小说|电视剧|电影|剧本|短剧)[里中]?(?:还|更)")
# Police words used as a figure of speech or a nickname: "道歉有用要警察干嘛", 颜值警察.
_NOT_THE_POLICE = re.compile(
    r"(?:警察|刑警|缉毒|卧底|探案)(?:片|剧|故事|题材)"
    r"|道歉(?:有用|就有用|要是有用)[^，。！？,.!?]{0,6}警察"
    r"|(?:颜值|时尚|拼写|语法|剧透|表情|段子|键盘|道德|文明)警察"
    r"|(?:扮演|cos|扮成|饰演|演)[^，。！？,.!?]{0,4}警察"
    r"|(?:儿童|玩具)(?:警察|警车)|(?:警察|警车|警察局)(?:服装|玩具|套装|模型)")

# Longest terms first, so 公安局 is reported rather than the 公安 inside it. One named group
# per term: a match is reported as its term (报了三次警 as 报了警, @平安北京 as @平安).
_TERMS_BY_LENGTH = sorted(POLICE_TERMS, key=len, reverse=True)
_POLICE_PATTERN = re.compile("|".join(
    f"(?P<t{i}>{_CONTEXT_PATTERNS.get(term, re.escape(term))})"
    for i, term in enumerate(_TERMS_BY_LENGTH)
))


def _term(match: re.Match[str]) -> str:
    return _TERMS_BY_LENGTH[int(match.lastgroup[1:])]


def _counts(text: str, match: re.Match[str], excluded: list[tuple[int, int]]) -> bool:
    if any(start <= match.start() < end for start, end in excluded):
        return False
    term = _term(match)
    if term in _AMBIGUOUS:
        return not _OTHER_AUTHORITY.search(text, max(0, match.start() - _NEAR), match.start())
    if term == "报警":
        return not _ALARM_CONTEXT.search(text, max(0, match.start() - _ALARM_NEAR),
                                         match.start())
    return True


def _police_matches(text: str) -> list[re.Match[str]]:
    if _FICTION.search(text) and not _LIKE_FICTION.search(text):
        return []
    excluded = [found.span() for found in _NOT_THE_POLICE.finditer(text)]
    return [match for match in _POLICE_PATTERN.finditer(text) if _counts(text, match, excluded)]


def find_police_terms(text: str) -> tuple[str, ...]:
    """Police vocabulary in a normalised text (see text.normalise), each once, in order of
    first appearance. A non-empty result makes the text 涉警."""
    return tuple(dict.fromkeys(_term(match) for match in _police_matches(text)))


def police_term_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every police term that counts in a normalised text, in order: where
    find_police_terms found them (the stance model reads the words around them)."""
    return [match.span() for match in _police_matches(text)]
