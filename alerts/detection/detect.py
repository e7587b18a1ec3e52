"""Alert detectors: pure functions from warehouse posts and surges to Alert records."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from alerts.detection.records import Alert, Evidence
from alerts.detection.surges import (
    NEGATIVE_SHARE,
    POLICE_NEGATIVE,
    POLICE_VOLUME,
    TOPIC,
    Mention,
    SeriesKey,
    Surge,
    scopes_of,
    series_of,
)
from alerts.settings import AlertSettings
from jingyu.timeutil import local_minute, shanghai, to_utc
from warehouse.records import PostRow

SENSITIVE_ITEM = "sensitive_item"
SPIKE = "spike"
SPIKE_EVIDENCE_LIMIT = 10
ALL_JURISDICTIONS = "all"
# A jurisdiction is the epicentre of a surge when it holds at least this share of its texts.
EPICENTRE_SHARE = 0.6
_SERIES_NAMES = {POLICE_NEGATIVE: "涉警负面信息", POLICE_VOLUME: "涉警信息", TOPIC: "专题信息",
                 NEGATIVE_SHARE: "涉警负面信息"}
_TITLES = {POLICE_NEGATIVE: "涉警负面舆情激增：", POLICE_VOLUME: "涉警舆情量激增：",
           NEGATIVE_SHARE: "涉警负面占比突增："}


def detect_all(posts: Sequence[PostRow], settings: AlertSettings, now: datetime,
               topic_labels: Mapping[str, str] | None = None,
               surges: Mapping[SeriesKey, Surge] | None = None,
               ongoing: Sequence[str] = ()) -> list[Alert]:
    """All alerts of one cycle: sensitive items, then one spike alert per surge.

    surges come from alerts.detection.surges.find_surges; posts must cover the latest spike window;
    ongoing: fingerprints of spike alerts raised within follow_hours, newest first.
    """
    return (detect_sensitive_items(posts, settings, now, topic_labels)
            + spike_alerts(surges or {}, posts, settings, now, topic_labels, ongoing))


def spike_alerts(surges: Mapping[SeriesKey, Surge], posts: Sequence[PostRow],
                 settings: AlertSettings, now: datetime,
                 topic_labels: Mapping[str, str] | None = None,
                 ongoing: Sequence[str] = ()) -> list[Alert]:
    """One alert per surge, however many series show it.

    Jurisdictions nest (市 > 区县 > 派出所), and a post counts for its jurisdiction and every
    one above it, so one surge flags the same series at several levels: duty staff get one
    alert, keyed by the highest level flagged (the fingerprint stays put while the surge
    moves) and placed at its epicentre. A negative surge also covers the police volume
    surge around it, and a police topic (police, police.*) surging with it is named in its reason
    instead of paging again. Other surging topics (涉稳, 涉公共安全 ...) alert on their own.

    A surge keeps the fingerprint of the spike alert its series raised within follow_hours
    (`ongoing`), so a surge that goes on past midnight, or is flagged again while its alert
    is still being updated, stays one alert.
    """
    labels = topic_labels or {}
    now = to_utc(now)
    window = [p for p in posts if now - settings.spike.window < p.seen_at <= now]
    negative = _roots(surges, POLICE_NEGATIVE)
    volume = [s for s in _roots(surges, POLICE_VOLUME)
              if not any(_related(s.key[1], n.key[1]) for n in negative)]
    # A turn in the share is news only where no count surge already reports it (with its share).
    turned = [s for s in _roots(surges, NEGATIVE_SHARE)
              if not any(_related(s.key[1], c.key[1]) for c in negative + volume)]
    police = sorted(negative + volume + turned, key=lambda s: -s.count)
    topics = [s for key, s in sorted(surges.items(), key=lambda kv: kv[0][1] or "")
              if key[0] == TOPIC]
    merged = [t for t in topics if police and _is_police_topic(t.key[1])]
    alerts = [_spike_alert(s, window, settings, now, labels,
                           merged if s is police[0] else [], ongoing) for s in police]
    alerts += [_spike_alert(t, window, settings, now, labels, [], ongoing)
               for t in topics if t not in merged]
    return alerts


def detect_sensitive_items(posts: Sequence[PostRow], settings: AlertSettings, now: datetime,
                           topic_labels: Mapping[str, str] | None = None) -> list[Alert]:
    """One alert per story that hits a high-risk topic; its copies become evidence.

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
        # Negative toward the police for a police-related post (its police_stance), negative
        # sentiment for any other.
        if rules.require_negative and not post.negative:
            continue
        if rules.ignore_official and post.official:
            continue
        # Near-duplicates (a repost with a comment added, a syndicated copy) share a story.
        copies.setdefault(post.story_id or post.content_hash, []).append(post)
    return [_sensitive_item_alert(sorted(group, key=_first_seen), rules.level, now,
                                  topic_labels or {})
            for group in copies.values()]


