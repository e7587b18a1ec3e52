"""jieba segmentation with the police vocabulary, stopword filtering and quiet start-up."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from transforms.segment import (
    SEGMENT_LIMIT,
    SEGMENT_PIECE,
    STOPWORDS,
    content_words,
    load_tokenizer,
    segment,
)


@pytest.mark.parametrize("sentence, word", [
    ("一名辅警在路口执勤时被车辆拖行", "辅警"),
    ("市公安局发布警情通报称嫌疑人已到案", "警情通报"),
    ("男子酒后袭警被依法刑事拘留", "袭警"),
    ("当事人暴力抗法被控制", "暴力抗法"),
])
def test_police_words_stay_whole(sentence: str, word: str) -> None:
    assert word in segment(sentence, load_tokenizer())


def test_segment_drops_punctuation_and_spaces_and_keeps_order() -> None:
    words = segment("民警，到场！ 处置……完毕。", load_tokenizer())
    assert words == ["民警", "到场", "处置", "完毕"]


def test_content_words_drop_stopwords_and_lowercase_ascii() -> None:
    words = segment("我们的民警在现场对这个问题进行了处置 AI", load_tokenizer())
    kept = content_words(words)
    assert "民警" in kept and "处置" in kept and "ai" in kept
    assert not set(kept) & STOPWORDS
    assert set(words) & STOPWORDS, "the sentence should contain stopwords to remove"


def test_loading_jieba_writes_nothing_to_stderr() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", "from transforms.segment import load_tokenizer; load_tokenizer()"],
        cwd=root, capture_output=True, text=True, timeout=120, check=True)
    assert done.stderr == ""


class _Recording:
    """The real tokenizer, noting how long a text jieba is handed each time."""

    def __init__(self) -> None:
        self.tokenizer = load_tokenizer()
        self.lengths: list[int] = []

    def cut(self, text: str):
        self.lengths.append(len(text))
        return self.tokenizer.cut(text)


@pytest.mark.parametrize("text", ["警" * 100_000, "齉" * 50_000, "a" * 100_000,
                                  "民警，" * 30_000])
def test_jieba_is_never_handed_a_long_run(text: str) -> None:
    # jieba's HMM step costs the square of a run it does not know (100,000 × 警 took about a
    # minute): it only ever sees pieces of bounded length, and a bounded part of a text.
    recording = _Recording()
    words = segment(text, recording)
    assert words and max(recording.lengths) <= SEGMENT_PIECE
    assert sum(recording.lengths) <= SEGMENT_LIMIT


def test_pieces_change_nothing_where_jieba_cuts_anyway() -> None:
    tokenizer = load_tokenizer()
    article = ("昨日下午，网友发布视频称某派出所民警在处置纠纷时动作粗暴，引发关注。"
               "当地公安分局回应称已成立调查组，将依法依规处理。Police said: no comment! ") * 150
    assert len(article) > 10 * SEGMENT_PIECE
    whole = [w for w in tokenizer.cut(article) if any(ch.isalnum() for ch in w)]
    assert segment(article, tokenizer) == whole


def test_a_hundred_thousand_of_one_character_segments_in_well_under_a_second() -> None:
    # Guard against a regression to quadratic time (the old path took about a minute);
    # benchmarks/bench_segment_length.py prints the measured times by length.
    start = time.process_time()
    segment("警" * 100_000, load_tokenizer())
    assert time.process_time() - start < 5
