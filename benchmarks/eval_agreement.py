"""Agreement between the two labellers of datasets/stance on the 400-text agreement sample.

    .venv/bin/python benchmarks/eval_agreement.py [--second datasets/stance/agreement_second.csv]

The second labeller labelled the sample (ids of labels.csv) with GUIDE.md alone, into
`id,stance,police_related`. Prints Cohen's kappa and raw agreement for police relevance, for
the three-way stance on the texts both call police-related, per stance class (that class
against the rest) and for "negative vs not", with the confusion table.
"""
from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "datasets" / "stance"
STANCES = ("negative", "neutral", "positive")


def kappa(first: list[str], second: list[str]) -> tuple[float, float]:
    """(Cohen's kappa, raw agreement) of two labellings of the same items."""
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second)) / n
    a_counts, b_counts = Counter(first), Counter(second)
    expected = sum(a_counts[k] * b_counts[k] for k in set(first) | set(second)) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0, observed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--second", type=Path, default=DATA / "agreement_second.csv")
    args = parser.parse_args()
    with open(DATA / "labels.csv", encoding="utf-8", newline="") as handle:
        mine = {row["id"]: row for row in csv.DictReader(handle)}
    with open(args.second, encoding="utf-8", newline="") as handle:
        theirs = {row["id"]: row for row in csv.DictReader(handle)}
    ids = [i for i in theirs if i in mine]
    print(f"{len(ids)} texts labelled by both ({len(theirs) - len(ids)} of the second file "
          "not in labels.csv)")
    relevance = kappa([mine[i]["police_related"] for i in ids],
                      [theirs[i]["police_related"].strip() for i in ids])
    print(f"police_related: kappa {relevance[0]:.3f}, agreement {relevance[1]:.3f}")
    both = [i for i in ids if mine[i]["police_related"] == "1"
            and theirs[i]["police_related"].strip() == "1"]
    a = [mine[i]["stance"] for i in both]
    b = [theirs[i]["stance"].strip() for i in both]
    k, agree = kappa(a, b)
    print(f"stance, {len(both)} texts both call police-related: kappa {k:.3f}, "
          f"agreement {agree:.3f}")
    for cls in STANCES:
        k, agree = kappa([x == cls for x in a], [y == cls for y in b])
        print(f"  {cls:8s} vs rest: kappa {k:.3f}, agreement {agree:.3f} "
              f"(first {a.count(cls)}, second {b.count(cls)})")
    print("confusion (rows: first labeller, columns: second):")
    table = Counter(zip(a, b))
    print("           " + "".join(f"{cls:>10s}" for cls in STANCES))
    for row in STANCES:
        print(f"  {row:8s} " + "".join(f"{table[(row, col)]:10d}" for col in STANCES))


if __name__ == "__main__":
    main()
