"""Routing by level, topic and jurisdiction (市县所三级), 三方互通, silences, config errors."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerts.incidents.roster import load_roster
from alerts.incidents.routing import (
    Subject,
    escalation_route,
    load_routing,
    parse_routing,
    parse_until,
    route,
    silenced_by,
)
from jingyu.config import ConfigError
from warehouse.records import Silence

CONFIG = Path(__file__).resolve().parents[2] / "config"
# Thursday 2026-11-26 15:30 in Shanghai: day shifts are on.
NOON = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)
STATION = "qingchuan.linjiang.linjiang_pcs"


def by_level(level: int) -> tuple[str, ...]:
    return ("console", "duty-log") if level >= 3 else ("console", "duty-log", "command-centre")


@pytest.fixture(scope="module")
def shipped():
    return load_routing(CONFIG), load_roster(CONFIG)


def people(result) -> set[str]:
    return {r.name for r in result.recipients}


def units(result) -> set[str]:
    return {r.unit for r in result.recipients}


def test_a_station_alert_also_reaches_county_and_city(shipped):
    routing, roster = shipped
    result = route(Subject(level=4, topics=("police.traffic",), high_risk=False,
                           jurisdiction=STATION), routing, roster, NOON, by_level)
    # IV级: only the 情指值班 rule (county and city command); not the station, not publicity.
    assert units(result) == {"临江分局指挥室", "青川市公安局情指中心"}
    assert not result.sensitive
    assert result.channels == ("console", "duty-log")


def test_a_yellow_alert_adds_the_station_and_publicity(shipped):
    routing, roster = shipped
    result = route(Subject(3, ("police.traffic",), False, STATION), routing, roster, NOON,
                   by_level)
    assert {"临江派出所", "临江分局政工室", "青川市公安局宣传处"} <= units(result)
    assert "江滨派出所" not in units(result)          # another station of the same county
    assert result.rules == ("情指值班-全部预警", "属地派出所", "较大以上-宣传")


def test_sensitive_incident_reaches_the_three_sides_at_once(shipped):
    routing, roster = shipped
    result = route(Subject(2, (), False, "qingchuan.beihu"), routing, roster, NOON, by_level)
    assert result.sensitive
    # 三方互通: publicity, command/cyber, legal/inspection, at city level for 北湖.
    assert {"青川市公安局宣传处", "青川市公安局情指中心", "青川市公安局网安支队",
            "青川市公安局法制支队", "青川市公安局督察支队"} <= units(result)
    assert result.channels == by_level(2)


def test_high_risk_topic_is_sensitive_at_any_level(shipped):
    routing, roster = shipped
    calm = route(Subject(4, ("police.heroes",), False, None), routing, roster, NOON, by_level)
    risky = route(Subject(4, ("police.assault",), True, None), routing, roster, NOON, by_level)
    listed = route(Subject(4, ("police.misconduct",), False, None), routing, roster, NOON,
                   by_level)
    assert not calm.sensitive and risky.sensitive and listed.sensitive
    assert "青川市公安局法制支队" in units(risky) and "青川市公安局法制支队" not in units(calm)


def test_recipients_follow_the_shift():
    routing, roster = load_routing(CONFIG), load_roster(CONFIG)
    subject = Subject(4, (), False, None)
    day = route(subject, routing, roster, NOON, by_level)
    night = route(subject, routing, roster, NOON + timedelta(hours=8), by_level)  # 23:30
    assert people(day) == {"李四"} and people(night) == {"王五"}  # Thursday day / night


def test_rule_channels_and_jurisdiction_filter():
    routing = parse_routing({"rules": [
        {"name": "linjiang", "roles": ["command"], "jurisdictions": ["qingchuan.linjiang"],
         "channels": ["sms"]},
        {"name": "all", "roles": ["command"]}]}, "routing.yaml")
    roster = load_roster(CONFIG)
    inside = route(Subject(4, (), False, STATION), routing, roster, NOON, by_level)
    outside = route(Subject(4, (), False, "qingchuan.linjiangnan"), routing, roster, NOON,
                    by_level)
    assert inside.channels == ("sms", "console", "duty-log")
    assert outside.rules == ("all",) and outside.channels == ("console", "duty-log")


def test_escalation_goes_to_the_leader_on_duty(shipped):
    routing, roster = shipped
    result = escalation_route(STATION, routing, roster, NOON, by_level)
    assert people(result) == {"郑华"}                        # 临江分局带班领导
    # 北湖分局 has no leader of its own on the roster: the city's Thursday 带班领导.
    assert people(escalation_route("qingchuan.beihu", routing, roster, NOON, by_level)) == {
        "赵敏"}
    assert result.channels == by_level(1)


def test_silences_match_by_prefix_until_they_expire():
    silence = Silence(match="spike:police_negative:qingchuan.beihu", until=NOON)
    later = NOON + timedelta(minutes=1)
    assert silenced_by("spike:police_negative:qingchuan.beihu:2026-11-26", [silence],
                       NOON - timedelta(minutes=1)) is silence
    assert silenced_by("spike:police_negative:qingchuan.beihu:2026-11-26", [silence],
                       later) is None
    assert silenced_by("spike:police_negative:all:2026-11-26", [silence], NOON - timedelta(1)
                       ) is None


def test_yaml_silences_and_timers_are_read():
    routing = parse_routing({"timers": {"ack_minutes": 5, "repeat_minutes": 0},
                             "silences": [{"match": "item:", "until": "2026-12-01 08:00",
                                           "reason": "演练"}]}, "routing.yaml")
    assert routing.timers.ack_minutes == 5 and routing.timers.repeat_minutes == 0
    assert routing.timers.statement_hours == 4
    assert routing.silences[0].until == datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)


def test_parse_until_reads_durations_and_shanghai_times():
    assert parse_until("2h", NOON) == NOON + timedelta(hours=2)
    assert parse_until("30m", NOON) == NOON + timedelta(minutes=30)
    assert parse_until("2026-11-26 18:00", NOON) == datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="2h"):
        parse_until("tomorrow", NOON)


@pytest.mark.parametrize("data,field", [
    ({"rules": [{"name": "x", "roles": ["boss"]}]}, "rules[0].roles"),
    ({"rules": [{"name": "x"}]}, "rules[0].roles"),
    ({"rules": [{"name": "x", "roles": ["command"], "levels": [5]}]}, "rules[0].levels"),
    ({"rules": [{"name": "x", "roles": ["command"], "reach": ["province"]}]}, "rules[0].reach"),
    ({"rules": [{"name": "x", "roles": ["command"], "channel": ["a"]}]}, "rules[0].channel"),
    ({"sensitive": {"max_level": 7}}, "sensitive.max_level"),
    ({"timers": {"ack_minutes": 0}}, "timers.ack_minutes"),
    ({"timers": {"ack_minute": 5}}, "timers.ack_minute"),
    ({"silences": [{"match": "item:", "until": "soon"}]}, "silences[0].until"),
    ({"watchdog": {"usual_days": 9}}, "watchdog.usual_days"),
    # 系统告警 have no level and go to operators' channels, not duty roles (alerts.yaml).
    ({"watchdog": {"level": 2}}, "watchdog.level"),
    ({"watchdog": {"roles": ["command"]}}, "watchdog.roles"),
    ({"watchdog": {"channels": ["console"]}}, "watchdog.channels"),
    ({"escalation": {"channels": ["pager"]}}, "channels"),
    ({"route": []}, "route"),
])
def test_config_errors_name_the_field(data, field):
    with pytest.raises(ConfigError) as error:
        parse_routing(data, "routing.yaml", channels=["console", "duty-log"])
    assert error.value.field == field and error.value.fix


def test_an_operators_channel_cannot_take_opinion_alerts():
    from alerts.settings import parse_alert_settings

    settings = parse_alert_settings({"channels": [
        {"name": "duty-log", "kind": "jsonl", "path": "d.jsonl"},
        {"name": "ops", "kind": "jsonl", "path": "o.jsonl", "audience": "operators"}]},
        "alerts.yaml")
    assert all(settings.channels_for(level) == ("duty-log",) for level in (1, 2, 3, 4))
    assert settings.health_channels() == (("ops",), False)
    with pytest.raises(ConfigError) as error:      # a routing rule naming it is refused
        parse_routing({"rules": [{"name": "x", "roles": ["command"], "channels": ["ops"]}]},
                      "routing.yaml", channels=settings.duty_channel_names())
    assert "audience: operators" in error.value.fix
    with pytest.raises(ConfigError) as error:      # and it takes no level
        parse_alert_settings({"channels": [{"name": "ops", "kind": "console",
                                            "audience": "operators", "min_level": 2}]},
                             "alerts.yaml")
    assert error.value.field == "channels[0].min_level"
    with pytest.raises(ConfigError) as error:
        parse_alert_settings({"channels": [{"name": "ops", "kind": "console",
                                            "audience": "ops"}]}, "alerts.yaml")
    assert error.value.field == "channels[0].audience" and "operators" in error.value.fix


def test_shipped_routing_names_only_shipped_channels():
    from alerts.settings import load_alert_settings

    channels = [c.name for c in load_alert_settings(CONFIG / "alerts.yaml").channels]
    assert load_routing(CONFIG, channels).rules
