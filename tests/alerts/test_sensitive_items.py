"""Sensitive items: one negative police-related high-risk post alerts at once, reposts once."""
from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.detection.detect import detect_sensitive_items
from alerts.settings import AlertSettings, SensitiveItemSettings, SpikeSettings
from transforms.records import NEUTRAL, POSITIVE

SETTINGS = AlertSettings(sensitive_item=SensitiveItemSettings(), spike=SpikeSettings(),
                         channels=())


def test_negative_police_high_risk_post_alerts(make_post, now):
    post = make_post(id=7, content_hash="abc123", source_id="weibo-kw-xiji",
                     seen_at=now - timedelta(minutes=12), jurisdiction="city.east")

    [alert] = detect_sensitive_items([post], SETTINGS, now, {"police.assault": "袭警"})

    assert alert.fingerprint == "item:abc123"
    assert alert.kind == "sensitive_item"
    assert alert.level == 3
    assert alert.jurisdiction == "city.east"
    assert alert.detected_at == now
    assert [e.post_id for e in alert.evidence] == [7]
    assert alert.reason == ("涉警负面敏感信息：命中 袭警 (police.assault)；来源 weibo-kw-xiji；"
                            "发布时间 2026-11-26 15:18")


def test_without_topic_labels_the_reason_names_topic_ids(make_post, now):
    [alert] = detect_sensitive_items([make_post()], SETTINGS, now)
    assert "命中 police.assault；" in alert.reason


@pytest.mark.parametrize("polarity", [POSITIVE, NEUTRAL])
def test_positive_or_neutral_post_does_not_alert(make_post, now, polarity):
    assert detect_sensitive_items([make_post(polarity=polarity)], SETTINGS, now) == []


def test_post_not_about_police_does_not_alert(make_post, now):
    assert detect_sensitive_items([make_post(police_related=False)], SETTINGS, now) == []


def test_post_without_high_risk_topic_does_not_alert(make_post, now):
    post = make_post(high_risk=False, topics=("police.service",))
    assert detect_sensitive_items([post], SETTINGS, now) == []


def test_official_police_account_does_not_alert(make_post, now):
    assert detect_sensitive_items([make_post(official=True)], SETTINGS, now) == []


def test_reposts_of_one_text_make_one_alert_with_every_copy_as_evidence(make_post, now):
    copies = [make_post(id=i, content_hash="same-text", source_id=f"site-{i % 2}",
                        seen_at=now - timedelta(minutes=30 - i)) for i in range(1, 5)]
    other = make_post(id=9, content_hash="other-text")

    alerts = detect_sensitive_items(list(reversed(copies)) + [other], SETTINGS, now)

    by_fingerprint = {a.fingerprint: a for a in alerts}
    assert set(by_fingerprint) == {"item:same-text", "item:other-text"}
    repost_alert = by_fingerprint["item:same-text"]
    assert [e.post_id for e in repost_alert.evidence] == [1, 2, 3, 4]   # earliest first
    assert "同文 4 条，来自 2 个来源" in repost_alert.reason
    assert "发布时间 2026-11-26 15:01" in repost_alert.reason            # the first copy


def test_post_fetched_after_now_is_ignored(make_post, now):
    post = make_post(seen_at=now + timedelta(minutes=1))
    assert detect_sensitive_items([post], SETTINGS, now) == []
    assert len(detect_sensitive_items([post], SETTINGS, now + timedelta(minutes=1))) == 1


def test_post_older_than_max_age_does_not_alert(make_post, now):
    old = make_post(seen_at=now - timedelta(hours=25), fetched_at=now)
    assert detect_sensitive_items([old], SETTINGS, now) == []


def test_disabled_detector_raises_nothing(make_post, now):
    settings = AlertSettings(sensitive_item=SensitiveItemSettings(enabled=False),
                             spike=SpikeSettings(), channels=())
    assert detect_sensitive_items([make_post()], settings, now) == []


def test_configured_level_is_used(make_post, now):
    settings = AlertSettings(sensitive_item=SensitiveItemSettings(level=2),
                             spike=SpikeSettings(), channels=())
    [alert] = detect_sensitive_items([make_post()], settings, now)
    assert alert.level == 2


def test_post_stamped_in_the_future_but_already_fetched_still_alerts(make_post, now):
    # A source that writes Shanghai time as UTC puts posts 8 hours ahead; we have it now.
    post = make_post(published_at=now + timedelta(hours=8), fetched_at=now - timedelta(minutes=1))
    assert len(detect_sensitive_items([post], SETTINGS, now)) == 1


def test_near_duplicates_in_one_story_are_one_alert(make_post, now):
    first = make_post(content_hash="orig", story_id=41, seen_at=now - timedelta(minutes=30))
    edited = make_post(content_hash="orig+comment", story_id=41,
                       seen_at=now - timedelta(minutes=10), source_id="forum")
    other = make_post(content_hash="another", story_id=42, seen_at=now - timedelta(minutes=5))

    alerts = detect_sensitive_items([edited, other, first], SETTINGS, now)

    assert [a.fingerprint for a in alerts] == ["item:orig", "item:another"]
    assert [e.post_id for e in alerts[0].evidence] == [first.id, edited.id]
    assert "相同或近似文本 2 条，来自 2 个来源" in alerts[0].reason
