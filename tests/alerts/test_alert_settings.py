"""config/alerts.yaml: the shipped file parses, and every mistake names file, field and fix."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.settings import (AlertSettings, SpikeLevelRule, load_alert_settings,
                             parse_alert_settings)
from jingyu.config import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "alerts.yaml"
FILE = "config/alerts.yaml"


def test_shipped_alerts_yaml_parses():
    settings = load_alert_settings(SHIPPED)

    assert isinstance(settings, AlertSettings)
    assert settings.sensitive_item.level == 3
    assert settings.spike.window_minutes == 60
    assert settings.spike.history_days == 14
    assert settings.spike.min_count == 5
    assert [r.level for r in settings.spike.levels] == [1, 2, 3]
    assert {c.kind for c in settings.channels} == {"console", "jsonl", "webhook"}


def test_empty_sections_take_the_defaults():
    settings = parse_alert_settings({}, FILE)
    assert settings.spike.levels == (SpikeLevelRule(1, 1000), SpikeLevelRule(2, 200),
                                     SpikeLevelRule(3, 50))
    assert settings.spike.default_level == 4
    assert settings.channels == ()


def test_spike_periods_come_from_the_file():
    settings = parse_alert_settings(
        {"spike": {"window_minutes": 30, "history_days": 21, "follow_hours": 3}}, FILE)
    assert settings.spike.window.total_seconds() == 30 * 60
    assert settings.spike.history.days == 21
    assert settings.spike.follow.total_seconds() == 3 * 3600


def test_level_rules_are_ordered_most_severe_first():
    data = yaml.safe_load("""
spike:
  levels:
    - {level: 3, min_count: 50}
    - {level: 1, min_count: 1000, min_ratio: 20}
""")
    rules = parse_alert_settings(data, FILE).spike.levels
    assert rules == (SpikeLevelRule(1, 1000, 20.0), SpikeLevelRule(3, 50, 0.0))


def test_channels_for_level_respects_min_level_and_enabled():
    data = yaml.safe_load("""
channels:
  - {name: console, kind: console, min_level: 4}
  - {name: leaders, kind: webhook, url: "http://127.0.0.1:9/x", min_level: 2}
  - {name: archive, kind: jsonl, path: out.jsonl, enabled: false}
""")
    settings = parse_alert_settings(data, FILE)
    assert settings.channels_for(1) == ("console", "leaders")
    assert settings.channels_for(2) == ("console", "leaders")
    assert settings.channels_for(3) == ("console",)


@pytest.mark.parametrize("text, field", [
    ("[]", "(top level)"),
    ("spike: 3", "spike"),
    ("spike: {min_cout: 5}", "spike.min_cout"),
    ("spike: {window_minutes: 0}", "spike.window_minutes"),
    ("spike: {history_days: 1}", "spike.history_days"),
    ("spike: {follow_hours: 0}", "spike.follow_hours"),
    ("spike: {min_z: yes}", "spike.min_z"),
    ("spike: {min_z: high}", "spike.min_z"),
    ("spike: {share_rise: -0.1}", "spike.share_rise"),
    ("spike: {levels: {level: 1}}", "spike.levels"),
    ("spike: {levels: [{min_count: 10}]}", "spike.levels[0].level"),
    ("spike: {levels: [{level: 0, min_count: 10}]}", "spike.levels[0].level"),
    ("spike: {levels: [{level: 2}]}", "spike.levels[0].min_count"),
    ("sensitive_item: {level: 5}", "sensitive_item.level"),
    ("sensitive_item: {enabled: 'no way'}", "sensitive_item.enabled"),
    ("channels: {name: x}", "channels"),
    ("channels: [{kind: console}]", "channels[0].name"),
    ("channels: [{name: a, kind: sms}]", "channels[0].kind"),
    ("channels: [{name: a, kind: webhook}]", "channels[0].url_env"),
    ("channels: [{name: a, kind: webhook, url: 'ftp://x'}]", "channels[0].url"),
    ("channels: [{name: a, kind: jsonl}]", "channels[0].path"),
    ("channels: [{name: a, kind: console, path: x.jsonl}]", "channels[0].path"),
    ("channels: [{name: a, kind: console, min_level: 7}]", "channels[0].min_level"),
    ("channels: [{name: a, kind: console}, {name: a, kind: console}]", "channels[1].name"),
    ("channels: [{name: a, kind: webhook, url: 'http://h', timeout_seconds: 0}]",
     "channels[0].timeout_seconds"),
])
def test_invalid_settings_name_file_field_and_fix(text, field):
    with pytest.raises(ConfigError) as caught:
        parse_alert_settings(yaml.safe_load(text), FILE)
    error = caught.value
    assert error.file == FILE
    assert error.field == field
    assert error.fix
    assert str(error).startswith(f"{FILE}: {field}: ")


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_alert_settings(tmp_path / "alerts.yaml")
    assert caught.value.file == str(tmp_path / "alerts.yaml")
