"""How the negative-share signal (负面占比突增) behaves: false alarms and turns caught.

    nice .venv/bin/python benchmarks/eval_share_turns.py [--days 28] [--reps 3]

Synthetic police texts of one area at 12, 30 and 100 an hour (gamma-Poisson volume), each
negative with a share that changes every hour: drawn from a beta distribution around 25 %
with an hour-to-hour standard deviation of 0.05, 0.08 or 0.12 (news moods; real shares swing
far more than coin flips). After 14 days of history, every other 5-minute cycle runs the
share test of alerts.detection.surges (the same function the live path calls) over the last hour.
Prints false alarms a week per swing, and how many one-hour turns to 80 % and to 60 %
negative (swing 0.08) are caught within two hours.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.settings import SpikeSettings  # noqa: E402
from alerts.detection.surges import POLICE_NEGATIVE, POLICE_VOLUME, _share_surges  # noqa: E402

BUCKET_S, DAY_BUCKETS, WARM_UP_DAYS = 300, 288, 14
VOLUME, NEGATIVE = (POLICE_VOLUME, None), (POLICE_NEGATIVE, None)


def simulate(rate_h: float, swing: float, days: int, seed: int, turn: float | None = None
             ) -> tuple[float, bool]:
    """(false alarms a week, whether the planted turn was caught)."""
    rng = np.random.default_rng(seed)
    buckets = days * DAY_BUCKETS
    hour = np.arange(buckets) // 12
    usual = 0.25
    spread = usual * (1 - usual) / swing ** 2 - 1
    share = rng.beta(usual * spread, (1 - usual) * spread, size=buckets // 12 + 1)
    turned_hour = buckets // 12 - 20
    if turn is not None:
        share[turned_hour] = turn
    rate = rate_h / 12 * rng.gamma(1 / 0.09, 0.09, size=buckets // 12 + 1)
    counts = rng.poisson(rate[hour])
    negatives = rng.binomial(counts, share[hour])
    volume, negative = [], []
    for i in range(buckets):
        at = i * BUCKET_S + np.sort(rng.integers(0, BUCKET_S, size=counts[i]))
        is_negative = np.zeros(counts[i], bool)
        is_negative[:negatives[i]] = True
        rng.shuffle(is_negative)
        volume.append(at)
        negative.append(at[is_negative])
    all_volume, all_negative = np.concatenate(volume), np.concatenate(negative)
    settings = SpikeSettings()
    false_alarms, caught, last = 0, False, -10 ** 9
    for bucket in range(WARM_UP_DAYS * DAY_BUCKETS, buckets, 2):
        now = (bucket + 1) * BUCKET_S
        window_from, start = now - 3600, now - WARM_UP_DAYS * 86_400
        first = {VOLUME: all_volume[(all_volume >= start) & (all_volume <= now)],
                 NEGATIVE: all_negative[(all_negative >= start) & (all_negative <= now)]}
        in_window = {key: int((times > window_from).sum()) for key, times in first.items()}
        if in_window[VOLUME] < settings.min_count:
            continue
        if _share_surges({VOLUME}, first, in_window, settings, window_from):
            if turn is not None and turned_hour * 12 <= bucket < (turned_hour + 2) * 12:
                caught = True
            elif bucket - last > 72:              # one alert per 6 hours, as the live path
                false_alarms += 1
            last = bucket
    weeks = (buckets - WARM_UP_DAYS * DAY_BUCKETS) / (7 * DAY_BUCKETS)
    return false_alarms / weeks, caught


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"negative share usually 25 %; {args.days - WARM_UP_DAYS} evaluated days per run")
    print("texts/h | false alarms/week at swing 0.05 / 0.08 / 0.12 | turn to 80 % | turn to 60 %")
    for rate in (12, 30, 100):
        alarms = [simulate(rate, swing, args.days, seed=0)[0] for swing in (0.05, 0.08, 0.12)]
        to80 = sum(simulate(rate, 0.08, args.days, seed, turn=0.8)[1] for seed in range(args.reps))
        to60 = sum(simulate(rate, 0.08, args.days, seed, turn=0.6)[1] for seed in range(args.reps))
        print(f"{rate:7d} | {' / '.join(f'{a:.2f}' for a in alarms):>44s} | "
              f"{to80}/{args.reps:<10d} | {to60}/{args.reps}")
    print(f"runtime {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
