"""Spike alerts: the streaming detector over per-series counts rebuilt from the warehouse."""
from __future__ import annotations

import random
from datetime import timedelta

from alerts.detection.detect import detect_all
from alerts.settings import AlertSettings, SensitiveItemSettings, SpikeLevelRule, SpikeSettings
from alerts.detection.surges import (NEGATIVE_SHARE, POLICE_NEGATIVE, POLICE_VOLUME, TOPIC,
                                     find_surges)
from transforms.records import NEGATIVE, NEUTRAL, POSITIVE
from warehouse.records import Mention

SETTINGS = AlertSettings(sensitive_item=SensitiveItemSettings(), spike=SpikeSettings(),
                         channels=())
LABELS = {"police.misconduct": "民警违纪", "stability.petition": "涉稳·信访"}


def background(make_post, now, days=9, seed=7, jurisdictions=("qingchuan.beihu",
                                                               "qingchuan.yunxi")):
    """Ordinary days: police posts at ~4 an hour by day and ~1 by night (Beijing time), a
    third of them negative, spread over the given jurisdictions. Ends an hour before now."""
    rng = random.Random(seed)
    posts, at = [], now - timedelta(days=days)
    while at < now - timedelta(hours=1):
        hour = (at.hour + 8) % 24
        if rng.random() < (4 if 8 <= hour < 23 else 1) / 12:
            posts.append(make_post(
                seen_at=at, content_hash=f"bg-{len(posts)}", high_risk=False,
                polarity=NEGATIVE if rng.random() < 1 / 3 else rng.choice([NEUTRAL, POSITIVE]),
                topics=(), jurisdiction=rng.choice(jurisdictions)))
        at += timedelta(minutes=5)
    return posts


