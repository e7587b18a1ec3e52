"""Stance toward the police (涉警立场) of police-related texts: negative, neutral or positive.

Not the writer's mood: "这种畜生，警察一定要严惩！" is angry but not against the police, and
"哈哈，这效率，真是人民的好警察" is cheerful but is. Two models, trained on the hand-labelled
datasets/stance (its GUIDE.md says what each stance means) by scripts/train_stance.py and
shipped together in models/stance.npz:

- an encoder head: a logistic regression on the shared encoder's features of the text
  (transforms.sentiment_bert, the same pass that gives the accurate sentiment, so stance adds
  no transformer pass);
- a cue model: a logistic regression on hashed character 1-3-grams, on the characters right
  before and after each police word (what is said of the police: "警方包庇", "警察干啥吃的",
  "相信警方", "@云南警方"), on the topics the rules fire (执法争议 and 违纪作风 point at
  the police as the wrongdoer, 袭警 and 民警伤亡 at the police as victims, 英模 and 为民服务
  at praise), and on the labelling guide's word sets of who is the target (TARGET_WORDS:
  criticism such as 不作为/包庇/推诿 near a police word, appeals such as 恳请/严惩 without
  criticism, anger at an offender, praise, police as victims, sarcasm markers).

The stance is the class with the highest weighted mean log-probability of the two (the
weight is stored with the model; train_stance.py chooses it on the training rows by 5-fold
cross-validation and leave-one-source-out together). numpy only.
"""
from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transforms.police import police_term_spans
from transforms.records import NEGATIVE, NEUTRAL, POSITIVE

MODEL_PATH = Path(__file__).resolve().parent / "models" / "stance.npz"
FORMAT_VERSION = 3
STANCES = (NEGATIVE, NEUTRAL, POSITIVE)
CUE_BUCKETS = 1 << 18
# Characters read on each side of a police word for the target cues.
TARGET_WINDOW = 8
# Word sets of datasets/stance/GUIDE.md that tell whether the police are the target of the
# criticism, written from the guide (not from the labelled texts). Each set is a cue of its
# own, and again when one of its words is within TARGET_WORDS_WINDOW characters before ("<")
# or after (">") a police word.
TARGET_WORDS: dict[str, tuple[str, ...]] = {
    "criticism": tuple("""不作为 乱作为 敷衍 包庇 保护伞 草菅人命 黑警 推诿 和稀泥 失职 渎职 滥用职权
        暴力执法 打人 殴打 刑讯 逼供 不立案 不受理 不了了之 踢皮球 拖延 徇私 枉法 受贿 索贿 执法不公
        选择性执法 官官相护 护短 甩锅 临时工 形同虚设 有什么用 白说 没用 不信 可信度 公信力 心寒 寒心
        失望 丢脸 耻辱 狗警 条子 干啥吃的 干什么吃的 吃干饭 眼瞎 装睡 摆设 交代 说法 结论呢 一声不吭
        停职 涉事民警 涉事辅警 死亡 讽刺 掩盖 捂 删帖 压热度 维稳 糊弄 不管 不理 冷漠 嚣张 蛮横 粗暴
        威胁 恐吓 不公""".split()),
    "appeal": tuple("""恳请 请求 希望警方 请警方 希望 严惩 尽快 早日 查明 真相 依法 严查 彻查 抓住
        绳之以法 求转发 帮帮 救救 呼吁 期待 等通报 等待""".split()),
    "offender": tuple("畜生 人渣 禽兽 凶手 死刑 枪毙 嫌疑人 罪犯 犯罪 歹徒 骗子 流氓 恶霸 混混".split()),
    "praise": tuple("""感谢 谢谢 辛苦 点赞 致敬 英雄 锦旗 好样的 暖心 为民 守护 负责 相信 支持 一路走好
        敬礼 威武 给力 靠谱 及时 救援 救起 找回 平安""".split()),
    "victim": tuple("袭警 刺伤 牺牲 殉职 受伤 因公 殴打民警 撞伤 身亡".split()),
    "sarcasm": tuple("呵呵 哈哈 神速 效率 真是 厉害了 佩服 不愧 好警察 人民的好".split()),
}
TARGET_WORDS_WINDOW = 12
_TARGET_PATTERNS = {name: re.compile("|".join(map(re.escape, sorted(words, key=len,
                                                                       reverse=True))))
                    for name, words in TARGET_WORDS.items()}


def _hashed(key: str) -> int:
    return zlib.crc32(key.encode("utf-8")) % CUE_BUCKETS


