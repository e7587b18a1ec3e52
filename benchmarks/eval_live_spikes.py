"""How early the live spike path fires on real surges, and how quiet it stays otherwise.

    nice .venv/bin/python benchmarks/eval_live_spikes.py [--seed 1] [--quick] [--levels ...]

Synthetic, labelled data; the live path itself (alerts.detection.surges.find_surges,
untouched). Each base level (texts an hour, weekly mean) is its own series of negative
police-related texts:
14 days of warm-up, then 28 evaluated days. The background is a gamma-Poisson (overdispersed)
flow whose rate follows a Beijing-time daily profile (quiet 01-07, morning rise, evening peak
20-22) and differs on weekends, with unlabelled 2x hours ("bumps") now and then, and reposts
(the same content_hash again; now and then a viral one, 40 copies in an hour) that must not
count. Labelled surges: a 1-hour rising ramp of 5/10/20/50 extra distinct texts, and a slow
6-hour swell, at random times (fixed seed). Add a busy all-jurisdictions series with e.g.
--levels 0.5 2 8 30 120 (slow: every cycle replays it).

The monitor is simulated as it runs: at each 5-minute cycle find_surges gets the last 2 hours
of mentions as `recent`, a history(since, until) callable slicing everything seen so far, and
coverage_start = start of data. A surge is detected when a cycle within the horizon after its
start (3 h; a swell: its 6 h) reports the series with a flagged_at at or after the surge's
first bucket; the delay is that cycle minus the surge start. A new (key, flagged_at) outside
every labelled window (surge start to its end + 3 h) is a false alarm.

  A. each surge alone in the background (the detector's history holds no other labelled
     surge): sensitivity and delay;
  B. all surges of a level in one series (one every ~2 days): the same, as a series that
     keeps having incidents sees it (an earlier, bigger surge can mask a later one);
  C. false alarms per week in the series of B.

Cycles inside labelled windows are all evaluated. Outside them, at base levels >= 5 texts an
hour, only every 6th cycle is (--stride): a flag stays reported for follow_hours while the
window holds min_count texts, which at those levels it nearly always does, so little is
lost (--stride 1 evaluates every cycle, ~4x slower). Quiet levels evaluate every cycle.

Baseline: a naive fixed threshold over the same distinct texts, alerting when the last 60
minutes hold >= 3x the mean hourly count of the 24 h before them and >= 5 texts, re-arming
after follow_hours like the detector, evaluated at every cycle.
"""
from __future__ import annotations

import argparse
import bisect
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.settings import SpikeSettings  # noqa: E402
from alerts.detection.surges import POLICE_NEGATIVE, POLICE_VOLUME, find_surges  # noqa: E402
from jingyu.timeutil import shanghai  # noqa: E402
from warehouse.records import Mention  # noqa: E402

UTC = timezone.utc
US = 1_000_000
BUCKET_US = 300 * US
HOUR_US = 3600 * US
DAY_US = 86_400 * US
# Monday 2026-03-02 00:00 Beijing time: days and weekdays line up with local midnight.
DATA_START = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
KEY = (POLICE_NEGATIVE, None)
TWIN = (POLICE_VOLUME, None)      # every text is police-related: the same counts, must agree

# Relative rate by Beijing hour (centre of the hour), weekday; normalised below.
WEEKDAY = np.array([0.55, 0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.35, 0.65, 0.95, 1.10, 1.20,
                    1.15, 1.05, 1.10, 1.15, 1.20, 1.30, 1.40, 1.60, 1.85, 1.95, 1.75, 1.05])
# Weekends start late and run later into the evening.
WEEKEND = WEEKDAY * np.array([1.15, 1.15, 1.1, 1, 1, 1, 0.8, 0.6, 0.6, 0.7, 0.8, 0.9, 0.9,
                              0.9, 0.9, 0.9, 0.95, 1, 1.05, 1.1, 1.1, 1.1, 1.15, 1.2])


@dataclass
class Config:
    seed: int
    levels: tuple[float, ...]
    sizes: tuple[int, ...]
    reps: int
    swell_sizes: tuple[int, ...]
    swell_reps: int
    swell_hours: float
    warmup_days: int
    eval_days: int
    dispersion: float
    noise_minutes: int
    bump_every_days: float
    bump_factor: float
    repost_share: float
    repost_mean: float
    viral_every_days: float
    horizon_hours: float
    tail_hours: float
    min_gap_hours: float
    stride: int
    stride_from: float
    recent_hours: float
    cycle_offset_s: int
    naive_factor: float
    naive_min: int


