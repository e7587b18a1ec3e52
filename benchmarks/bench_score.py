"""Scoring throughput as users see it: a whole `jingyu score IN.csv -o OUT.csv` process
against plain `jieba.lcut` over the same texts.

    python benchmarks/bench_score.py [IN.csv] [--rows 200000] [--workers 1,2]
                                     [--sentiment fast,accurate]

Without IN.csv, a CSV of --rows rows (id,text) is generated from the texts of
/work/shared/data/sentiment/* (repeated and shuffled). jieba's throughput is the lcut loop
alone, dictionary already loaded; jingyu's is rows over the wall time of the CLI process,
start-up and CSV input and output included. The goal: jingyu >= 50% of jieba. Each
--sentiment model is timed (default fast, the bulk-scoring model; the accurate transformer is
~50x slower, so time it on fewer --rows).

On a shared machine wall time depends on what else runs; the CPU seconds (user + sys of
the process and its workers) are printed beside it, and their ratio is steadier.

First it times the accurate path's models in this process on the 8,000 short Weibo posts of
the smp2020 and osm2022 dev files (issue 15's goal: sentiment + stance >= 300 posts/s on two
cores): the shared encoder pass with the n-gram model (accurate sentiment) and the stance of
the police-related posts, then the whole Scorer (segmentation, keywords, rules, places,
stories) with the accurate model. --rows 0 skips the CLI runs.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("JINGYU_SENTIMENT_DATA", "/work/shared/data/sentiment"))

_JIEBA_ONLY = """
import csv, sys, time, jieba
csv.field_size_limit(sys.maxsize)
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    texts = [row["text"] for row in csv.DictReader(f)]
jieba.setLogLevel(60)
jieba.initialize()
start, cpu = time.perf_counter(), time.process_time()
for text in texts:
    jieba.lcut(text)
print(len(texts), time.perf_counter() - start, time.process_time() - cpu)
"""


def _texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(DATA.glob("*.csv")) + sorted(DATA.glob("*.csv.gz")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            texts.extend(row["text"] for row in csv.DictReader(f) if row.get("text"))
    if not texts:
        sys.exit(f"no texts under {DATA} (set JINGYU_SENTIMENT_DATA)")
    return texts


def generate(path: Path, rows: int, seed: int = 20261126) -> None:
    texts = _texts()
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        written = 0
        while written < rows:
            rng.shuffle(texts)
            for text in texts[:rows - written]:
                writer.writerow([written, text])
                written += 1


def jieba_only(path: Path) -> tuple[int, float, float]:
    """(texts, wall seconds, CPU seconds) of the lcut loop."""
    out = subprocess.run([sys.executable, "-c", _JIEBA_ONLY, str(path)], check=True,
                         capture_output=True, text=True, cwd=REPO).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def jingyu_score(path: Path, output: Path, workers: int, sentiment: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the whole CLI process, workers included."""
    script = Path(sys.executable).with_name("jingyu")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run([*command, "score", str(path), "-o", str(output), "--workers", str(workers),
                    "--sentiment", sentiment], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _children_cpu() - cpu


def _encoder_texts() -> list[str]:
    texts: list[str] = []
    for name in ("smp2020_ewect_weibo_dev.csv", "osm2022_weibo_events_dev.csv"):
        with (DATA / name).open(encoding="utf-8", newline="") as f:
            texts.extend(row["text"] for row in csv.DictReader(f))
    return texts


def models_rate() -> None:
    """Print posts/s of sentiment + stance (the accurate path's models) and of the Scorer."""
    sys.path.insert(0, str(REPO))
    import yaml

    from transforms import sentiment_bert, stance
    from transforms.police import find_police_terms
    from transforms.rules import parse_rules
    from transforms.scoring import Scorer, police_stances, sentiment_proba
    from transforms.segment import load_tokenizer, segment
    from transforms.text import normalise

    rules = parse_rules(yaml.safe_load((REPO / "config" / "rules.yaml").read_text("utf-8")),
                        "rules.yaml")
    scorer = Scorer(rules)
    texts = [normalise(t) for t in _encoder_texts()]
    tokenizer = load_tokenizer()
    sentiment_bert.shipped_model().encode(texts[:50])      # warm: sessions, caches
    stance.shipped_model()
    start, cpu = time.perf_counter(), time.process_time()
    words = [segment(t, tokenizer) for t in texts]
    terms = [find_police_terms(t) for t in texts]
    topics = [tuple(h.topic_id for h in rules.match(t, found)) for t, found in zip(texts, terms)]
    encoded = sentiment_bert.shipped_model().encode(texts)
    sentiment_proba("accurate", texts, words, encoded)
    found = police_stances(texts, [bool(t) for t in terms], topics, encoded)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    print(f"sentiment + stance (encoder pass, n-gram model, stance of "
          f"{sum(f is not None for f in found)} police-related posts, words and rules): "
          f"{len(texts) / seconds:6.0f} posts/s  {seconds:6.1f} s wall {cpu_s:6.1f} s CPU "
          f"on {len(texts)} posts")
    start, cpu = time.perf_counter(), time.process_time()
    scorer.score_texts(texts)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    print(f"Scorer.score_texts, accurate (everything)  {len(texts) / seconds:6.0f} posts/s  "
          f"{seconds:6.1f} s wall {cpu_s:6.1f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", help="CSV with a text column (default: generated)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows to generate")
    parser.add_argument("--workers", default="1", help="comma-separated worker counts to time")
    parser.add_argument("--sentiment", default="fast",
                        help="comma-separated sentiment models to time (fast, accurate)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    models_rate()
    if not args.rows and not args.input:
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench_score_"))
    try:
        source = Path(args.input) if args.input else workdir / "in.csv"
        if not args.input:
            generate(source, args.rows)
        rows, jieba_s, jieba_cpu = jieba_only(source)
        jieba_rate = rows / jieba_s
        print(f"{rows} rows, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"jieba.lcut only           {jieba_rate:6.0f} posts/s  {jieba_s:6.1f} s wall "
              f"{jieba_cpu:6.1f} s CPU")
        for sentiment in args.sentiment.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                seconds, cpu = jingyu_score(source, workdir / "out.csv", workers, sentiment)
                rate = rows / seconds
                print(f"jingyu score --sentiment {sentiment:8s} --workers {workers}  "
                      f"{rate:6.0f} posts/s  {seconds:6.1f} s wall {cpu:6.1f} s CPU   "
                      f"ratio {rate / jieba_rate:.2f} wall, {jieba_cpu / cpu:.2f} CPU")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
