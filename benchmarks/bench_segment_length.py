"""Scoring time against text length (issue 10): segmentation and the whole Scorer on one text
of 1,000 to 300,000 characters, for texts that used to cost the square of their length.

    python benchmarks/bench_segment_length.py [--lengths 1000,10000,100000,300000]
                                              [--sentiment fast|accurate]

Kinds of text: one character repeated (警…: jieba's HMM copied its path at every step, so
100,000 took about a minute and 300,000 did not finish in five), one rare ideograph repeated,
random ideographs, ordinary news prose (repeated sentences with punctuation) and ASCII letters.
Times are CPU seconds of this process (steadier than wall time on a shared machine); the
dictionary and models are loaded before timing. Linear means the last columns grow no faster
than the length; "per 10k chars" makes that easy to read.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.scoring import _build_scorer  # noqa: E402
from transforms.segment import load_tokenizer, segment  # noqa: E402

PROSE = ("昨日下午，网友发布视频称某派出所民警在处置纠纷时动作粗暴，引发关注。"
         "当地公安分局回应称已成立调查组，将依法依规处理，结果及时向社会公布。")


def texts(length: int) -> dict[str, str]:
    rng = random.Random(length)
    return {
        "警×n": "警" * length,
        "齉×n": "齉" * length,
        "random CJK": "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(length)),
        "news prose": (PROSE * (length // len(PROSE) + 1))[:length],
        "ASCII": "a" * length,
    }


def cpu(work) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1000,10000,100000,300000")
    parser.add_argument("--sentiment", default="fast", choices=["fast", "accurate"])
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    tokenizer = load_tokenizer()
    scorer = _build_scorer(None, args.sentiment)
    scorer.score_texts(["预热"])
    print(f"{'text':<12} {'chars':>8} {'segment s':>10} {'per 10k':>8} "
          f"{'score s':>8} {'per 10k':>8}")
    for length in lengths:
        for kind, text in texts(length).items():
            seg = cpu(lambda: segment(text, tokenizer))
            whole = cpu(lambda: scorer.score_texts([text]))
            print(f"{kind:<12} {length:>8} {seg:>10.3f} {seg / length * 10_000:>8.3f} "
                  f"{whole:>8.3f} {whole / length * 10_000:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
