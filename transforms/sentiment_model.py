"""The shipped sentiment model: P(positive) from char 1-3-grams and jieba words, numpy only.

The model (trained by scripts/train_sentiment.py, described in models/MODEL_CARD.md) is a
gated mixture of three linear experts, one per training domain (product reviews, general
Weibo, Weibo comments on public incidents); each domain's output stacks the three experts
with snownlp's naive Bayes retrained on that domain's words:

    features  f = the distinct known n-grams of the text (char 1-3-grams, words, word bigrams)
    x         = 1/sqrt(|f|) on f (binary, length-normalised)
    lin_j     = W_j . x + w0_j                 (the three NB-weighted logistic regressions)
    expert k  = sum_j A_kj * lin_j + b_k * bayes_k(words) + c_k   (a per-domain stacker)
    gate      = softmax(V . x + v0)            (which domain the text looks like)
    logit     = sum_k gate_k * expert_k;  P(positive) = sigmoid(logit)

bayes_k is snownlp.classification.bayes.Bayes trained on the domain's (de-duplicated) words,
exported as per-word log-ratios, so it is a sum too. Nothing but numpy is needed.

Two equivalent paths (identical results on the dev sets):
* predict_proba(texts, tokens): vectorised over a batch (64-bit keys of every n-gram, found
  in an open-addressing table of the vocabulary's keys); ~8x cheaper than jieba.lcut per
  post on batches of a few thousand short posts. Use it: segment a batch, then call it once.
* predict_one(text, words): Python dictionary look-ups, for a single post (about as costly
  as jieba.lcut itself on short posts).
"""
from __future__ import annotations

import functools
import math
import re
from operator import add as _add
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transforms.records import NEGATIVE, NEUTRAL, POSITIVE

MODEL_PATH = Path(__file__).resolve().parent / "models" / "sentiment.npz"
FORMAT_VERSION = 2
# Separators that cannot occur in normalised text: word features vs char n-grams.
_WORD = "\x01"
_PAIR = "\x02"
_VOCAB_SEPARATOR = "\n"


def text_grams(text: str, words: Sequence[str]) -> list[str]:
    """Every feature string of a text: char 1-, 2- and 3-grams of the lowercased text, and
    its words and word bigrams (marked so they never equal a char n-gram).

    The training script and inference both call this, so they see the same features.
    """
    t = text.lower()
    bigrams = list(map(_add, t, t[1:]))
    grams = [*t, *bigrams, *map(_add, bigrams, t[2:])]
    marked = [_WORD + w.lower() for w in words]
    grams += marked
    grams += [a + _PAIR + b[1:] for a, b in zip(marked, marked[1:])]
    return grams


# ---- vectorised exact look-up -----------------------------------------------------------
# A batch is featurised in numpy: every feature string gets a 64-bit key (polynomial hash
# of its code points, mod 2**64, mixed with its length), looked up in an open-addressing
# table of the vocabulary's keys. Keys are checked unique at load; a string outside the
# vocabulary matches a vocabulary key with probability ~ 2**-64 * vocabulary size.
_P = np.uint64(0x100000001B3)
_Q = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def _fmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _S33)
    h = h * _M1
    h = h ^ (h >> _S33)
    h = h * _M2
    return h ^ (h >> _S33)


