"""Word segmentation with jieba, taught the police vocabulary, and stopword filtering."""
from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator

import jieba

# Words jieba is taught: police vocabulary and words that jieba splits but analysts read as one
# word. Fixed, not transforms.police.POLICE_TERMS: the n-gram sentiment model was trained on
# this segmentation, and relevance vocabulary changes must not move its features.
EXTRA_WORDS: tuple[str, ...] = (
    "公安", "公安局", "公安厅", "公安部", "公安机关", "分局", "派出所", "警务站", "看守所",
    "拘留所", "车管所", "交管", "警察", "人民警察", "民警", "辅警", "协警", "警方", "警官", "警长",
    "警员", "交警", "特警", "刑警", "巡警", "网警", "乘警", "铁警", "警情", "警情通报", "警力",
    "警车", "警服", "警号", "警犬", "接警", "出警", "处警", "报警", "执法", "执法记录仪", "刑侦",
    "治安", "反诈", "刑拘", "刑事拘留", "行政拘留", "袭警",
    "暴力执法", "暴力抗法", "妨害公务", "警情通报", "警方通报", "反诈中心", "电信诈骗",
    "群体性事件", "上访", "信访局", "因公牺牲", "因公负伤", "见义勇为", "英模",
)

# Function words, fillers and news boilerplate that carry no topic. Keywords use this list;
# sentiment keeps these words and filters with the list its model was trained with.
STOPWORDS: frozenset[str] = frozenset("""
的 了 在 是 我 有 和 就 都 而 及 与 着 或 一个 没有 我们 你们 他们 她们 它们 这个 那个 这些 那些
这样 那样 这里 那里 自己 什么 怎么 怎样 为什么 因为 所以 但是 可是 然而 而且 并且 如果 虽然
即使 还是 或者 以及 已经 正在 曾经 一直 一些 一样 一下 一起 一般 一种 以后 以前 之后 之前
其中 其他 其它 另外 此外 对于 关于 由于 通过 根据 按照 为了 作为 进行 表示 认为 可以 可能
应该 需要 能够 不是 就是 还有 只是 只有 这么 那么 如此 非常 十分 比较 特别 目前 现在 今天
昨天 明天 今年 去年 日前 近日 记者 报道 获悉 了解 发布 消息 来源 网友 网传 视频 图片 全文
转发 评论 点击 查看 微博 链接 原文 显示 地址 时间 相关 方面 情况 问题 工作 有关 部分 当地
他 她 它 你 您 这 那 也 又 还 很 太 更 最 被 把 让 给 从 向 对 将 于 以 为 之 其 则 该 各
个 些 等 啊 吧 呢 吗 嘛 哦 呀 哈 么 年 月 日 时 分 秒
a an and are as at be by can for from has have if in is it not of on one or that the then
this to we which with you
""".split())


@functools.cache
def load_tokenizer() -> jieba.Tokenizer:
    """jieba's default tokenizer, initialised quietly, with the police vocabulary added once.

    The words go into jieba's process-wide dictionary, so plain jieba.lcut sees them too.
    """
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.dt
    tokenizer.initialize()
    for word in EXTRA_WORDS:
        tokenizer.add_word(word)
    return tokenizer


@functools.lru_cache(maxsize=1 << 16)
def _is_word(token: str) -> bool:
    # Punctuation, symbols and spaces are not words; a token with one letter or digit is.
    # Cached: the same few thousand tokens make up most text.
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


# jieba's time grows with the square of a run it cannot find in its dictionary (100,000 × 警
# took about a minute, 300,000 did not finish in five): text is handed to it in pieces of at
# most SEGMENT_PIECE characters, and only the first SEGMENT_LIMIT characters of a text are
# segmented at all (keywords and n-gram sentiment of a long article come from its first pages;
# police terms, rules and places read the whole text). Cost is then linear in length.
SEGMENT_PIECE = 200
SEGMENT_LIMIT = 20_000
# What jieba segments as one block (its re_han_default); anywhere else it cuts by itself, so a
# piece ending there changes nothing. Only a longer block than a piece is cut in the middle.
_JIEBA_BLOCK_CHAR = re.compile(r"[\u4e00-\u9fd5a-zA-Z0-9+#&._%\-]")


def _pieces(text: str) -> Iterator[str]:
    text = text[:SEGMENT_LIMIT]
    start = 0
    while len(text) - start > SEGMENT_PIECE:
        end = start + SEGMENT_PIECE
        cut = end
        while cut > start + SEGMENT_PIECE // 2 and _JIEBA_BLOCK_CHAR.match(text, cut - 1):
            cut -= 1
        if cut == start + SEGMENT_PIECE // 2:
            cut = end          # one block longer than a piece: cut it
        yield text[start:cut]
        start = cut
    yield text[start:]


def segment(text: str, tokenizer: jieba.Tokenizer) -> list[str]:
    """The words of a normalised text, in order: jieba tokens without punctuation or spaces.

    Stopwords are kept: the sentiment model was trained on them. Texts up to SEGMENT_PIECE
    characters go to jieba whole; longer ones in pieces cut where jieba cuts anyway.
    """
    return [token for piece in _pieces(text) for token in tokenizer.cut(piece)
            if _is_word(token)]


def content_words(words: Iterable[str], stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """The words that may carry a topic: stopwords removed, ASCII letters lowercased."""
    return [lowered for lowered in map(str.lower, words) if lowered not in stopwords]
