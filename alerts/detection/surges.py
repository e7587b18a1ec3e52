"""Which series are surging now: the streaming spike detector run over warehouse counts.

A series is one thing duty staff watch: negative police-related texts, all police-related
texts, or the texts of one topic; the first two in all jurisdictions and in each one (a post
in qingchuan.linjiang counts for qingchuan.linjiang and for qingchuan). A series counts each
distinct text (content_hash) once, in the 5-minute bucket where it first appeared, so a
hundred reposts of one text are one text.

Every cycle the series are rebuilt from the warehouse and the detector of alerts/spike.py
(causal: a bucket's decision uses earlier buckets only) runs over them from a fixed start:
local midnight `history_days` ago, or when the warehouse's record begins if later. Within a
day the start stays put, so each cycle replays the same prefix and reaches the same decisions
as a detector that had run all along; late posts and rescoring are simply in the next replay.
Only series with `min_count` new texts in the latest window can alert, so only those are
replayed. Beside the counts, the negative share of each busy area is tested on its own
(_share_surges): opinion can turn at an ordinary volume.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np

from alerts.detection.spike import SpikeDetector, SpikeParams
from alerts.settings import SpikeSettings
from jingyu.timeutil import SHANGHAI, shanghai, to_utc
from warehouse.records import Mention

BUCKET = timedelta(minutes=5)
_BUCKET_S = int(BUCKET.total_seconds())
_DAY_BUCKETS = 288
USUAL_DAYS = 7                       # "usual" = the same window on up to 7 earlier days

POLICE_NEGATIVE = "police_negative"
POLICE_VOLUME = "police_volume"
TOPIC = "topic"
# Not a count: the negative share of a scope's police texts turning against its usual share.
NEGATIVE_SHARE = "negative_share"
# The usual share needs this many police texts before the window to be worth testing against.
SHARE_MIN_HISTORY = 50
SHARE_SWING_FLOOR = 0.05             # the least swing of a share assumed between windows

SeriesKey = tuple[str, str | None]   # (kind, jurisdiction or topic id; None = all)


@dataclass(frozen=True)
class Surge:
    """A series the detector flagged within follow_hours that still has min_count texts."""

    key: SeriesKey
    flagged_at: datetime               # start of the bucket where the detector fired (UTC)
    count: int                         # new distinct texts in the latest window
    usual: float                       # mean of the same window on earlier days (0: no history)
    score: float                       # the detector's anomaly score at flagged_at
    # Negative-police series only: negative share of police texts, now and over the history.
    share: float | None = None
    usual_share: float | None = None

    @property
    def ratio(self) -> float:
        """How many times the usual count (below one text usual, against a floor of 1)."""
        return self.count / max(self.usual, 1.0)


def scopes_of(jurisdiction: str | None) -> list[str | None]:
    """All jurisdictions, then each level of the chain: a.b.c -> [None, a, a.b, a.b.c]."""
    parts = jurisdiction.split(".") if jurisdiction else []
    return [None, *(".".join(parts[:n]) for n in range(1, len(parts) + 1))]


def series_of(mention: Mention) -> Iterator[SeriesKey]:
    """Every series a mention counts in."""
    if mention.police_related:
        for scope in scopes_of(mention.jurisdiction):
            yield POLICE_VOLUME, scope
            if mention.negative:
                yield POLICE_NEGATIVE, scope
    for topic in mention.topics:
        yield TOPIC, topic


def detector_params(settings: SpikeSettings) -> SpikeParams:
    """The NAB-measured detector in Beijing days, firing on significance against the usual
    count for the hour and weekday (no record gate: every incident counts, not just the
    biggest of the fortnight), re-arming after follow_hours."""
    return SpikeParams(utc_offset_hours=8.0, min_z=settings.min_z, records=False,
                       refractory=settings.follow.total_seconds())


def series_start(now: datetime, settings: SpikeSettings, coverage_start: datetime | None
                 ) -> datetime:
    """Local midnight history_days ago, or the first bucket after monitoring began."""
    day = shanghai(to_utc(now) - settings.history).date()
    start = to_utc(datetime.combine(day, time(0), tzinfo=SHANGHAI))
    if coverage_start is not None and to_utc(coverage_start) > start:
        start = _bucket_time(-(-_epoch_s(to_utc(coverage_start)) // _BUCKET_S))
    return start


def find_surges(recent: Iterable[Mention],
                history: Callable[[datetime, datetime], Sequence[Mention]],
                settings: SpikeSettings, now: datetime,
                coverage_start: Callable[[], datetime | None] = lambda: None
                ) -> dict[SeriesKey, Surge]:
    """The series surging at `now`.

    recent: mentions reaching back at least one window (more is fine). history(since, until):
    the mentions of that period. coverage_start(): since when the warehouse holds the whole
    flow (Warehouse.coverage_start); posts before it are a feed's backlog, thinner than the
    real flow, and would make the first live day look like a surge. Both are read only when
    some series has min_count texts in the window, which most cycles of a quiet area do not.
    """
    if not settings.enabled:
        return {}
    now = to_utc(now)
    window_start = now - settings.window
    counted = [m for m in recent if _counts(m, settings) and window_start < m.seen_at <= now]
    # A text first seen before the window (or before coverage began) is not new: the replay
    # below decides that; here an upper bound picks the series worth replaying.
    texts: dict[SeriesKey, set[str]] = {}
    for mention in counted:
        for key in series_of(mention):
            texts.setdefault(key, set()).add(mention.content_hash)
    candidates = {key for key, hashes in texts.items() if len(hashes) >= settings.min_count}
    if not candidates:
        return {}
    start = series_start(now, settings, coverage_start())
    # A negative series' share needs the police volume of its scope alongside, and the share
    # test of a busy police series needs its negative texts.
    replay = candidates | {(POLICE_VOLUME, scope) for kind, scope in candidates
                           if kind == POLICE_NEGATIVE} \
        | {(POLICE_NEGATIVE, scope) for kind, scope in candidates if kind == POLICE_VOLUME}
    first = _first_seen(history(start, now), replay, settings, start, now)
    # The latest window is (now - window, now], counted from first appearances, exactly.
    window_from = _epoch_s(window_start)
    in_window = {key: int((times > window_from).sum()) for key, times in first.items()}
    counts = {key: _bucket_counts(times, start, now) for key, times in first.items()}
    n = len(next(iter(counts.values())))
    stamps = np.datetime64(start.replace(tzinfo=None), "us") + \
        np.arange(n, dtype=np.int64) * np.timedelta64(_BUCKET_S, "s")
    window = max(1, settings.window // BUCKET)
    follow_from = now - settings.follow
    surges: dict[SeriesKey, Surge] = {}
    for key in sorted(candidates, key=_key_order):
        series, count = counts[key], in_window[key]
        if count < settings.min_count:
            continue
        scores, alerts = SpikeDetector(detector_params(settings)).score_series(stamps, series)
        flagged = np.flatnonzero(alerts)
        if not flagged.size or _bucket_time_of(start, flagged[-1]) < follow_from:
            continue
        share = usual_share = None
        if key[0] == POLICE_NEGATIVE:
            volume = (POLICE_VOLUME, key[1])
            share = count / max(in_window[volume], 1)
            before = len(first[volume]) - in_window[volume]
            usual_share = (len(first[key]) - count) / before if before else None
        surges[key] = Surge(key=key, flagged_at=_bucket_time_of(start, flagged[-1]),
                            count=count, usual=_usual(series, window),
                            score=float(scores[flagged[-1]]), share=share,
                            usual_share=usual_share)
    if now - start >= timedelta(seconds=detector_params(settings).warmup):
        surges.update(_share_surges(candidates, first, in_window, settings, window_from))
    return surges


def _share_surges(candidates: set[SeriesKey], first: dict[SeriesKey, np.ndarray],
                  in_window: dict[SeriesKey, int], settings: SpikeSettings, window_from: int
                  ) -> dict[SeriesKey, Surge]:
    """Scopes whose police texts turned negative: the latest window's negative share against
    the scope's share over the history before it, with min_count negative texts, a rise of
    at least share_rise and a z of at least min_z. Opinion can turn at an ordinary volume,
    which no count series shows.

    The z allows for the share's own swings from one window to the next (news moods, a
    sarcastic thread), measured on the scope's earlier windows: shares are far more
    variable than coin flips, and a binomial z alone would page several times a week."""
    found: dict[SeriesKey, Surge] = {}
    for kind, scope in sorted((k for k in candidates if k[0] == POLICE_VOLUME), key=_key_order):
        volume, negative = (POLICE_VOLUME, scope), (POLICE_NEGATIVE, scope)
        n, k = in_window[volume], in_window[negative]
        before = len(first[volume]) - n
        if k < settings.min_count or before < SHARE_MIN_HISTORY:
            continue
        usual = (len(first[negative]) - k) / before
        share = k / n
        swing = _share_swing(first[volume], first[negative], window_from,
                             int(settings.window.total_seconds()))
        spread = math.sqrt(n * usual * (1.0 - usual) + (n * swing) ** 2)
        z = (k - n * usual) / max(spread, 0.5)
        if z < settings.min_z or share - usual < settings.share_rise:
            continue
        times = first[negative]
        found[(NEGATIVE_SHARE, scope)] = Surge(
            key=(NEGATIVE_SHARE, scope),
            flagged_at=_bucket_time(int(times[times > window_from].min()) // _BUCKET_S),
            count=k, usual=n * usual, score=1.0 / (1.0 + math.exp(settings.min_z - z)),
            share=share, usual_share=usual)
    return found


def _share_swing(volume: np.ndarray, negative: np.ndarray, window_from: int, width: int
                 ) -> float:
    """How much the negative share moves between earlier windows beyond chance (its standard
    deviation, at least SHARE_SWING_FLOOR): windows of `width` seconds ending at window_from,
    those with min 5 texts."""
    if not volume.size:
        return SHARE_SWING_FLOOR
    edges = np.arange(window_from, int(volume.min()) - width, -width)[::-1]
    if len(edges) < 3:
        return SHARE_SWING_FLOOR
    n = np.histogram(volume, bins=edges)[0].astype(float)
    k = np.histogram(negative, bins=edges)[0].astype(float)
    busy = n >= 5
    if busy.sum() < 10:
        return SHARE_SWING_FLOOR
    p = k[busy] / n[busy]
    mean = k[busy].sum() / n[busy].sum()
    chance = float(np.mean(mean * (1.0 - mean) / n[busy]))
    return max(SHARE_SWING_FLOOR, math.sqrt(max(0.0, float(np.var(p)) - chance)))


def _counts(mention: Mention, settings: SpikeSettings) -> bool:
    return not (settings.ignore_official and mention.official)


def _first_seen(mentions: Sequence[Mention], keys: set[SeriesKey], settings: SpikeSettings,
                start: datetime, now: datetime) -> dict[SeriesKey, np.ndarray]:
    """Per key: when each distinct text first appeared (epoch seconds), from `start` to `now`."""
    first: dict[SeriesKey, dict[str, int]] = {key: {} for key in keys}
    for mention in mentions:
        if not _counts(mention, settings) or not start <= mention.seen_at <= now:
            continue
        at = _epoch_s(mention.seen_at)
        for key in series_of(mention):
            seen = first.get(key)
            if seen is not None:
                old = seen.get(mention.content_hash)
                if old is None or at < old:
                    seen[mention.content_hash] = at
    return {key: np.fromiter(seen.values(), dtype=np.int64, count=len(seen))
            for key, seen in first.items()}


def _bucket_counts(first: np.ndarray, start: datetime, now: datetime) -> np.ndarray:
    """New distinct texts per bucket from `start` to the bucket holding `now`."""
    origin = _epoch_s(start)
    n = (_epoch_s(now) - origin) // _BUCKET_S + 1
    return np.bincount((first - origin) // _BUCKET_S, minlength=n).astype(float)[:n]


def _usual(series: np.ndarray, window: int) -> float:
    """Mean count of the latest window's time of day on up to USUAL_DAYS earlier days."""
    end = len(series)
    past = [series[end - d * _DAY_BUCKETS - window:end - d * _DAY_BUCKETS].sum()
            for d in range(1, USUAL_DAYS + 1) if end - d * _DAY_BUCKETS - window >= 0]
    return float(np.mean(past)) if past else 0.0


def _key_order(key: SeriesKey) -> tuple[str, str]:
    return key[0], key[1] or ""


def _epoch_s(at: datetime) -> int:
    return int(to_utc(at).timestamp())


def _bucket_time(index_since_epoch: int) -> datetime:
    return to_utc(datetime.fromtimestamp(index_since_epoch * _BUCKET_S, tz=SHANGHAI))


def _bucket_time_of(start: datetime, index: int | np.integer) -> datetime:
    return start + BUCKET * int(index)