def _code_points(strings: Sequence[str]) -> np.ndarray:
    return np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _segment_hashes(codes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Polynomial hash of each consecutive segment of `codes` (segment i has lengths[i])."""
    starts = np.cumsum(lengths) - lengths
    h = np.zeros(len(lengths), dtype=np.uint64)
    active = np.flatnonzero(lengths > 0)
    j = 0
    while active.size:
        h[active] = h[active] * _P + codes[starts[active] + j]
        j += 1
        active = active[lengths[active] > j]
    return h


def _keys(h: np.ndarray, lengths: np.ndarray | int) -> np.ndarray:
    return _fmix(h + np.asarray(lengths).astype(np.uint64) * _Q)


def string_keys(strings: Sequence[str]) -> np.ndarray:
    """The 64-bit key of each string (the vocabulary side of the look-up)."""
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    with np.errstate(over="ignore"):
        return _keys(_segment_hashes(_code_points(strings), lengths), lengths)


def _batch_keys(texts: Sequence[str], tokens: Sequence[Sequence[str]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(feature keys, their document, word keys, their document) of a batch: the keys of
    exactly the strings text_grams gives, duplicates included."""
    n = len(texts)
    lowered = [t.lower() for t in texts]
    tl = np.fromiter(map(len, lowered), dtype=np.int64, count=n)
    codes = _code_points(lowered)
    doc = np.repeat(np.arange(n), tl)
    keys, docs = [_keys(codes, 1)], [doc]
    if len(codes) > 1:
        h2 = codes[:-1] * _P + codes[1:]
        ok = doc[:-1] == doc[1:]
        keys.append(_keys(h2[ok], 2))
        docs.append(doc[:-1][ok])
        if len(codes) > 2:
            h3 = h2[:-1] * _P + codes[2:]
            ok = doc[:-2] == doc[2:]
            keys.append(_keys(h3[ok], 3))
            docs.append(doc[:-2][ok])
    marked = [_WORD + w.lower() for ws in tokens for w in ws]
    nw = np.fromiter(map(len, tokens), dtype=np.int64, count=n)
    wdoc = np.repeat(np.arange(n), nw)
    wl = np.fromiter(map(len, marked), dtype=np.int64, count=len(marked))
    hw = _segment_hashes(_code_points(marked), wl)
    word_keys = _keys(hw, wl)
    keys.append(word_keys)
    docs.append(wdoc)
    if len(marked) > 1:
        ok = wdoc[:-1] == wdoc[1:]
        lb = wl[1:][ok]
        powers = np.cumprod(np.concatenate(([np.uint64(1)],
                                            np.full(int(lb.max(initial=1)), _P))))
        pb = powers[lb - 1]
        # key of a + PAIR + b[1:]: H = (H(a) * P + 2) * P**(len(b)-1) + H(b) - P**(len(b)-1)
        hb = (hw[:-1][ok] * _P + np.uint64(ord(_PAIR))) * pb + hw[1:][ok] - pb
        keys.append(_keys(hb, wl[:-1][ok] + lb))
        docs.append(wdoc[:-1][ok])
    return np.concatenate(keys), np.concatenate(docs), word_keys, wdoc


def _hash_table(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.uint64]:
    """Open-addressing table (linear probing, load <= 0.35) of unique non-zero uint64 keys:
    (slot keys, slot rows with -1 for empty, shift giving a key's home slot)."""
    bits = max(4, int(np.ceil(np.log2(max(len(keys), 1) / 0.35))))
    size = 1 << bits
    shift = np.uint64(64 - bits)
    table_keys = np.zeros(size, dtype=np.uint64)
    table_rows = np.full(size, -1, dtype=np.int64)
    if len(np.unique(keys)) != len(keys):
        raise ValueError("two vocabulary entries share a 64-bit key")
    pending = np.arange(len(keys))
    slots = (keys >> shift).astype(np.int64)
    while pending.size:
        free = table_rows[slots] < 0
        # Of the pending keys aimed at the same free slot, the first one takes it.
        cand = pending[free]
        cand_slots = slots[free]
        taken_slots, first = np.unique(cand_slots, return_index=True)
        winners = cand[first]
        table_keys[taken_slots] = keys[winners]
        table_rows[taken_slots] = winners
        placed = np.zeros(len(keys), dtype=bool)
        placed[winners] = True
        keep = ~placed[pending]
        pending = pending[keep]
        slots = (slots[keep] + 1) & (size - 1)
    return table_keys, table_rows, shift


def _look_up(table_keys: np.ndarray, table_rows: np.ndarray, shift: np.uint64,
             keys: np.ndarray) -> np.ndarray:
    """Row of each key in the table, -1 if absent."""
    size = len(table_keys)
    found = np.full(len(keys), -1, dtype=np.int64)
    todo = np.arange(len(keys))
    slots = (keys >> shift).astype(np.int64)
    while todo.size:
        rows = table_rows[slots]
        match = (rows >= 0) & (table_keys[slots] == keys[todo])
        found[todo[match]] = rows[match]
        go_on = (rows >= 0) & ~match      # occupied by another key: probe the next slot
        todo = todo[go_on]
        slots = (slots[go_on] + 1) & (size - 1)
    return found


class LinearSentimentModel:
    """Loaded model; see the module docstring for the formula."""

    def __init__(self, vocab: Sequence[str], weights: np.ndarray, expert_bias: np.ndarray,
                 gate_bias: np.ndarray, bayes_bias: np.ndarray, bayes_unseen: np.ndarray,
                 stack: np.ndarray, domains: Sequence[str], metadata: dict[str, str]) -> None:
        if len(vocab) != weights.shape[0]:
            raise ValueError(f"{len(vocab)} features but {weights.shape[0]} weight rows")
        self.vocab: dict[str, int] = {g: i for i, g in enumerate(vocab)}
        self.weights = weights                  # (V, 3 experts + 3 gate + 3 bayes) float32
        self.expert_bias = expert_bias          # (3,) intercept of W_k . x
        self.gate_bias = gate_bias              # (3,)
        self.bayes_bias = bayes_bias            # (3,) log prior ratio of each Bayes model
        self.bayes_unseen = bayes_unseen        # (3,) log-ratio of a word Bayes never saw
        self.stack = stack                      # (3, 5): A_k0..A_k2, b_k, c_k per domain
        self.domains = tuple(domains)
        self.metadata = dict(metadata)
        self._table_keys, self._table_rows, self._table_shift = _hash_table(
            string_keys(list(vocab)))

    def feature_rows(self, text: str, words: Sequence[str]) -> list[int]:
        """Distinct vocabulary rows of a text's features, sorted (a fixed summation order)."""
        rows = set(map(self.vocab.get, set(text_grams(text, words))))
        rows.discard(None)
        return sorted(rows)

    def _batch_sums(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, 9) weight sums over each text's distinct known features, their count, and the
        number of distinct words (for the Bayes models' unseen-word term)."""
        n = len(texts)
        with np.errstate(over="ignore"):
            keys, docs, word_keys, wdoc = _batch_keys(texts, tokens)
        found = _look_up(self._table_keys, self._table_rows, self._table_shift, keys)
        hit = found >= 0
        size = len(self.vocab)
        # Distinct (document, row) pairs, sorted by document then row.
        pairs = np.sort(docs[hit] * size + found[hit])
        if len(pairs):
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        doc_of, rows = np.divmod(pairs, size)
        counts = np.bincount(doc_of, minlength=n)
        sums = np.zeros((n, self.weights.shape[1]), dtype=np.float64)
        if len(rows):
            nonempty = counts > 0
            starts = (np.cumsum(counts) - counts)[nonempty]
            sums[nonempty] = np.add.reduceat(self.weights[rows].astype(np.float64), starts,
                                             axis=0)
        order = np.lexsort((word_keys, wdoc))
        wk, wd = word_keys[order], wdoc[order]
        first = np.ones(len(wk), dtype=bool)
        first[1:] = (wk[1:] != wk[:-1]) | (wd[1:] != wd[:-1])
        n_words = np.bincount(wd[first], minlength=n)
        return sums, counts.astype(np.float64), n_words.astype(np.float64)

    def _combine(self, sums: np.ndarray, counts: np.ndarray, n_words: np.ndarray) -> np.ndarray:
        norm = 1.0 / np.sqrt(np.maximum(counts, 1.0))
        lin = sums[:, 0:3] * norm[:, None] + self.expert_bias
        bayes = sums[:, 6:9] + self.bayes_bias + n_words[:, None] * self.bayes_unseen
        expert = lin @ self.stack[:, :3].T + self.stack[:, 3] * bayes + self.stack[:, 4]
        logit = (self._gate(sums, norm) * expert).sum(axis=1)
        # A text with no known feature (empty, only symbols or unseen script) is undecided.
        logit[counts == 0] = 0.0
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0)))

    def _gate(self, sums: np.ndarray, norm: np.ndarray) -> np.ndarray:
        gate_logit = sums[:, 3:6] * norm[:, None] + self.gate_bias
        gate_logit -= gate_logit.max(axis=1, keepdims=True)
        gate = np.exp(gate_logit)
        return gate / gate.sum(axis=1, keepdims=True)

    def _check(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None
               ) -> Sequence[Sequence[str]]:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not one string")
        if tokens is None:
            return _segment_all(texts)
        if len(tokens) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(tokens)} token lists")
        return tokens

    def predict_proba(self, texts: Sequence[str],
                      tokens: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """P(positive) for each text, as float64 in 0..1 (vectorised; fastest on batches).

        `tokens` are the texts' words as transforms.segment.segment gives them (the scorer
        already has them); without them the texts are segmented here with the pipeline's
        jieba tokenizer (slower: loads jieba's dictionary on first use).
        """
        tokens = self._check(texts, tokens)
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float64)
        return self._combine(*self._batch_sums(texts, tokens))

    def predict_one(self, text: str, words: Sequence[str]) -> float:
        """P(positive) of one text and its words: dictionary look-ups, for one post at a time
        (same value as predict_proba up to float rounding)."""
        rows = self.feature_rows(text, words)
        if not rows:
            return 0.5
        s = self.weights[rows].astype(np.float64).sum(axis=0).tolist()
        norm = 1.0 / math.sqrt(len(rows))
        n_words = len({w.lower() for w in words})
        gate = [s[3 + k] * norm + self._gate_bias[k] for k in range(3)]
        top = max(gate)
        gate = [math.exp(g - top) for g in gate]
        total = sum(gate)
        lin = [s[j] * norm + self._expert_bias[j] for j in range(3)]
        logit = 0.0
        for k in range(3):
            a0, a1, a2, b, c = self._stack[k]
            bayes = s[6 + k] + self._bayes_bias[k] + n_words * self._bayes_unseen[k]
            logit += gate[k] / total * (a0 * lin[0] + a1 * lin[1] + a2 * lin[2] + b * bayes + c)
        logit = min(30.0, max(-30.0, logit))
        return 1.0 / (1.0 + math.exp(-logit))

    @functools.cached_property
    def _gate_bias(self) -> list[float]:
        return self.gate_bias.tolist()

    @functools.cached_property
    def _expert_bias(self) -> list[float]:
        return self.expert_bias.tolist()

    @functools.cached_property
    def _bayes_bias(self) -> list[float]:
        return self.bayes_bias.tolist()

    @functools.cached_property
    def _bayes_unseen(self) -> list[float]:
        return self.bayes_unseen.tolist()

    @functools.cached_property
    def _stack(self) -> list[list[float]]:
        return self.stack.tolist()

    def domain_weights(self, texts: Sequence[str],
                       tokens: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """(n, 3) gate probabilities: how much each text looks like each training domain."""
        tokens = self._check(texts, tokens)
        if len(texts) == 0:
            return np.zeros((0, 3))
        sums, counts, _ = self._batch_sums(texts, tokens)
        return self._gate(sums, 1.0 / np.sqrt(np.maximum(counts, 1.0)))


def _segment_all(texts: Sequence[str]) -> list[list[str]]:
    from transforms.segment import load_tokenizer, segment

    tokenizer = load_tokenizer()
    return [segment(text, tokenizer) for text in texts]


def load_model(path: str | Path = MODEL_PATH) -> LinearSentimentModel:
    """Read a model file written by scripts/train_sentiment.py."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sentiment model not found: {path} "
                                "(run scripts/train_sentiment.py to build it)")
    with np.load(path, allow_pickle=False) as data:
        version = int(data["format_version"])
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: model format {version}, this code reads {FORMAT_VERSION}")
        vocab_text = data["vocab_utf8"].tobytes().decode("utf-8")
        scale = data["weight_scale"].astype(np.float32)
        weights = data["weights_f16"].astype(np.float32) * scale
        meta_keys = [str(k) for k in data["meta_keys"]]
        meta_values = [str(v) for v in data["meta_values"]]
        model = LinearSentimentModel(
            vocab=vocab_text.split(_VOCAB_SEPARATOR),
            weights=weights,
            expert_bias=data["expert_bias"].astype(np.float64),
            gate_bias=data["gate_bias"].astype(np.float64),
            bayes_bias=data["bayes_bias"].astype(np.float64),
            bayes_unseen=data["bayes_unseen"].astype(np.float64),
            stack=data["stack"].astype(np.float64),
            domains=[str(d) for d in data["domains"]],
            metadata=dict(zip(meta_keys, meta_values)),
        )
    return model


@functools.cache
def shipped_model() -> LinearSentimentModel:
    """The model in transforms/models/, loaded once per process."""
    return load_model(MODEL_PATH)


# ---------------------------------------------------------------------------------------
# Three-way polarity. The model only knows positive vs negative emotion; a sober news
# report is neither, so it is pulled to neutral when it reads as factual reporting.

# Cues of a factual report: agencies reporting, dates and times, procedural verbs.
_NEWS_CUES = re.compile(
    r"通报|警情|记者|据.{0,12}(?:报道|消息|介绍)|获悉|日电|讯[\s，,:：]|经查|经初步调查|"
    r"依法|立案|刑事拘留|行政拘留|已被|目前|案件|正在进一步|调查处理|发布|表示|"
    r"\d{1,2}月\d{1,2}日|\d{1,2}时|\d+时\d+分|\d{4}年|据悉|相关部门|嫌疑人|"
    r"召开|举行|开展|部署|印发|通知|公告|会议")
# Cues of a personal, emotional voice: first/second person, exclamation, interjections,
# emoticons, rhetorical questions.
_VOICE_CUES = re.compile(
    r"[!！?？]|\[[^\[\]]{1,8}\]|我|你|咱|俺|吧|啊|呢|吗|呀|哈|啦|嘛|呵|唉|哎|哇|"
    r"太.{0,4}了|真是|简直|居然|竟然|凭什么|垃圾|恶心|气死|点赞|致敬|感谢|谢谢|心疼|"
    r"愤怒|可怜|必须|一定要|希望|支持|加油|好样|笑死|无语|活该")


def factual_score(text: str) -> float:
    """0..1: how much a text reads like a factual news report rather than an opinion.

    A heuristic: report cues (agencies, dates, procedure) minus a personal voice
    (first/second person, exclamations, interjections, emoticons, loaded words).
    """
    news = len(_NEWS_CUES.findall(text))
    voice = len(_VOICE_CUES.findall(text))
    raw = 0.6 * news - 1.0 * voice - 0.5
    return float(1.0 / (1.0 + np.exp(-raw)))


@dataclass(frozen=True)
class ThreeWay:
    """Neutral band around 0.5, widened for texts that read as factual news."""

    negative_below: float = 0.35
    positive_above: float = 0.65
    # For factual texts (factual_score >= factual_at), only confident scores escape neutral.
    factual_at: float = 0.5
    factual_negative_below: float = 0.1
    factual_positive_above: float = 0.9


def polarity(p_positive: float, text: str = "", bands: ThreeWay = ThreeWay()) -> str:
    """NEGATIVE / NEUTRAL / POSITIVE from P(positive) and, for the news rule, the text."""
    low, high = bands.negative_below, bands.positive_above
    if text and factual_score(text) >= bands.factual_at:
        low, high = bands.factual_negative_below, bands.factual_positive_above
    if p_positive < low:
        return NEGATIVE
    if p_positive > high:
        return POSITIVE
    return NEUTRAL
