"""NAB realTweets benchmark of alerts.detection.spike: per-file and total scores vs published ones.

Usage: .venv/bin/python benchmarks/bench_nab.py [--keep DIR]

Reads the shared NAB half from $JINGYU_SHARED/data/nab (default: ../shared next to the repo),
runs the detector over each series through flows.detect_csv, scores the 0/1 `alert` column with
$JINGYU_SHARED/tools/nab_score.py (threshold 0.5), and first re-scores the bundled
windowedGaussian outputs to check the scorer reproduces its published number. No network.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alerts.detection.spike import SpikeDetector, SpikeParams  # noqa: E402
from flows.detect_cli import detect_csv  # noqa: E402

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SHORT = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}
PUBLISHED = ("contextOSE", "ARTime", "numenta", "twitterADVec", "windowedGaussian")
CHECK_DETECTOR = "windowedGaussian"


def shared_dir() -> Path:
    env = os.environ.get("JINGYU_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def run_scorer(scorer: Path, nab: Path, detections: Path, extra: list[str]) -> list[dict]:
    """Run nab_score.py and return its --csv table as dicts."""
    table = detections / "_scores.csv"
    cmd = [sys.executable, str(scorer), "--data", str(nab), "--windows",
           str(nab / "combined_windows.json"), "--detections", str(detections),
           "--csv", str(table), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"nab_score.py failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    with table.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    table.unlink()
    return rows


def normalised(raw: float, n_windows: int, cost: dict[str, float]) -> float:
    """NAB normalisation: null detector (never fires) 0, perfect detector 100."""
    null, perfect = -cost["fnWeight"] * n_windows, cost["tpWeight"] * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", metavar="DIR",
                    help="write detector outputs here instead of a temp dir")
    args = ap.parse_args(argv)

    shared = shared_dir()
    nab, scorer = shared / "data" / "nab", shared / "tools" / "nab_score.py"
    ref = nab / "reference"
    for need in (nab / "combined_windows.json", scorer, ref / "published_per_file_scores.csv"):
        if not need.exists():
            raise SystemExit(f"missing {need} (set JINGYU_SHARED to the shared folder)")
    windows = json.loads((nab / "combined_windows.json").read_text())
    keys = sorted(windows)
    n_win = {k: len(windows[k]) for k in keys}
    costs = {name: spec["CostMatrix"]
             for name, spec in json.loads((ref / "nab_profiles.json").read_text()).items()}

    # 1. The scorer reproduces a published number on the bundled reference outputs.
    rows = run_scorer(scorer, nab, ref / "detector_outputs",
                      ["--prefix", f"{CHECK_DETECTOR}_", "--thresholds-file",
                       str(ref / "nab_thresholds.json"), "--detector", CHECK_DETECTOR])
    got = {r["Profile"]: float(r["Score"]) for r in rows if r["File"] == "NORMALISED"}
    with (ref / "subset_normalized_scores.csv").open(newline="") as fh:
        published_total = {r["detector"]: {p: float(r[p]) for p in PROFILES}
                           for r in csv.DictReader(fh)}
    want = published_total[CHECK_DETECTOR]
    ok = all(abs(got[p] - want[p]) < 0.006 for p in PROFILES)
    print(f"scorer check on {CHECK_DETECTOR} reference outputs: "
          + ", ".join(f"{SHORT[p]} {got[p]:.2f} (published {want[p]:.2f})" for p in PROFILES)
          + (" - OK" if ok else " - MISMATCH"))
    if not ok:
        return 1

    # 2. Our detector: throughput on the in-memory kernel, then outputs via detect_csv.
    params = SpikeParams()
    n_points, cpu, wall = 0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(args.keep) if args.keep else Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for key in keys:
            src = nab / key
            with src.open(newline="") as fh:
                data = list(csv.DictReader(fh))
            stamps = np.array([r["timestamp"] for r in data], dtype="datetime64[us]")
            values = np.array([float(r["value"]) for r in data])
            # CPU time as well as wall time: the machine is shared, and wall time then
            # measures the neighbours as much as the detector.
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            SpikeDetector(params).score_series(stamps, values)
            cpu += time.process_time() - start_cpu
            wall += time.perf_counter() - start_wall
            n_points += len(values)
            detect_csv(src, out_dir / f"jingyu_{src.name}", params)
        rows = run_scorer(scorer, nab, out_dir, ["--prefix", "jingyu_", "--column", "alert",
                                                 "--threshold", "0.5"])

    ours = {(r["Profile"], r["File"]): r for r in rows}
    published: dict[tuple[str, str, str], float] = {}
    with (ref / "published_per_file_scores.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            published[(r["Detector"], r["Profile"], r["File"])] = float(r["Score"])

    print(f"\nparams: {params}")
    for p in PROFILES:
        cost = costs[p]
        print(f"\n{SHORT[p]} profile (normalised; per file with that file's windows)")
        print(f"{'file':<28}{'jingyu':>8} {'det':>5} {'FP':>3}"
              + "".join(f"{d:>17}" for d in PUBLISHED))
        for key in keys:
            r = ours[(p, key)]
            cells = [f"{normalised(published[(d, p, key)], n_win[key], cost):>17.1f}"
                     for d in PUBLISHED]
            print(f"{Path(key).name:<28}{normalised(float(r['Score']), n_win[key], cost):>8.1f} "
                  f"{r['Windows_Detected'] + '/' + r['Windows']:>5} {r['FP_Detections']:>3}"
                  + "".join(cells))
        total = float(ours[(p, "NORMALISED")]["Score"])
        n_fp = sum(int(ours[(p, k)]["FP_Detections"]) for k in keys)
        n_det = sum(int(ours[(p, k)]["Windows_Detected"]) for k in keys)
        print(f"{'TOTAL':<28}{total:>8.2f} {f'{n_det}/{sum(n_win.values())}':>5} {n_fp:>3}"
              + "".join(f"{published_total[d][p]:>17.2f}" for d in PUBLISHED))

    print(f"\nthroughput (SpikeDetector.score_series, one core, {n_points} points): "
          f"{n_points / cpu:,.0f} points/s of CPU time, {n_points / wall:,.0f} points/s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
