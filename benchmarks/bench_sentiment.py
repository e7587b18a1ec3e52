"""Sentiment accuracy per dev set and inference throughput: old paths vs the shipped models.

    .venv/bin/python benchmarks/bench_sentiment.py [--data DIR] [--snownlp-sample N]

Per dev set (label,text CSV): accuracy / macro-F1 / ROC AUC of
  * snownlp default  SnowNLP(text).sentiments, on a seeded sample (it is slow),
  * old path         snownlp's bundled Bayes over pipeline jieba words (transforms.sentiment),
  * fast model       transforms.sentiment_model (n-grams, shipped file), over the same words,
  * transformer      transforms.sentiment_bert alone (fine-tuned m3e-small, onnxruntime int8),
  * accurate model   what scoring uses by default: the mean of the last two models' logits.
Then posts/s on the same short texts for jieba.lcut, the pipeline's segment(), and the
sentiment step alone (old path, fast model per post and per batch, accurate model).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.evaluate import read_labelled_csv  # noqa: E402
from transforms.evaluation import binary_metrics  # noqa: E402
from transforms.segment import load_tokenizer, segment  # noqa: E402
from transforms.sentiment import (PolarityThresholds, classify_sentiment,  # noqa: E402
                                  load_sentiment_model)
from transforms.sentiment_bert import combine  # noqa: E402
from transforms.sentiment_bert import shipped_model as transformer_model  # noqa: E402
from transforms.sentiment_model import shipped_model  # noqa: E402
from transforms.text import normalise  # noqa: E402

DEV_SETS = ("osm2022_weibo_events", "smp2020_ewect_weibo", "chnsenticorp",
            "weibo_senti_100k_subset")


# Hand-written police news that only states facts (should come out neutral), and opinions.
FACTUAL_NEWS = [
    "3月5日，某市公安局发布警情通报：经查，犯罪嫌疑人王某已被依法刑事拘留，案件正在进一步调查中。",
    "据新华社报道，公安部召开会议，部署开展打击电信网络诈骗专项行动。",
    "记者从市交管局获悉，5月1日起，市区部分路段将实行单向通行。",
    "2024年6月12日14时许，某区发生一起交通事故，造成一人受伤，交警已到场处置。",
    "警方通报：网传某地民警打人视频系2019年旧闻，相关民警已受到处分。",
    "市公安局举行新闻发布会，通报上半年全市治安形势，刑事案件立案数同比下降12%。",
    "某县公安局印发通知，自即日起开展为期三个月的夏季治安打击整治行动。",
    "据警方介绍，涉案的3名犯罪嫌疑人均已到案，案件正在进一步侦办中。",
]
OPINIONS = [
    ("negative", "警察打人还有理了？这种执法简直让人气死，凭什么！"),
    ("negative", "报警半天没人管，派出所太不作为了，寒心。"),
    ("negative", "又是通报一出就完事了？真相呢？我不信"),
    ("positive", "警察叔叔太棒了，深夜帮我找回孩子，为你们点赞！"),
    ("positive", "感谢交警冒雨疏导交通，辛苦了！"),
    ("positive", "反诈民警及时劝阻，帮我保住了十万块钱，谢谢你们"),
]


def bench_three_way(name: str, predict, tokenizer) -> None:
    from transforms.sentiment_model import factual_score, polarity

    texts = FACTUAL_NEWS + [t for _, t in OPINIONS]
    expected = ["neutral"] * len(FACTUAL_NEWS) + [e for e, _ in OPINIONS]
    probs = predict(texts, [segment(t, tokenizer) for t in texts])
    right = 0
    print(f"\nthree-way polarity, {name} model, on hand-written texts "
          "(expected / got, P(pos), factual score):")
    for text, want, p in zip(texts, expected, probs):
        got = polarity(float(p), text)
        right += got == want
        plain = "negative" if p < 0.35 else "positive" if p > 0.65 else "neutral"
        print(f"  {want:8s} {got:8s} p={p:.2f} factual={factual_score(text):.2f} "
              f"(band only: {plain:8s}) {text[:28]}")
    print(f"  {right}/{len(texts)} as expected")


def fmt(m: dict[str, float]) -> str:
    return f"{m['accuracy']:.3f} / {m['macro_f1']:.3f} / {m['roc_auc']:.3f}"


def rate(n: int, fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/sentiment"))
    parser.add_argument("--snownlp-sample", type=int, default=300)
    args = parser.parse_args()

    import jieba
    from snownlp import SnowNLP

    tokenizer = load_tokenizer()
    old = load_sentiment_model()
    thresholds = PolarityThresholds()
    model = shipped_model()
    transformer = transformer_model()

    def accurate(texts, words):
        return combine(transformer.predict_proba(texts), model.predict_proba(texts, words))

    print("accuracy / macro-F1 / ROC AUC at threshold 0.5")
    print(f"{'dev set':24s} {'rows':>5s}  {'snownlp default (sample)':28s} "
          f"{'old Bayes over jieba':22s} {'fast model':22s} {'transformer':22s} "
          f"{'accurate model':22s}")
    short: list[str] = []
    for name in DEV_SETS:
        path = args.data / f"{name}_dev.csv"
        if not path.exists():
            continue
        labels, raw = read_labelled_csv(path)
        texts = [normalise(t) for t in raw]
        words = [segment(t, tokenizer) for t in texts]
        if name in ("osm2022_weibo_events", "smp2020_ewect_weibo"):
            short += texts
        sample = random.Random(0).sample(range(len(texts)), min(args.snownlp_sample, len(texts)))
        snow = binary_metrics([labels[i] for i in sample],
                              [SnowNLP(texts[i]).sentiments if texts[i] else 0.5
                               for i in sample])
        old_p = [classify_sentiment(ws, old, thresholds)[0] for ws in words]
        fast_p = model.predict_proba(texts, words)
        transformer_p = transformer.predict_proba(texts)
        accurate_p = combine(transformer_p, fast_p)
        print(f"{name[:24]:24s} {len(texts):5d}  {fmt(snow) + f' (n={len(sample)})':28s} "
              + " ".join(f"{fmt(binary_metrics(labels, p)):22s}"
                         for p in (old_p, fast_p, transformer_p, accurate_p)))

    bench_three_way("fast", model.predict_proba, tokenizer)
    bench_three_way("accurate", accurate, tokenizer)

    # ---- throughput on the short Weibo texts --------------------------------------------
    texts = short
    n = len(texts)
    words = [segment(t, tokenizer) for t in texts]
    jieba_rate = rate(n, lambda: [jieba.lcut(t) for t in texts])
    segment_rate = rate(n, lambda: [segment(t, tokenizer) for t in texts])
    old_rate = rate(n, lambda: [classify_sentiment(ws, old, thresholds) for ws in words])
    one_rate = rate(n, lambda: [model.predict_one(t, ws) for t, ws in zip(texts, words)])
    batch_rate = rate(n, lambda: model.predict_proba(texts, words))
    accurate_rate = rate(n, lambda: accurate(texts, words), repeats=1)
    avg = sum(map(len, texts)) / n
    print(f"\nthroughput on {n} Weibo dev posts (mean {avg:.0f} chars), posts/s, best of 3 "
          "(accurate: one run):")
    print(f"  jieba.lcut                           {jieba_rate:10,.0f}")
    print(f"  pipeline segment()                   {segment_rate:10,.0f}")
    print(f"  old sentiment (snownlp Bayes)        {old_rate:10,.0f}")
    print(f"  fast model, predict_one per post     {one_rate:10,.0f}")
    print(f"  fast model, predict_proba batch      {batch_rate:10,.0f}")
    print(f"  accurate model (transformer + fast)  {accurate_rate:10,.0f}")
    for label, r in (("fast, per post", one_rate), ("fast, batch", batch_rate),
                     ("accurate", accurate_rate)):
        combined = 1.0 / (1.0 / segment_rate + 1.0 / r)
        print(f"  segment() + {label} model: {combined:,.0f} posts/s = "
              f"{combined / jieba_rate:.0%} of jieba.lcut alone")
    old_combined = 1.0 / (1.0 / segment_rate + 1.0 / old_rate)
    print(f"  segment() + old sentiment: {old_combined:,.0f} posts/s = "
          f"{old_combined / jieba_rate:.0%} of jieba.lcut alone")
    print(f"\nfast model: {len(model.vocab):,} features, "
          f"{np.dtype(np.float16).itemsize * model.weights.size / 1e6:.1f} MB of float16 weights")


if __name__ == "__main__":
    main()
