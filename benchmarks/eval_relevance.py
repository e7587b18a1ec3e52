"""Police relevance (涉警) against the hand labels of datasets/stance/labels.csv.

    .venv/bin/python benchmarks/eval_relevance.py [--split dev|train|all] [--errors]

Prints precision, recall and F1 of transforms.police.find_police_terms (what scoring uses)
and of the naive rule "the text contains 警 or 公安", on the chosen split (default: dev, which
no rule was tuned on). --errors lists the texts the shipped rule gets wrong.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.police import find_police_terms  # noqa: E402
from transforms.text import clean_text  # noqa: E402

LABELS = ROOT / "datasets" / "stance" / "labels.csv"


def scores(truth: list[bool], predicted: list[bool]) -> tuple[float, float, float]:
    tp = sum(t and p for t, p in zip(truth, predicted))
    precision = tp / max(1, sum(predicted))
    recall = tp / max(1, sum(truth))
    return precision, recall, 2 * precision * recall / max(1e-9, precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "train", "all"), default="dev")
    parser.add_argument("--errors", action="store_true", help="list the misclassified texts")
    args = parser.parse_args()
    with open(LABELS, encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle)
                if args.split == "all" or row["split"] == args.split]
    texts = [clean_text(row["text"]) for row in rows]
    truth = [row["police_related"] == "1" for row in rows]
    shipped = [bool(find_police_terms(text)) for text in texts]
    naive = ["警" in text or "公安" in text for text in texts]
    print(f"{args.split}: {len(rows)} texts, {sum(truth)} police-related")
    for name, predicted in (("find_police_terms (shipped)", shipped), ("naive 警 or 公安", naive)):
        precision, recall, f1 = scores(truth, predicted)
        print(f"  {name:28s} precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}")
    if args.errors:
        for row, text, t, p in zip(rows, texts, truth, shipped):
            if t != p:
                print(f"{'missed' if t else 'false '} {row['id']}: {text[:100]}")


if __name__ == "__main__":
    main()