def burst(make_post, end, count, minutes=50, prefix="burst", **fields):
    """`count` distinct texts spread over the `minutes` before `end`."""
    fields = {"high_risk": False, "topics": ("police.misconduct",), **fields}
    return [make_post(seen_at=end - timedelta(minutes=1 + (minutes - 1) * n // count),
                      content_hash=f"{prefix}-{n}", **fields)
            for n in range(count)]


def surges_at(posts, now, settings=SETTINGS, coverage_days=10, history_calls=None):
    mentions = sorted((Mention.of(p) for p in posts), key=lambda m: m.seen_at)

    def history(since, until):
        if history_calls is not None:
            history_calls.append((since, until))
        return [m for m in mentions if since <= m.seen_at <= until]

    return find_surges(mentions, history, settings.spike, now,
                       coverage_start=lambda: now - timedelta(days=coverage_days))


def spikes_at(posts, now, settings=SETTINGS, **kwargs):
    surges = surges_at(posts, now, settings, **kwargs)
    return [a for a in detect_all(posts, settings, now, LABELS, surges) if a.kind == "spike"]


def test_ordinary_days_stay_quiet_around_the_clock(make_post, now):
    posts = background(make_post, now + timedelta(days=1), days=10)
    history_calls: list = []
    # Every 5-minute cycle of the last day, daily peaks included: no spike alert.
    fired = [at for step in range(0, 288)
             for at in [now - timedelta(days=1) + timedelta(minutes=5 * step)]
             if spikes_at(posts, at, history_calls=history_calls)]
    assert fired == []
    # Most cycles never read the history: no series had 5 new texts in its latest hour.
    assert len(history_calls) < 288 / 4


def test_negative_surge_in_one_district_is_one_alert_placed_there(make_post, now):
    posts = background(make_post, now) + burst(make_post, now, 25,
                                               jurisdiction="qingchuan.linjiang")

    surges = surges_at(posts, now)
    assert {(POLICE_NEGATIVE, None), (POLICE_NEGATIVE, "qingchuan"),
            (POLICE_NEGATIVE, "qingchuan.linjiang"), (TOPIC, "police.misconduct")} <= set(surges)
    assert all(now - s.flagged_at < timedelta(hours=1) for s in surges.values())

    [alert] = spikes_at(posts, now)
    assert alert.fingerprint == "spike:police_negative:all:2026-11-26"
    assert alert.jurisdiction == "qingchuan.linjiang"
    assert alert.title == "涉警负面舆情激增：qingchuan.linjiang"
    assert "新出现涉警负面信息 25 条不同文本" in alert.reason
    assert "集中在 qingchuan.linjiang" in alert.reason
    # The police topic surging with it is named, not paged separately.
    assert "同时激增的专题：民警违纪 25 条" in alert.reason
    # A burst that is all negative, where a third is usual, raises the level one step.
    assert "负面占比 100%" in alert.reason and "预警升一级" in alert.reason
    assert alert.level == 3
    assert len(alert.evidence) == 10
    published = [e.published_at for e in alert.evidence]
    assert published == sorted(published, reverse=True)


def test_level_follows_the_count_and_ratio_rules(make_post, now):
    base = background(make_post, now)
    rules = (SpikeLevelRule(level=2, min_count=60),)
    settings = AlertSettings(SensitiveItemSettings(),
                             SpikeSettings(levels=rules, share_rise=1.0), ())
    [small] = spikes_at(base + burst(make_post, now, 30), now, settings)
    [large] = spikes_at(base + burst(make_post, now, 70), now, settings)
    assert (small.level, large.level) == (4, 2)
    strict = AlertSettings(SensitiveItemSettings(), SpikeSettings(
        levels=(SpikeLevelRule(level=2, min_count=60, min_ratio=1000.0),), share_rise=1.0), ())
    assert spikes_at(base + burst(make_post, now, 70), now, strict)[0].level == 4


def test_no_alert_while_the_detector_is_still_learning(make_post, now):
    posts = background(make_post, now) + burst(make_post, now, 25)
    # Monitoring began 12 hours ago: earlier posts are a feed's backlog, and the detector
    # learns for a day before it alerts.
    assert surges_at(posts, now, coverage_days=0.5) == {}
    assert spikes_at(posts, now, coverage_days=10)


def test_reposts_of_one_text_are_not_a_surge(make_post, now):
    reposts = [make_post(seen_at=now - timedelta(minutes=m % 50), content_hash="one-text",
                         high_risk=False) for m in range(100)]
    assert surges_at(background(make_post, now) + reposts, now) == {}


def test_a_text_first_seen_before_the_window_is_not_new(make_post, now):
    old = burst(make_post, now - timedelta(hours=3), 25, prefix="old")
    again = [make_post(seen_at=now - timedelta(minutes=5), content_hash=p.content_hash,
                       high_risk=False) for p in old]
    surges = surges_at(background(make_post, now) + old + again, now)
    assert (POLICE_NEGATIVE, None) not in surges or surges[(POLICE_NEGATIVE, None)].count < 25


def test_small_counts_wait_for_min_count_then_alert(make_post, now):
    base = background(make_post, now)
    # Three texts at a usually silent station: the detector may flag it, jingyu waits.
    few = burst(make_post, now, 3, minutes=20, jurisdiction="qingchuan.linjiang.binhe_pcs")
    assert spikes_at(base + few, now) == []
    # Ten minutes later the same surge has 8 texts: now it alerts, placed at the station.
    later = now + timedelta(minutes=10)
    more = few + burst(make_post, later, 5, minutes=9, prefix="more",
                       jurisdiction="qingchuan.linjiang.binhe_pcs")
    [alert] = spikes_at(base + more, later)
    assert alert.jurisdiction == "qingchuan.linjiang.binhe_pcs"
    assert alert.fingerprint.startswith("spike:police_negative:")


def test_fingerprint_is_stable_across_cycles_and_the_count_refreshes(make_post, now):
    posts = background(make_post, now + timedelta(minutes=10)) + burst(make_post, now, 25)
    first = spikes_at(posts, now)
    late = [make_post(seen_at=now + timedelta(minutes=m), content_hash=f"late-{m}",
                      high_risk=False, topics=("police.misconduct",)) for m in (1, 2, 3)]
    second = spikes_at(posts + late, now + timedelta(minutes=5))
    assert [a.fingerprint for a in first] == [a.fingerprint for a in second]
    assert "25 条不同文本" in first[0].reason and "28 条不同文本" in second[0].reason


def test_posts_after_now_are_ignored(make_post, now):
    posts = background(make_post, now) + burst(make_post, now + timedelta(minutes=50), 25)
    assert spikes_at(posts, now) == []
    assert spikes_at(posts, now + timedelta(minutes=50))


def test_positive_surge_is_a_volume_alert_not_a_negative_one(make_post, now):
    praise = burst(make_post, now, 25, polarity=POSITIVE, topics=())
    [alert] = spikes_at(background(make_post, now) + praise, now)
    assert alert.fingerprint.startswith("spike:police_volume:all:")
    assert alert.title.startswith("涉警舆情量激增")
    assert alert.level == 4


def test_surge_of_a_non_police_topic_alerts_on_its_own(make_post, now):
    petition = burst(make_post, now, 20, police_related=False, polarity=NEUTRAL,
                     topics=("stability.petition",), jurisdiction="qingchuan.yunxi")
    [alert] = spikes_at(background(make_post, now) + petition, now)
    assert alert.fingerprint == "spike:topic:stability.petition:2026-11-26"
    assert alert.title == "专题舆情激增：涉稳·信访"
    assert alert.jurisdiction == "qingchuan.yunxi"


def test_a_busy_series_at_its_usual_rate_does_not_alert(make_post, now):
    # One negative text every 7 minutes, day and night, for nine days: the latest hour holds
    # 8 or 9 new texts, above min_count, and that is exactly usual.
    steady = [make_post(seen_at=now - timedelta(minutes=7 * k + 1), content_hash=f"st-{k}",
                        high_risk=False, topics=(), jurisdiction="qingchuan.yunxi")
              for k in range(0, 9 * 24 * 60 // 7)]
    assert spikes_at(background(make_post, now) + steady, now) == []


def test_disabled_spike_detector_raises_nothing(make_post, now):
    settings = AlertSettings(SensitiveItemSettings(), SpikeSettings(enabled=False), ())
    posts = background(make_post, now) + burst(make_post, now, 25)
    assert spikes_at(posts, now, settings) == []


def test_detect_all_combines_items_and_spikes(make_post, now):
    posts = background(make_post, now) + burst(make_post, now, 25)
    posts.append(make_post(content_hash="xiji", seen_at=now - timedelta(minutes=2)))
    surges = surges_at(posts, now)
    alerts = detect_all(posts, SETTINGS, now, LABELS, surges)
    assert [a.fingerprint for a in alerts] == ["item:xiji", "spike:police_negative:all:2026-11-26"]


def test_official_posts_do_not_count(make_post, now):
    statements = burst(make_post, now, 25, official=True)
    assert surges_at(background(make_post, now) + statements, now) == {}
    assert {key[0] for key in surges_at(background(make_post, now) + statements, now,
                                        AlertSettings(SensitiveItemSettings(),
                                                      SpikeSettings(ignore_official=False),
                                                      ()))} >= {POLICE_VOLUME}


def test_a_surge_keeps_the_fingerprint_of_its_ongoing_alert(make_post, now):
    posts = background(make_post, now) + burst(make_post, now, 25)
    surges = surges_at(posts, now)
    # Yesterday's alert of this series is still being updated (a surge that began before
    # midnight): the surge updates it instead of opening a second alert.
    ongoing = ["spike:police_volume:all:2026-11-25", "spike:police_negative:all:2026-11-25"]
    [alert] = [a for a in detect_all(posts, SETTINGS, now, LABELS, surges, ongoing)
               if a.kind == "spike"]
    assert alert.fingerprint == "spike:police_negative:all:2026-11-25"
    # Another series' alert does not capture it.
    [fresh] = [a for a in detect_all(posts, SETTINGS, now, LABELS, surges,
                                     ["spike:police_negative:qingchuan.beihu:2026-11-25"])
               if a.kind == "spike"]
    assert fresh.fingerprint == "spike:police_negative:all:2026-11-26"


def test_opinion_turning_negative_at_an_ordinary_volume_alerts(make_post, now):
    def steady(negative_from_minute):
        """A police text every 5 minutes in 北湖 for nine days, one in four negative; in the
        last hour, texts from `negative_from_minute` minutes ago on are all negative."""
        return [make_post(seen_at=now - timedelta(minutes=5 * k + 1), content_hash=f"st-{k}",
                          high_risk=False, topics=(), jurisdiction="qingchuan.beihu",
                          polarity=NEGATIVE if k % 4 == 0 or 5 * k + 1 < negative_from_minute
                          else NEUTRAL)
                for k in range(9 * 24 * 12)]

    # The usual 12 texts in the hour, but 10 of them negative where a quarter is usual: no
    # count series surges (3 times the usual negatives is within their spread), the share does.
    turned = steady(negative_from_minute=50)
    surges = surges_at(turned, now)
    assert set(surges) == {(NEGATIVE_SHARE, scope) for scope in (None, "qingchuan",
                                                                 "qingchuan.beihu")}
    [alert] = [a for a in detect_all(turned, SETTINGS, now, LABELS, surges) if a.kind == "spike"]
    assert alert.title == "涉警负面占比突增：qingchuan.beihu"
    assert "新出现涉警负面信息 10 条不同文本" in alert.reason
    assert "负面占比 83%（平时 25%）" in alert.reason and "预警升一级" in alert.reason
    assert alert.fingerprint.startswith("spike:negative_share:all:")     # one alert, placed
    assert alert.jurisdiction == "qingchuan.beihu"                         # where it happens
    # Half of them negative is a rise, but not one that stands out from chance.
    assert surges_at(steady(negative_from_minute=25), now) == {}