@dataclass
class Surge:
    shape: str                     # "ramp" (1 h) or "swell"
    size: int
    start_us: int
    duration_us: int
    horizon_us: int
    window_end_us: int             # labelled window: [first bucket, window_end)
    prior_bigger: bool = False     # a labelled surge >= this one in the 15 days before
    texts_us: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def first_bucket_us(self) -> int:
        return self.start_us // BUCKET_US * BUCKET_US

    @property
    def label(self) -> str:
        return f"{self.shape} +{self.size}"


@dataclass
class World:
    level: float
    mentions: list[Mention]
    ts: list[int]                  # seen_at in epoch microseconds, sorted
    first_seen: np.ndarray         # per distinct text: first seen_at (epoch us), sorted
    surges: list[Surge]
    bumps: list[int]               # unlabelled 2x hours: start (epoch us)
    texts: int = 0
    reposts: int = 0
    owner: list[int] = field(default_factory=list)
    first_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    first_all: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class Outcome:
    """What one detector reported on one world, after matching with the labels."""

    detected: dict[int, float] = field(default_factory=dict)    # surge index -> delay (min)
    extra_flags: dict[int, int] = field(default_factory=dict)   # surge index -> re-flags
    false_alarms: list[tuple[int, int]] = field(default_factory=list)  # (flagged, reported)
    pages: int = 0
    false_pages: int = 0


# ---- data -------------------------------------------------------------------------------

