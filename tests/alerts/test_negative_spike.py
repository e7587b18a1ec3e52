"""Negative spikes: distinct negative texts in the latest window against a day of baseline."""
from __future__ import annotations

from datetime import timedelta

from alerts.detect import detect_all, detect_negative_spike
from alerts.settings import AlertSettings, SensitiveItemSettings, SpikeLevelRule, SpikeSettings
from transforms.records import POSITIVE

SETTINGS = AlertSettings(sensitive_item=SensitiveItemSettings(), spike=SpikeSettings(),
                         channels=())


def baseline(make_post, now, per_hour=2, jurisdiction=None, prefix="base"):
    """Quiet background: `per_hour` distinct negative texts in each of the 24 earlier hours."""
    return [make_post(seen_at=now - timedelta(hours=hour, minutes=7 + 50 * n // per_hour),
                      content_hash=f"{prefix}-{hour}-{n}", jurisdiction=jurisdiction,
                      high_risk=False)
            for hour in range(1, 25) for n in range(per_hour)]


def burst(make_post, end, count, jurisdiction=None, prefix="burst", **fields):
    """`count` distinct texts spread over the 50 minutes before `end`."""
    return [make_post(seen_at=end - timedelta(minutes=1 + 49 * n // count),
                      content_hash=f"{prefix}-{n}", jurisdiction=jurisdiction,
                      high_risk=False, **fields)
            for n in range(count)]


def test_burst_over_flat_baseline_alerts(make_post, now):
    posts = baseline(make_post, now) + burst(make_post, now, 20)

    alert = detect_negative_spike(posts, SETTINGS, now)

    assert alert is not None
    assert alert.kind == "spike"
    assert alert.level == 4                                   # 20 < 50 distinct texts
    assert alert.fingerprint == "spike:police_negative:all:2026-11-26"
    assert alert.jurisdiction is None
    assert "20 条不同文本" in alert.reason
    assert "平均 2.0 条，为平时的 10.0 倍" in alert.reason
    assert len(alert.evidence) == 10
    assert len({e.post_id for e in alert.evidence}) == 10
    published = [e.published_at for e in alert.evidence]
    assert published == sorted(published, reverse=True)       # most recent first
    assert all(now - p < timedelta(hours=1) for p in published)


def test_level_rises_with_the_number_of_distinct_texts(make_post, now):
    quiet = baseline(make_post, now)
    assert detect_negative_spike(quiet + burst(make_post, now, 60), SETTINGS, now).level == 3
    assert detect_negative_spike(quiet + burst(make_post, now, 250), SETTINGS, now).level == 2


def test_level_rule_with_min_ratio_needs_both(make_post, now):
    posts = baseline(make_post, now) + burst(make_post, now, 25)      # ratio 12.5
    for min_ratio, level in ((50.0, 4), (10.0, 2)):
        rule = SpikeLevelRule(level=2, min_count=20, min_ratio=min_ratio)
        settings = AlertSettings(SensitiveItemSettings(), SpikeSettings(levels=(rule,)), ())
        assert detect_negative_spike(posts, settings, now).level == level


def test_reposts_count_once_but_are_reported(make_post, now):
    texts = burst(make_post, now, 20)
    reposts = [make_post(seen_at=now - timedelta(minutes=3), content_hash="burst-0",
                         high_risk=False) for _ in range(30)]

    alert = detect_negative_spike(baseline(make_post, now) + texts + reposts, SETTINGS, now)

    assert "20 条不同文本（含转载共 50 条）" in alert.reason
    assert len({e.post_id for e in alert.evidence}) == len(alert.evidence) == 10


def test_hundred_reposts_of_one_text_are_not_a_spike(make_post, now):
    reposts = [make_post(seen_at=now - timedelta(minutes=5), content_hash="one-text")
               for _ in range(100)]
    assert detect_negative_spike(baseline(make_post, now) + reposts, SETTINGS, now) is None


def test_burst_before_the_latest_window_does_not_alert(make_post, now):
    earlier = burst(make_post, now - timedelta(minutes=70), 20)
    assert detect_negative_spike(baseline(make_post, now) + earlier, SETTINGS, now) is None


def test_positive_burst_does_not_alert(make_post, now):
    praise = burst(make_post, now, 20, polarity=POSITIVE)
    assert detect_negative_spike(baseline(make_post, now) + praise, SETTINGS, now) is None


def test_burst_not_about_police_does_not_alert(make_post, now):
    other = burst(make_post, now, 20, police_related=False)
    assert detect_negative_spike(baseline(make_post, now) + other, SETTINGS, now) is None


def test_burst_below_min_count_does_not_alert(make_post, now):
    assert detect_negative_spike(burst(make_post, now, 4), SETTINGS, now) is None
    alert = detect_negative_spike(burst(make_post, now, 5), SETTINGS, now)
    assert "平均 0.0 条，平时几乎没有" in alert.reason


def test_three_posts_over_a_silent_baseline_do_not_alert(make_post, now):
    assert detect_negative_spike(burst(make_post, now, 3), SETTINGS, now) is None


def test_spread_floor_keeps_two_posts_over_silence_from_being_a_spike(make_post, now):
    # min_count out of the way: only the min_std floor stands between 2 posts and a z of infinity.
    settings = AlertSettings(SensitiveItemSettings(), SpikeSettings(min_count=1), ())
    assert detect_negative_spike(burst(make_post, now, 2), settings, now) is None
    assert detect_negative_spike(burst(make_post, now, 3), settings, now) is not None


def test_burst_matching_a_busy_baseline_does_not_alert(make_post, now):
    busy = baseline(make_post, now, per_hour=15)
    assert detect_negative_spike(busy + burst(make_post, now, 20), SETTINGS, now) is None


def test_posts_after_now_are_ignored(make_post, now):
    future = burst(make_post, now + timedelta(minutes=50), 20)
    posts = baseline(make_post, now) + future
    assert detect_negative_spike(posts, SETTINGS, now) is None
    assert detect_negative_spike(posts, SETTINGS, now + timedelta(minutes=50)) is not None


def test_fingerprint_is_stable_across_cycles_of_one_spike(make_post, now):
    late = [make_post(seen_at=now + timedelta(minutes=m), content_hash=f"late-{m}",
                      high_risk=False) for m in (1, 2, 3)]
    posts = baseline(make_post, now) + burst(make_post, now, 20) + late

    first = detect_negative_spike(posts, SETTINGS, now)
    second = detect_negative_spike(posts, SETTINGS, now + timedelta(minutes=5))

    assert first is not None and second is not None
    assert first.fingerprint == second.fingerprint
    assert "20 条不同文本" in first.reason
    assert "23 条不同文本" in second.reason                    # the refresh sees the new texts


def test_spike_in_one_jurisdiction(make_post, now):
    posts = (baseline(make_post, now, jurisdiction="east", prefix="east")
             + baseline(make_post, now, jurisdiction="west", prefix="west")
             + burst(make_post, now, 12, jurisdiction="east"))

    east = detect_negative_spike(posts, SETTINGS, now, jurisdiction="east")
    assert east is not None
    assert east.jurisdiction == "east"
    assert east.fingerprint == "spike:police_negative:east:2026-11-26"
    assert all(e.title.startswith("网友称") for e in east.evidence)
    assert detect_negative_spike(posts, SETTINGS, now, jurisdiction="west") is None

    # detect_all reports the surge once: keyed by the highest level that fired (all), placed
    # where it happens (east).
    spikes = [a for a in detect_all(posts, SETTINGS, now) if a.kind == "spike"]
    assert [(a.fingerprint, a.jurisdiction) for a in spikes] == [
        ("spike:police_negative:all:2026-11-26", "east")]


def test_detect_all_combines_items_and_spikes(make_post, now):
    posts = baseline(make_post, now) + burst(make_post, now, 20)
    posts.append(make_post(content_hash="xiji", seen_at=now - timedelta(minutes=2)))

    alerts = detect_all(posts, SETTINGS, now)

    assert [a.fingerprint for a in alerts] == ["item:xiji", "spike:police_negative:all:2026-11-26"]


def test_disabled_spike_detector_raises_nothing(make_post, now):
    settings = AlertSettings(SensitiveItemSettings(), SpikeSettings(enabled=False), ())
    posts = baseline(make_post, now) + burst(make_post, now, 20)
    assert detect_negative_spike(posts, settings, now) is None


def test_a_surge_in_one_jurisdiction_gives_one_alert_routed_there(make_post, now) -> None:
    from datetime import timedelta

    from alerts.detect import detect_all
    from alerts.settings import parse_alert_settings

    settings = parse_alert_settings({}, "alerts.yaml")
    quiet_elsewhere = [make_post(jurisdiction="qingchuan.yunxi", high_risk=False,
                                 seen_at=now - timedelta(hours=h)) for h in (3, 9, 15)]
    burst = [make_post(jurisdiction="qingchuan.linjiang", high_risk=False,
                       seen_at=now - timedelta(minutes=m)) for m in range(2, 40, 3)]
    spikes = [a for a in detect_all(quiet_elsewhere + burst, settings, now) if a.kind == "spike"]
    assert [a.jurisdiction for a in spikes] == ["qingchuan.linjiang"]

    # A surge at a police station is one alert too, placed at the station, not one per level.
    station = [make_post(jurisdiction="qingchuan.linjiang.binhe_pcs", high_risk=False,
                         seen_at=now - timedelta(minutes=m)) for m in range(2, 40, 3)]
    spikes = [a for a in detect_all(quiet_elsewhere + station, settings, now)
              if a.kind == "spike"]
    assert [a.jurisdiction for a in spikes] == ["qingchuan.linjiang.binhe_pcs"]

    # The same burst spread over two districts: one alert, placed at the city they share.
    spread = burst + [make_post(jurisdiction="qingchuan.yunxi", high_risk=False,
                                seen_at=now - timedelta(minutes=m)) for m in range(1, 40, 4)]
    spikes = [a for a in detect_all(quiet_elsewhere + spread, settings, now) if a.kind == "spike"]
    assert [a.jurisdiction for a in spikes] == ["qingchuan"]
    assert spikes[0].fingerprint.startswith("spike:police_negative:all:")


def test_a_local_surge_hidden_in_quiet_elsewhere_is_still_reported(make_post, now) -> None:
    from datetime import timedelta

    from alerts.detect import detect_all
    from alerts.settings import parse_alert_settings

    settings = parse_alert_settings({}, "alerts.yaml")
    # Elsewhere a steady 8 negative texts an hour: the city total does not spike ...
    steady = [make_post(jurisdiction="qingchuan.yunxi", high_risk=False,
                        seen_at=now - timedelta(minutes=7 * k + 1)) for k in range(0, 25 * 60 // 7)]
    # ... but 6 texts in one hour at a station that is usually silent do.
    local = [make_post(jurisdiction="qingchuan.linjiang.binhe_pcs", high_risk=False,
                       seen_at=now - timedelta(minutes=m)) for m in (3, 9, 17, 25, 33, 41)]
    spikes = [a for a in detect_all(steady + local, settings, now) if a.kind == "spike"]
    assert [(a.fingerprint, a.jurisdiction) for a in spikes] == [
        (f"spike:police_negative:qingchuan.linjiang:{spikes[0].fingerprint[-10:]}",
         "qingchuan.linjiang.binhe_pcs")]