def target_cues(text: str, spans: Sequence[tuple[int, int]] | None = None) -> set[str]:
    """The TARGET_WORDS cues of a normalised text with police words (none without): "$set"
    for each set with a word in the text, "$set<" / "$set>" when one is within
    TARGET_WORDS_WINDOW characters before / after a police word; "$appeal_only" (an appeal
    and no criticism: "恳请警方尽快破案"), "$offender_only" (anger at an offender and no
    criticism: "这种畜生，警察一定要严惩"), "$sarcasm+praise" ("这效率，真是人民的好警察"),
    "$criticism+praise"; "$q1" ... "$q3" for one, two, three or more question marks."""
    spans = police_term_spans(text) if spans is None else spans
    if not spans:
        return set()
    cues: set[str] = set()
    for name, pattern in _TARGET_PATTERNS.items():
        for match in pattern.finditer(text):
            cues.add("$" + name)
            for start, end in spans:
                if match.end() <= start and start - match.end() <= TARGET_WORDS_WINDOW:
                    cues.add(f"${name}<")
                elif match.start() >= end and match.start() - end <= TARGET_WORDS_WINDOW:
                    cues.add(f"${name}>")
    for name, present, absent in (("appeal_only", "appeal", "criticism"),
                                  ("offender_only", "offender", "criticism")):
        if "$" + present in cues and "$" + absent not in cues:
            cues.add("$" + name)
    for first, second in (("sarcasm", "praise"), ("criticism", "praise")):
        if "$" + first in cues and "$" + second in cues:
            cues.add(f"${first}+{second}")
    questions = text.count("?") + text.count("？")
    if questions:
        cues.add(f"$q{min(questions, 3)}")
    return cues


def cue_features(text: str, topics: Sequence[str]) -> list[int]:
    """Hashed cue columns of a normalised text: its character 1-, 2- and 3-grams, the
    character 1- and 2-grams within TARGET_WINDOW characters before ("<") and after (">")
    each police word, its topic ids and its target_cues. crc32, so the columns are the same
    in every process and on every machine."""
    columns = {_hashed("#" + topic) for topic in topics}
    for n in (1, 2, 3):
        columns.update(_hashed(text[i:i + n]) for i in range(len(text) - n + 1))
    spans = police_term_spans(text)
    columns.update(_hashed(cue) for cue in target_cues(text, spans))
    for start, end in spans:
        for side, window in (("<", text[max(0, start - TARGET_WINDOW):start]),
                             (">", text[end:end + TARGET_WINDOW])):
            for n in (1, 2):
                columns.update(_hashed(side + window[i:i + n])
                               for i in range(len(window) - n + 1))
    return sorted(columns)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class StanceModel:
    mean: np.ndarray            # (features,) standardisation of the encoder features
    scale: np.ndarray           # (features,)
    head_weights: np.ndarray    # (features, 3)
    head_bias: np.ndarray       # (3,)
    cue_weights: np.ndarray     # (3, CUE_BUCKETS), float16
    cue_bias: np.ndarray        # (3,)
    head_share: float = 0.5     # weight of the encoder head's log-probabilities

    def head_log_proba(self, features: np.ndarray) -> np.ndarray:
        standard = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return _log_softmax(standard @ self.head_weights + self.head_bias)

    def cue_log_proba(self, texts: Sequence[str], topics: Sequence[Sequence[str]]) -> np.ndarray:
        logits = np.empty((len(texts), len(STANCES)), dtype=np.float64)
        for row, (text, text_topics) in enumerate(zip(texts, topics)):
            columns = cue_features(text, text_topics)
            logits[row] = self.cue_weights[:, columns].sum(axis=1, dtype=np.float64)
        return _log_softmax(logits + self.cue_bias)

    def head_proba(self, features: np.ndarray) -> np.ndarray:
        return np.exp(self.head_log_proba(features))

    def cue_proba(self, texts: Sequence[str], topics: Sequence[Sequence[str]]) -> np.ndarray:
        return np.exp(self.cue_log_proba(texts, topics))

    def proba(self, features: np.ndarray, texts: Sequence[str],
              topics: Sequence[Sequence[str]]) -> np.ndarray:
        """(n, 3) P(negative, neutral, positive): the renormalised weighted mean of the two
        models' log-probabilities (head_share for the encoder head, the rest for the cues)."""
        if len(texts) == 0:
            return np.zeros((0, len(STANCES)))
        share = float(self.head_share)
        return np.exp(_log_softmax(share * self.head_log_proba(features)
                                   + (1 - share) * self.cue_log_proba(texts, topics)))

    def predict(self, features: np.ndarray, texts: Sequence[str],
                topics: Sequence[Sequence[str]]) -> list[tuple[str, float]]:
        """(stance, its probability) of each text."""
        proba = self.proba(features, texts, topics)
        return [(STANCES[k], float(row[k])) for row, k in zip(proba, proba.argmax(axis=1))]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, format_version=np.array(FORMAT_VERSION),
                            stances=np.array(STANCES), mean=self.mean, scale=self.scale,
                            head_weights=self.head_weights, head_bias=self.head_bias,
                            cue_weights=self.cue_weights, cue_bias=self.cue_bias,
                            head_share=np.array(self.head_share))


def load_model(path: str | Path = MODEL_PATH) -> StanceModel:
    path = Path(path)
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot read the stance model {path}: {exc} (fix: reinstall "
                           "jingyu, or retrain with scripts/train_stance.py)") from exc
    version = int(arrays.get("format_version", np.array(0)))
    if version != FORMAT_VERSION or tuple(arrays["stances"]) != STANCES:
        raise RuntimeError(f"{path} has stance model format {version}, this jingyu reads "
                           f"{FORMAT_VERSION} (fix: retrain with scripts/train_stance.py)")
    return StanceModel(**{name: arrays[name] for name in (
        "mean", "scale", "head_weights", "head_bias", "cue_weights", "cue_bias")},
        head_share=float(arrays["head_share"]))


@functools.cache
def shipped_model() -> StanceModel:
    """The packaged stance model, loaded once per process."""
    return load_model()
