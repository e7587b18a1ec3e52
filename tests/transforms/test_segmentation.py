"""jieba segmentation with the police vocabulary, stopword filtering and quiet start-up."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from transforms.segment import STOPWORDS, content_words, load_tokenizer, segment


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
