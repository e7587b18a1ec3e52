"""Alert detectors: pure functions from warehouse posts to Alert records (no I/O, no clock)."""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from alerts.records import Alert, Evidence
from alerts.render import local_minute
from alerts.settings import AlertSettings, SpikeSettings
from jingyu.timeutil import shanghai, to_utc
from transforms.records import NEGATIVE
from warehouse.records import PostRow

SENSITIVE_ITEM = "sensitive_item"
SPIKE = "spike"
SPIKE_EVIDENCE_LIMIT = 10
ALL_JURISDICTIONS = "all"
# A level is the epicentre of a surge when it holds at least this share of the surge's texts.
EPICENTRE_SHARE = 0.6


def detect_all(posts: Sequence[PostRow], settings: AlertSettings, now: datetime,
               topic_labels: Mapping[str, str] | None = None) -> list[Alert]:
    """All alerts of one cycle: sensitive items, then one spike alert per surge.

    Jurisdictions nest (市 > 区县 > 派出所: `qingchuan.linjiang` lies in `qingchuan`), and a
    post counts for its jurisdiction and every one above it. One surge would then fire at
    every level; duty staff get one alert instead, keyed by the highest level that fired
    (so the fingerprint stays put while the surge moves) and placed at its epicentre.
    """
    rules = settings.spike
    scopes: list[str | None] = [None, *sorted({
        ".".join(parts[:n]) for p in posts if p.jurisdiction
        for parts in [p.jurisdiction.split(".")] for n in range(1, len(parts) + 1)})]
    fired = {scope: spike for scope in scopes
             if (spike := detect_negative_spike(posts, settings, now, jurisdiction=scope))}
    texts = {scope: len(_latest_texts(posts, rules, now, scope)) for scope in fired}
    spikes = []
    for root, spike in fired.items():
        if any(_within(root, other) for other in fired if other != root):
            continue  # part of a surge a higher level already reports
        # The deepest fired level holding most of the surge's texts: where it is happening.
        epicentre = max((s for s in fired
                         if _within(s, root) and texts[s] >= EPICENTRE_SHARE * texts[root]),
                        key=lambda s: 0 if s is None else s.count(".") + 1)
        if epicentre != root:
            spike = replace(spike, jurisdiction=epicentre,
                            title=f"涉警负面舆情激增：{epicentre}",
                            reason=f"{spike.reason}；集中在 {epicentre}")
        spikes.append(spike)
    return detect_sensitive_items(posts, settings, now, topic_labels) + spikes


def detect_sensitive_items(posts: Sequence[PostRow], settings: AlertSettings, now: datetime,
                           topic_labels: Mapping[str, str] | None = None) -> list[Alert]:
    """One alert per distinct text that hits a high-risk topic; its copies become evidence.

    topic_labels maps topic ids to the Chinese names duty staff know (from rules.yaml);
    without it the reason shows bare topic ids.
    """
    rules = settings.sensitive_item
    if not rules.enabled:
        return []
    now = to_utc(now)
    oldest = now - timedelta(hours=rules.max_age_hours)
    copies: dict[str, list[PostRow]] = {}
    for post in posts:
        # Causal by fetch time: a source stamping posts hours ahead (a time-zone slip) must
        # not hold back an alert about a post we already have.
        if post.fetched_at > now or post.seen_at < oldest or not post.high_risk:
            continue
        if rules.require_police_related and not post.police_related:
            continue
        if rules.require_negative and post.polarity != NEGATIVE:
            continue
        if rules.ignore_official and post.official:
            continue
        copies.setdefault(post.content_hash, []).append(post)
    return [_sensitive_item_alert(sorted(group, key=_first_seen), rules.level, now,
                                  topic_labels or {})
            for group in copies.values()]


def _sensitive_item_alert(group: list[PostRow], level: int, now: datetime,
                          topic_labels: Mapping[str, str]) -> Alert:
    first = group[0]
    topics = "、".join(f"{topic_labels[t]} ({t})" if t in topic_labels else t
                      for t in first.topics) or "高风险专题"
    nature = ("涉警" if first.police_related else "") + ("负面" if first.polarity == NEGATIVE
                                                        else "")
    reason = (f"{nature}敏感信息：命中 {topics}；来源 {first.source_id}；"
              f"发布时间 {local_minute(first.seen_at)}")
    if len(group) > 1:
        sources = len({p.source_id for p in group})
        reason += f"；同文 {len(group)} 条，来自 {sources} 个来源"
    return Alert(
        # The text's hash, not the post id: reposts of the same text update this alert.
        fingerprint=f"item:{first.content_hash}",
        kind=SENSITIVE_ITEM,
        level=level,
        title=f"敏感信息：{_headline(first)}",
        reason=reason,
        evidence=tuple(_evidence(p) for p in group),
        jurisdiction=next((p.jurisdiction for p in group if p.jurisdiction), None),
        detected_at=now,
    )


