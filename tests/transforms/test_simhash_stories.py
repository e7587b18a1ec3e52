"""Near-duplicate fingerprints (transforms.stories): copies share band keys, unrelated posts
do not, and the keys are the same in every process and batch."""
from __future__ import annotations

import subprocess
import sys

from transforms.stories import BANDS, SAME_STORY, fingerprint, fingerprints, jaccard, shingles

ORIGINAL = ("青川市临江区滨河路夜市发生一起纠纷，一名辅警在执法过程中推倒摆摊阿姨，"
            "现场视频在网上流传，引发网友热议。临江分局回应称已成立调查组。")
COPIES = [
    "转发微博 " + ORIGINAL,                               # repost prefix
    "//@临江吃瓜群众: 太过分了！" + ORIGINAL,              # repost with a comment
    ORIGINAL.replace("，", " ") + "[怒][怒]",             # punctuation and emoticons
    "【青川临江：辅警推倒摆摊阿姨】" + ORIGINAL,           # syndicated with a headline
    ORIGINAL.replace("临江分局回应称已成立调查组。", ""),   # a sentence dropped
    "ＱＩＮＧＣＨＵＡＮ " + ORIGINAL,                     # full-width letters
]
UNRELATED = [
    "今天天气很好，适合去公园散步，晚上和朋友吃火锅。",
    "青川市临江区滨河路夜市发生一起交通事故，一辆电动车与小轿车相撞，无人员伤亡。",
    "北湖公园今天举办菊花展，市民游客络绎不绝，现场秩序井然。",
]


def test_copies_share_a_band_key_and_pass_the_check() -> None:
    keys = set(fingerprint(ORIGINAL))
    assert len(keys) == BANDS
    for copy in COPIES:
        assert keys & set(fingerprint(copy)), copy
        assert jaccard(shingles(ORIGINAL), shingles(copy)) >= SAME_STORY, copy


def test_unrelated_posts_share_no_key_and_fail_the_check() -> None:
    keys = set(fingerprint(ORIGINAL))
    for other in UNRELATED:
        assert not keys & set(fingerprint(other)), other
        assert jaccard(shingles(ORIGINAL), shingles(other)) < SAME_STORY, other


def test_a_batch_gives_what_each_text_gives_alone() -> None:
    texts = [ORIGINAL, "", "!!", "a", "ab", *COPIES, *UNRELATED, "民警"]
    assert fingerprints(texts) == [fingerprint(text) for text in texts]
    assert fingerprint("") == () and fingerprint("!!") == ()
    assert len(fingerprint("a")) == BANDS


def test_keys_are_stable_across_processes_and_fit_a_bigint() -> None:
    keys = fingerprint(ORIGINAL)
    assert all(0 <= key < 2**63 for key in keys)
    code = ("from transforms.stories import fingerprint; "
            f"print(list(fingerprint({ORIGINAL!r})))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=".")
    assert other.stdout.strip() == str(list(keys))


def test_the_scorer_gives_every_post_its_keys(scorer) -> None:
    rows = scorer.score_texts([ORIGINAL, COPIES[0], ""])
    first, copy, empty = ([bytes.fromhex(k) for k in row["story_keys"].split("|") if k]
                          for row in rows)
    assert len(first) == BANDS and set(first) & set(copy) and empty == []