def _sensitive_item_alert(group: list[PostRow], level: int, now: datetime,
                          topic_labels: Mapping[str, str]) -> Alert:
    first = group[0]
    topics = "、".join(f"{topic_labels[t]} ({t})" if t in topic_labels else t
                      for t in first.topics) or "高风险专题"
    nature = ("涉警" if first.police_related else "") + ("负面" if first.negative else "")
    reason = (f"{nature}敏感信息：命中 {topics}；来源 {first.source_id}；"
              f"发布时间 {local_minute(first.seen_at)}")
    if len(group) > 1:
        sources = len({p.source_id for p in group})
        same = "同文" if len({p.content_hash for p in group}) == 1 else "相同或近似文本"
        reason += f"；{same} {len(group)} 条，来自 {sources} 个来源"
    return Alert(
        # The hash of the story's first text, not a post id: reposts and near-duplicates
        # update this alert, and the key stays put as the story grows.
        fingerprint=f"item:{first.content_hash}",
        kind=SENSITIVE_ITEM,
        level=level,
        title=f"敏感信息：{_headline(first)}",
        reason=reason,
        evidence=tuple(_evidence(p) for p in group),
        jurisdiction=next((p.jurisdiction for p in group if p.jurisdiction), None),
        detected_at=now,
    )


def _roots(surges: Mapping[SeriesKey, Surge], kind: str) -> list[Surge]:
    """The surges of one kind not inside a jurisdiction where the same kind also surges."""
    fired = [s for key, s in surges.items() if key[0] == kind]
    return [s for s in fired
            if not any(o is not s and _within(s.key[1], o.key[1]) for o in fired)]


def _is_police_topic(topic: str | None) -> bool:
    """涉警 and its sub-topics (rules.yaml: police, police.*)."""
    return topic is not None and (topic == "police" or topic.startswith("police."))


def _related(a: str | None, b: str | None) -> bool:
    """One jurisdiction lies within the other (either way)."""
    return _within(a, b) or _within(b, a)


def _spike_alert(surge: Surge, window: Sequence[PostRow], settings: AlertSettings,
                 now: datetime, labels: Mapping[str, str], merged: Sequence[Surge],
                 ongoing: Sequence[str]) -> Alert:
    rules = settings.spike
    kind, scope = surge.key
    # A turned share's evidence: the negative texts of its scope.
    counted = (POLICE_NEGATIVE, scope) if kind == NEGATIVE_SHARE else surge.key
    latest = [p for p in window
              if counted in series_of(Mention.of(p)) and not (rules.ignore_official and p.official)]
    level = next((r.level for r in rules.levels
                  if surge.count >= r.min_count and surge.ratio >= r.min_ratio),
                 rules.default_level)
    if kind == TOPIC:
        name = labels.get(scope or "", scope)
        where, epicentre = f"{name} ({scope})", _epicentre(latest, None)
        title = f"专题舆情激增：{name}"
    else:
        where, epicentre = scope or "全部辖区", _epicentre(latest, scope)
        title = _TITLES[kind] + (epicentre or "全部辖区")
    if kind == NEGATIVE_SHARE:
        usual = f"按平时的负面占比应约 {surge.usual:.1f} 条"
    elif surge.usual >= 1.0:
        usual = f"平时同一时段约 {surge.usual:.1f} 条，为平时的 {surge.ratio:.1f} 倍"
    else:
        usual = "平时同一时段几乎没有"
    reason = (f"{where} 近 {rules.window_minutes} 分钟新出现{_SERIES_NAMES[kind]} "
              f"{surge.count} 条不同文本（含转载共 {len(latest)} 条），{usual}；"
              f"{local_minute(surge.flagged_at)} 起异常")
    if epicentre is not None and epicentre != scope:
        reason += f"；集中在 {epicentre}"
    if surge.share is not None and surge.usual_share is not None:
        reason += f"；负面占比 {surge.share:.0%}（平时 {surge.usual_share:.0%}）"
        if surge.share - surge.usual_share >= rules.share_rise and level > 1:
            level -= 1
            reason += "，明显上升，预警升一级"
    if merged:
        reason += "；同时激增的专题：" + "、".join(
            f"{labels.get(t.key[1] or '', t.key[1])} {t.count} 条" for t in merged)
    # Keyed by the kind, the highest level flagged and the Beijing day the detector flagged
    # it: every cycle of one ongoing surge hits the same fingerprint, so the warehouse
    # refreshes level and evidence instead of paging again.
    series = f"spike:{kind}:{scope or ALL_JURISDICTIONS}:"
    fingerprint = next((f for f in ongoing if f.startswith(series)),
                       series + shanghai(surge.flagged_at).date().isoformat())
    return Alert(
        fingerprint=fingerprint,
        kind=SPIKE,
        level=level,
        title=title,
        reason=reason,
        evidence=_spike_evidence(latest),
        jurisdiction=epicentre,
        detected_at=now,
    )


def _epicentre(posts: Sequence[PostRow], scope: str | None) -> str | None:
    """The deepest jurisdiction within `scope` holding EPICENTRE_SHARE of the distinct texts."""
    texts: dict[str | None, set[str]] = {}
    for post in posts:
        for place in scopes_of(post.jurisdiction):
            if _within(place, scope):
                texts.setdefault(place, set()).add(post.content_hash)
    total = len(texts.get(scope, ()))
    if not total:
        return scope
    return max((place for place, hashes in texts.items()
                if len(hashes) >= EPICENTRE_SHARE * total),
               key=lambda place: 0 if place is None else place.count(".") + 1)


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