def _profile(n_buckets: int) -> np.ndarray:
    """Relative rate per bucket (mean 1 over whole weeks), linear between hour centres."""
    local_start = DATA_START + timedelta(hours=8)
    assert local_start.hour == 0 and local_start.weekday() == 0
    idx = np.arange(n_buckets)
    hours = (idx % 288) / 12.0                       # fractional local hour of day
    weekday = (idx // 288) % 7
    x = hours - 0.5 + 1 / 24                         # bucket centre vs hour centres
    lo = np.floor(x).astype(int) % 24
    hi = (lo + 1) % 24
    frac = x - np.floor(x)
    rate = np.empty(n_buckets)
    for weekend, table in ((False, WEEKDAY), (True, WEEKEND)):
        sel = (weekday >= 5) == weekend
        rate[sel] = table[lo[sel]] * (1 - frac[sel]) + table[hi[sel]] * frac[sel]
    week = np.concatenate([np.repeat(WEEKDAY, 12)] * 5 + [np.repeat(WEEKEND, 12)] * 2)
    return rate / week.mean()


def _ramp_times(rng: np.random.Generator, start_us: int, duration_us: int, n: int) -> np.ndarray:
    """n times over [start, start+duration) with linearly rising density (a ramp)."""
    return start_us + (np.sqrt(rng.random(n)) * duration_us).astype(np.int64)


def _schedule(rng: np.random.Generator, cfg: Config, eval_start: int, eval_end: int
              ) -> list[Surge]:
    kinds = [("ramp", s, HOUR_US) for s in cfg.sizes for _ in range(cfg.reps)]
    kinds += [("swell", s, int(cfg.swell_hours * HOUR_US))
              for s in cfg.swell_sizes for _ in range(cfg.swell_reps)]
    order = rng.permutation(len(kinds))
    gap = int(cfg.min_gap_hours * HOUR_US)
    for _ in range(2000):
        starts: list[int] = []
        ok = True
        for i in order:
            shape, size, dur = kinds[i]
            horizon = max(int(cfg.horizon_hours * HOUR_US), dur)
            hi = eval_end - dur - int(cfg.tail_hours * HOUR_US) - horizon
            lo = eval_start + 2 * HOUR_US
            for _ in range(200):
                s = int(rng.integers(lo, hi))
                if all(abs(s - t) >= gap for t in starts):
                    starts.append(s)
                    break
            else:
                ok = False
                break
        if ok:
            break
        gap = int(gap * 0.9)
    surges = []
    for i, s in zip(order, starts):
        shape, size, dur = kinds[i]
        horizon = max(int(cfg.horizon_hours * HOUR_US), dur)
        surges.append(Surge(shape, size, s, dur, horizon,
                            window_end_us=s + dur + int(cfg.tail_hours * HOUR_US)))
    surges.sort(key=lambda x: x.start_us)
    for s in surges:
        s.prior_bigger = any(o is not s and o.size >= s.size
                             and 0 < s.start_us - o.start_us <= 15 * DAY_US for o in surges)
    return surges


def make_world(level: float, cfg: Config, rng: np.random.Generator) -> World:
    """One series: the background, every labelled surge, and each surge's own mentions."""
    days = cfg.warmup_days + cfg.eval_days
    n_buckets = days * 288
    t0 = int(DATA_START.timestamp()) * US
    eval_start = t0 + cfg.warmup_days * DAY_US
    end = t0 + days * DAY_US
    lam = level / 12.0 * _profile(n_buckets)
    # Overdispersion: a gamma multiplier (relative spread `dispersion`) held for noise_minutes.
    span = max(1, cfg.noise_minutes // 5)
    k = 1.0 / cfg.dispersion ** 2
    mult = rng.gamma(k, 1.0 / k, size=-(-n_buckets // span)).repeat(span)[:n_buckets]
    lam = lam * mult
    bumps = []
    n_bumps = rng.poisson(days / cfg.bump_every_days)
    for b in rng.integers(0, n_buckets - 12, size=n_bumps):
        lam[b:b + 12] *= cfg.bump_factor
        bumps.append(t0 + int(b) * BUCKET_US)
    counts = rng.poisson(lam)
    bucket = np.repeat(np.arange(n_buckets, dtype=np.int64), counts)
    times = [t0 + bucket * BUCKET_US + rng.integers(1, BUCKET_US, size=bucket.size)]
    surges = _schedule(rng, cfg, eval_start, end)
    for s in surges:
        times.append(np.sort(_ramp_times(rng, s.start_us, s.duration_us, s.size)))
    owner = np.concatenate([np.full(t.size, i - 1) for i, t in enumerate(times)])  # -1: bg
    first = np.concatenate(times)
    for i, s in enumerate(surges):
        s.texts_us = times[i + 1]
    # Reposts: the same text again, minutes to hours later (mean 90 min); a viral one now
    # and then: one text 40 times within the hour.
    reposters = np.flatnonzero(rng.random(first.size) < cfg.repost_share)
    n_rep = rng.poisson(cfg.repost_mean - 1, size=reposters.size) + 1
    src = np.repeat(reposters, n_rep)
    rep_t = first[src] + (rng.exponential(90 * 60, size=src.size) * US).astype(np.int64)
    n_viral = rng.poisson(days / cfg.viral_every_days)
    viral_src = rng.integers(0, int((owner < 0).sum()), size=n_viral).repeat(40)
    viral_t = first[viral_src] + rng.integers(1, HOUR_US, size=viral_src.size)
    src = np.concatenate([src, viral_src])
    rep_t = np.concatenate([rep_t, viral_t])
    keep = rep_t < end
    src, rep_t = src[keep], rep_t[keep]
    all_t = np.concatenate([first, rep_t])
    all_h = np.concatenate([np.arange(first.size), src])
    order = np.argsort(all_t, kind="stable")
    all_t, all_h = all_t[order], all_h[order]
    hashes = [f"L{level:g}-{i}" for i in range(first.size)]
    mentions = [Mention(seen_at=_dt(t), content_hash=hashes[h], police_related=True,
                        negative=True, topics=(), jurisdiction=None, official=False)
                for t, h in zip(all_t.tolist(), all_h.tolist())]
    world = World(level=level, mentions=mentions, ts=all_t.tolist(),
                  first_seen=np.sort(first), surges=surges, bumps=bumps,
                  texts=int((owner < 0).sum()), reposts=int(rep_t.size))
    world.owner = owner[all_h].tolist()          # per mention: its surge, or -1
    world.first_owner = owner
    world.first_all = first
    return world


def alone(world: World, index: int) -> World:
    """The same background with only the labelled surge `index` injected."""
    keep = [i for i, o in enumerate(world.owner) if o < 0 or o == index]
    sel = (world.first_owner < 0) | (world.first_owner == index)
    surge = world.surges[index]
    single = Surge(surge.shape, surge.size, surge.start_us, surge.duration_us,
                   surge.horizon_us, surge.window_end_us)
    single.texts_us = surge.texts_us
    return World(level=world.level, mentions=[world.mentions[i] for i in keep],
                 ts=[world.ts[i] for i in keep], first_seen=np.sort(world.first_all[sel]),
                 surges=[single], bumps=world.bumps)


# ---- the live monitor, and the naive baseline ------------------------------------------

def cycles_of(world: World, cfg: Config, only_surges: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
    """Cycle times (epoch us) of the evaluated period, and which of them are evaluated."""
    t0 = int(DATA_START.timestamp()) * US
    start = t0 + cfg.warmup_days * DAY_US
    n = cfg.eval_days * 288
    at = start + np.arange(n, dtype=np.int64) * BUCKET_US + cfg.cycle_offset_s * US
    stride = cfg.stride if world.level >= cfg.stride_from else 1
    evaluated = (np.arange(n) % stride == 0) & (not only_surges)
    for s in world.surges:
        evaluated |= (at >= s.first_bucket_us) & (at <= s.start_us + s.horizon_us)
    return at, evaluated


def run_live(world: World, cfg: Config, settings: SpikeSettings, only_surges: bool = False
             ) -> tuple[list[tuple[int, int | None]], dict]:
    """find_surges at each evaluated cycle: [(cycle us, flagged_at us or None)] for KEY.\n
    only_surges: just the cycles of the labelled windows, up to the first one that reports
    a flag of the surge (enough for its delay).
    """
    at, evaluated = cycles_of(world, cfg, only_surges)
    mentions, ts = world.mentions, world.ts
    coverage = DATA_START
    reads = [0]

    def history(since: datetime, until: datetime) -> list[Mention]:
        reads[0] += 1
        lo = bisect.bisect_left(ts, _us(since))
        hi = bisect.bisect_right(ts, _us(until))
        return mentions[lo:hi]

    reports: list[tuple[int, int | None]] = []
    twin_mismatch = 0
    recent_us = int(cfg.recent_hours * HOUR_US)
    t_start = time.perf_counter()
    for now_us in at[evaluated].tolist():
        now = _dt(now_us)
        hi = bisect.bisect_right(ts, now_us)
        lo = bisect.bisect_left(ts, now_us - recent_us)
        surges = find_surges(mentions[lo:hi], history, settings, now,
                             coverage_start=lambda: coverage)
        hit = surges.get(KEY)
        twin = surges.get(TWIN)
        if (hit is None) != (twin is None) or (hit and hit.flagged_at != twin.flagged_at):
            twin_mismatch += 1
        reports.append((now_us, _us(hit.flagged_at) if hit else None))
        if only_surges and hit and any(s.first_bucket_us <= _us(hit.flagged_at)
                                       and s.start_us < now_us for s in world.surges):
            break
    stats = {"cycles": int(at.size), "evaluated": int(evaluated.sum()),
             "history_reads": reads[0], "seconds": time.perf_counter() - t_start,
             "twin_mismatch": twin_mismatch,
             "stride": cfg.stride if world.level >= cfg.stride_from else 1}
    return reports, stats


def run_naive(world: World, cfg: Config, settings: SpikeSettings
              ) -> list[tuple[int, int | None]]:
    """The fixed threshold at every cycle, reported like find_surges (flag + follow)."""
    at, _ = cycles_of(world, cfg)
    fs = world.first_seen
    win = settings.window_minutes * 60 * US
    follow = settings.follow_hours * HOUR_US
    # Distinct texts first seen in (now - 60 min, now], and in the 24 h before that.
    last = np.searchsorted(fs, at, "right") - np.searchsorted(fs, at - win, "right")
    prev = (np.searchsorted(fs, at - win, "right")
            - np.searchsorted(fs, at - win - DAY_US, "right"))
    fires = (last >= cfg.naive_factor * prev / 24.0) & (last >= cfg.naive_min)
    reports: list[tuple[int, int | None]] = []
    flag: int | None = None
    for now_us, fire, count in zip(at.tolist(), fires.tolist(), last.tolist()):
        if fire and (flag is None or now_us - flag >= follow):
            flag = now_us - now_us % BUCKET_US
        shown = flag is not None and now_us - flag <= follow and count >= settings.min_count
        reports.append((now_us, flag if shown else None))
    return reports


def judge(world: World, reports: list[tuple[int, int | None]], follow_us: int) -> Outcome:
    """Match reports with the labelled surges: delays, re-flags, false alarms, pages."""
    out = Outcome()
    seen: set[int] = set()
    last_report: int | None = None
    for now_us, flagged in reports:
        if flagged is None:
            continue
        # A page: no alert for the series raised or updated within follow_hours (detect.py
        # keeps the fingerprint of an ongoing spike alert); otherwise an update.
        owner = _owner(world, flagged)
        if last_report is None or now_us - last_report > follow_us:
            out.pages += 1
            out.false_pages += owner is None
        last_report = now_us
        for i, s in enumerate(world.surges):
            if (s.start_us < now_us <= s.start_us + s.horizon_us and i not in out.detected
                    and flagged >= s.first_bucket_us):
                out.detected[i] = (now_us - s.start_us) / 60 / US
        if flagged in seen:
            continue
        seen.add(flagged)
        if owner is None:
            out.false_alarms.append((flagged, now_us))
        elif owner in out.extra_flags:
            out.extra_flags[owner] += 1
        else:
            out.extra_flags[owner] = 0
    return out


def _owner(world: World, flagged_us: int) -> int | None:
    for i, s in enumerate(world.surges):
        if s.first_bucket_us <= flagged_us < s.window_end_us:
            return i
    return None


def _us(at: datetime) -> int:
    return int(at.timestamp()) * US + at.microsecond


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us // US, tz=UTC) + timedelta(microseconds=us % US)


# ---- report -----------------------------------------------------------------------------

def _pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):5.0f}" if values else "    -"


def _groups(world: World) -> list[tuple[str, list[int]]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(world.surges):
        groups[s.label].append(i)
    return sorted(groups.items(), key=lambda kv: (kv[0].startswith("swell"),
                                                  int(kv[0].split("+")[1])))


def print_isolated(worlds: list[World], iso_live: list[list[float | None]],
                   iso_naive: list[list[float | None]], settings: SpikeSettings) -> None:
    print("A. Each surge alone in its series (same background, no other labelled surge in the "
          "detector's\n   history). detected/injected within the horizon; delay = minutes from "
          "surge start to the\n   first cycle reporting it; 'lag' = median minutes after the "
          f"surge's {settings.min_count}th text (min_count).")
    head = (f"{'texts/h':>7} {'surge':>10} | {'live':>6} {'med':>5} {'p90':>5} {'lag':>5} | "
            f"{'naive':>6} {'med':>5} {'p90':>5} {'lag':>5}")
    print(head)
    print("-" * len(head))
    for w, lo, no in zip(worlds, iso_live, iso_naive):
        for label, idx in _groups(w):
            cells = []
            for delays in (lo, no):
                d = [delays[i] for i in idx if delays[i] is not None]
                lag = [delays[i] - _min_count_at(w.surges[i], settings) for i in idx
                       if delays[i] is not None and _min_count_at(w.surges[i], settings)
                       is not None]
                cells.append(f"{len(d):2d}/{len(idx):<3d} {_pct(d, 50)} {_pct(d, 90)} "
                             f"{_pct(lag, 50)}")
            print(f"{w.level:7g} {label:>10} | {cells[0]} | {cells[1]}")
        print()


def _min_count_at(surge: Surge, settings: SpikeSettings) -> float | None:
    """Minutes from the surge start to its min_count-th text (None: fewer texts)."""
    if surge.texts_us.size < settings.min_count:
        return None
    return (int(surge.texts_us[settings.min_count - 1]) - surge.start_us) / 60 / US


def print_tables(worlds: list[World], live: list[Outcome], naive: list[Outcome],
                 stats: list[dict], cfg: Config) -> None:
    weeks = cfg.eval_days / 7.0
    print("B. All surges of a level in one series at random times (~one every "
          f"{cfg.eval_days / max(1, len(worlds[0].surges)):.1f} days).\n   'after>=' = "
          "detected/injected among surges with an equal or bigger labelled surge in\n   the "
          "15 days before; 're-flag' = extra new flagged_at for one surge.")
    head = (f"{'texts/h':>7} {'surge':>10} | {'live':>6} {'med':>5} {'p90':>5} "
            f"{'after>=':>8} {'re-flag':>7} | {'naive':>6} {'med':>5} {'p90':>5}")
    print(head)
    print("-" * len(head))
    for w, lo, no in zip(worlds, live, naive):
        for label, idx in _groups(w):
            d_live = [lo.detected[i] for i in idx if i in lo.detected]
            d_naive = [no.detected[i] for i in idx if i in no.detected]
            masked = [i for i in idx if w.surges[i].prior_bigger]
            masked_hit = sum(i in lo.detected for i in masked)
            reflag = sum(lo.extra_flags.get(i, 0) for i in idx)
            print(f"{w.level:7g} {label:>10} | {len(d_live):2d}/{len(idx):<3d} "
                  f"{_pct(d_live, 50)} {_pct(d_live, 90)} "
                  f"{masked_hit:3d}/{len(masked):<4d} {reflag:7d} | "
                  f"{len(d_naive):2d}/{len(idx):<3d} {_pct(d_naive, 50)} {_pct(d_naive, 90)}")
        print()
    print(f"C. False alarms per week, in the series of B ({cfg.eval_days} evaluated days): a new "
          "(key, flagged_at)\n   outside every labelled window. pages = reports with no report"
          " of the series in the previous\n   follow_hours (detect.py then keeps the ongoing "
          "alert's fingerprint, so only these page).")
    head = (f"{'texts/h':>7} | {'live FA/wk':>10} {'pages/wk':>8} {'on bump':>7} "
            f"{'late':>5} | {'naive FA/wk':>11} {'pages/wk':>8}")
    print(head)
    print("-" * len(head))
    for w, lo, no in zip(worlds, live, naive):
        on_bump = sum(any(b <= f < b + HOUR_US + 30 * 60 * US for b in w.bumps)
                      for f, _ in lo.false_alarms)
        late = sum(r - f > 30 * 60 * US for f, r in lo.false_alarms)
        print(f"{w.level:7g} | {len(lo.false_alarms) / weeks:10.2f} {lo.false_pages / weeks:8.2f}"
              f" {on_bump:7d} {late:5d} | {len(no.false_alarms) / weeks:11.2f}"
              f" {no.false_pages / weeks:8.2f}")
    print("   on bump: live false alarms flagged in an unlabelled 2x hour (or 30 min after); "
          "late: first\n   reported > 30 min after the flagged bucket (appeared in a later "
          "replay only).")
    print("\nLive-path work per level (B)")
    for w, st in zip(worlds, stats):
        print(f"  {w.level:6g}/h: {w.texts:6,} texts + {w.reposts:6,} reposts; "
              f"{st['evaluated']:5,}/{st['cycles']:,} cycles evaluated "
              f"(every {_nth(st['stride'])}cycle outside labelled windows), "
              f"{st['history_reads']:5,} read the history; {st['seconds']:5.1f} s"
              + (f"; {st['twin_mismatch']} cycles where police_volume disagreed"
                 if st["twin_mismatch"] else ""))


def _nth(n: int) -> str:
    return {1: "", 2: "2nd ", 3: "3rd "}.get(n, f"{n}th ")


def print_false_alarm_times(worlds: list[World], live: list[Outcome]) -> None:
    rows = [(w.level, f, r) for w, lo in zip(worlds, live) for f, r in lo.false_alarms]
    if not rows:
        return
    print("\nLive false alarms (Beijing time): level, flagged bucket -> first reported")
    for level, f, r in rows[:40]:
        print(f"  {level:6g}/h  {shanghai(_dt(f)):%a %m-%d %H:%M} -> "
              f"{shanghai(_dt(r)):%H:%M}")
    if len(rows) > 40:
        print(f"  ... {len(rows) - 40} more")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true",
                        help="2 ramps per size, 14 evaluated days, every 12th cycle outside "
                        "labelled windows at busy levels (about half the time)")
    parser.add_argument("--levels", type=float, nargs="+", default=[0.5, 2, 8, 30],
                        help="base levels, texts an hour (weekly mean)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--reps", type=int, default=3, help="1-hour ramps per size and level")
    parser.add_argument("--swell-sizes", type=int, nargs="*", default=[20, 50])
    parser.add_argument("--swell-reps", type=int, default=1)
    parser.add_argument("--eval-days", type=int, default=28)
    parser.add_argument("--stride", type=int, default=6,
                        help="evaluate every Nth cycle outside labelled windows ...")
    parser.add_argument("--stride-from", type=float, default=5.0,
                        help="... at base levels of at least this many texts an hour")
    parser.add_argument("--dispersion", type=float, default=0.3)
    parser.add_argument("--noise-minutes", type=int, default=60,
                        help="how long one gamma rate multiplier holds")
    parser.add_argument("--cycle-offset", type=int, default=0,
                        help="seconds after the bucket boundary each cycle runs")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.swell_reps, args.eval_days = 2, 1, 14
        args.stride = max(args.stride, 12)
    cfg = Config(seed=args.seed, levels=tuple(args.levels), sizes=tuple(args.sizes),
                 reps=args.reps, swell_sizes=tuple(args.swell_sizes),
                 swell_reps=args.swell_reps, swell_hours=6.0, warmup_days=14,
                 eval_days=args.eval_days, dispersion=args.dispersion,
                 noise_minutes=args.noise_minutes, bump_every_days=3.0, bump_factor=2.0,
                 repost_share=0.2, repost_mean=2.0, viral_every_days=4.0, horizon_hours=3.0,
                 tail_hours=3.0, min_gap_hours=24.0, stride=args.stride,
                 stride_from=args.stride_from, recent_hours=2.0,
                 cycle_offset_s=args.cycle_offset, naive_factor=3.0, naive_min=5)
    settings = SpikeSettings()
    t_all = time.perf_counter()
    worlds, live, naive, stats, iso_live, iso_naive = [], [], [], [], [], []
    follow_us = settings.follow_hours * HOUR_US
    for level in cfg.levels:
        t_level = time.perf_counter()
        # Seeded by the level, not its position: --levels 8 alone rebuilds the same series.
        rng = np.random.default_rng([cfg.seed, round(level * 1000)])
        world = make_world(level, cfg, rng)
        reports, st = run_live(world, cfg, settings)
        worlds.append(world)
        live.append(judge(world, reports, follow_us))
        naive.append(judge(world, run_naive(world, cfg, settings), follow_us))
        stats.append(st)
        delays_live, delays_naive = [], []
        for i in range(len(world.surges)):
            single = alone(world, i)
            got = judge(single, run_live(single, cfg, settings, only_surges=True)[0], follow_us)
            delays_live.append(got.detected.get(0))
            got = judge(single, run_naive(single, cfg, settings), follow_us)
            delays_naive.append(got.detected.get(0))
        iso_live.append(delays_live)
        iso_naive.append(delays_naive)
        print(f"  level {level:g}/h: {st['evaluated']} cycles in {st['seconds']:.1f} s, "
              f"{time.perf_counter() - t_level:.1f} s in all", file=sys.stderr, flush=True)
    print_isolated(worlds, iso_live, iso_naive, settings)
    print_tables(worlds, live, naive, stats, cfg)
    print_false_alarm_times(worlds, live)
    print(f"\nParameters: seed {cfg.seed}; {cfg.warmup_days} warm-up + {cfg.eval_days} evaluated "
          f"days from {shanghai(DATA_START):%Y-%m-%d} (Mon, Beijing); 5-minute cycles at "
          f"+{cfg.cycle_offset_s} s; recent = last {cfg.recent_hours:g} h.\n"
          f"  SpikeSettings: window {settings.window_minutes} min, min_count "
          f"{settings.min_count}, history {settings.history_days} d, follow "
          f"{settings.follow_hours} h, min_z {settings.min_z:g}.\n"
          f"  Background: gamma-Poisson, dispersion {cfg.dispersion:g} per "
          f"{cfg.noise_minutes} min; daily profile peak/trough "
          f"{WEEKDAY.max() / WEEKDAY.min():.0f}x, weekends later; unlabelled "
          f"{cfg.bump_factor:g}x hours every ~{cfg.bump_every_days:g} d; "
          f"{cfg.repost_share:.0%} of texts reposted (mean {cfg.repost_mean:g} times, "
          f"~90 min later), a 40x viral repost every ~{cfg.viral_every_days:g} d.\n"
          f"  Surges: ramp (1 h, rising) of {', '.join(map(str, cfg.sizes))} texts x "
          f"{cfg.reps}; swell ({cfg.swell_hours:g} h) of "
          f"{', '.join(map(str, cfg.swell_sizes)) or '-'} x {cfg.swell_reps}; per level, at "
          f"random times >= ~{cfg.min_gap_hours:g} h apart; horizon {cfg.horizon_hours:g} h "
          f"(swell: its length), labelled window = start to end + {cfg.tail_hours:g} h.\n"
          f"  Naive: last {settings.window_minutes} min >= {cfg.naive_factor:g}x mean hourly "
          f"count of the 24 h before and >= {cfg.naive_min}, re-arming after "
          f"{settings.follow_hours} h.")
    print(f"Total runtime {time.perf_counter() - t_all:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