def detect_negative_spike(posts: Sequence[PostRow], settings: AlertSettings, now: datetime,
                          key: str = "police_negative",
                          jurisdiction: str | None = None) -> Alert | None:
    """Alert when the latest window's negative police-related texts far exceed the baseline.

    Windows slide with `now`: the latest is (now - window, now], the baseline is the
    settings.spike.baseline_windows windows before it, so `posts` must reach back
    settings.spike.lookback. Counts are distinct content_hash values, so one text reposted
    a hundred times counts once. With `jurisdiction`, only that jurisdiction's posts count.
    """
    rules = settings.spike
    if not rules.enabled:
        return None
    now = to_utc(now)
    texts: list[set[str]] = [set() for _ in range(rules.baseline_windows + 1)]
    latest: list[PostRow] = []
    for post in posts:
        if not _counts_for_spike(post, rules, jurisdiction) or post.seen_at > now:
            continue
        index = (now - post.seen_at) // rules.window     # 0 = the latest window
        if index < len(texts):
            texts[index].add(post.content_hash)
            if index == 0:
                latest.append(post)

    count = len(texts[0])
    baseline = [len(window) for window in texts[1:]]
    mean = statistics.fmean(baseline)
    # Counts are roughly Poisson, so sqrt(mean) is the least spread to expect; a perfectly
    # flat or silent baseline would otherwise turn any small wobble into a huge z.
    spread = max(statistics.pstdev(baseline), math.sqrt(mean), rules.min_std)
    z = (count - mean) / spread
    ratio = count / max(mean, 1.0)
    if count < rules.min_count or z < rules.z_threshold or ratio < rules.ratio_threshold:
        return None

    level = next((r.level for r in rules.levels if count >= r.min_count and ratio >= r.min_ratio),
                 rules.default_level)
    scope = jurisdiction or ALL_JURISDICTIONS
    where = f"{jurisdiction} " if jurisdiction else "全部辖区"
    # Below one text per window the ratio is against the floor of 1, not a real multiple.
    usual = (f"为平时的 {ratio:.1f} 倍" if mean >= 1.0 else "平时几乎没有")
    reason = (f"{where}近 {rules.window_minutes} 分钟涉警负面信息 {count} 条不同文本"
              f"（含转载共 {len(latest)} 条），前 {rules.baseline_windows} 个时段平均 "
              f"{mean:.1f} 条，{usual}（z={z:.1f}）")
    return Alert(
        # Keyed by the Shanghai calendar day, not by window: the detector runs every few
        # minutes with sliding windows, and every cycle of one ongoing spike must hit the
        # same fingerprint so the warehouse refreshes level and evidence instead of paging
        # again. The cost: a spike crossing midnight opens a second alert, and a separate
        # spike later the same day updates the morning's alert.
        fingerprint=f"spike:{key}:{scope}:{shanghai(now).date().isoformat()}",
        kind=SPIKE,
        level=level,
        title=f"涉警负面舆情激增：{jurisdiction or '全部辖区'}",
        reason=reason,
        evidence=_spike_evidence(latest),
        jurisdiction=jurisdiction,
        detected_at=now,
    )


def _latest_texts(posts: Sequence[PostRow], rules: SpikeSettings, now: datetime,
                  jurisdiction: str | None) -> set[str]:
    """Distinct texts counted in the latest window (now - window, now]."""
    now = to_utc(now)
    return {p.content_hash for p in posts
            if _counts_for_spike(p, rules, jurisdiction) and now - rules.window < p.seen_at <= now}


def _counts_for_spike(post: PostRow, rules: SpikeSettings, jurisdiction: str | None) -> bool:
    if not post.police_related or post.polarity != NEGATIVE:
        return False
    if rules.ignore_official and post.official:
        return False
    return _within(post.jurisdiction, jurisdiction)


def _within(place: str | None, scope: str | None) -> bool:
    """Is `place` the jurisdiction `scope` or inside it? Everything is within None (all)."""
    if scope is None:
        return True
    return place is not None and (place == scope or place.startswith(scope + "."))


def _spike_evidence(latest: list[PostRow]) -> tuple[Evidence, ...]:
    """The most recent posts of the window, one per distinct text."""
    chosen: dict[str, PostRow] = {}
    for post in sorted(latest, key=lambda p: (p.seen_at, p.id), reverse=True):
        chosen.setdefault(post.content_hash, post)
        if len(chosen) == SPIKE_EVIDENCE_LIMIT:
            break
    return tuple(_evidence(p) for p in chosen.values())


def _first_seen(post: PostRow) -> tuple[datetime, int]:
    return post.seen_at, post.id


def _headline(post: PostRow) -> str:
    text = (post.title or post.text).strip()
    return text if len(text) <= 60 else text[:59] + "…"


def _evidence(post: PostRow) -> Evidence:
    return Evidence(post_id=post.id, url=post.url, title=_headline(post),
                    source_id=post.source_id, published_at=post.published_at)
