"""Who is on duty at minute X: shifts across midnight, week boundaries, overrides, errors."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerts.incidents.roster import (jurisdiction_chain, jurisdiction_level, load_roster,
                                     parse_roster)
from jingyu.config import ConfigError
from jingyu.timeutil import SHANGHAI

CONFIG = Path(__file__).resolve().parents[2] / "config"


def roster(**extra):
    data = {
        "shifts": [{"id": "day", "start": "08:00", "end": "20:00"},
                   {"id": "night", "start": "20:00", "end": "08:00"},
                   {"id": "full", "start": "08:30", "end": "08:30"}],
        "units": [{"id": "cmd", "name": "情指中心", "jurisdiction": "qingchuan",
                   "roles": ["command"]},
                  {"id": "lead", "name": "局领导", "jurisdiction": "qingchuan",
                   "roles": ["leader"]},
                  {"id": "lj-lead", "name": "临江分局领导", "jurisdiction": "qingchuan.linjiang",
                   "roles": ["leader"]}],
        "people": [{"id": p, "name": p.upper(), "unit": u} for p, u in
                   [("mon-day", "cmd"), ("sun-night", "cmd"), ("mon-night", "cmd"),
                    ("other", "cmd"), ("boss-a", "lead"), ("boss-b", "lead"),
                    ("lj-boss", "lj-lead")]],
        "duty": [
            {"unit": "cmd", "shift": "day", "daily": "other", "weekly": {"mon": "mon-day"}},
            {"unit": "cmd", "shift": "night", "daily": "other",
             "weekly": {"sun": "sun-night", "mon": ["mon-night"]}},
            {"unit": "lead", "shift": "full", "daily": "boss-a", "weekly": {"sun": "boss-b"}},
        ],
    }
    data.update(extra)
    return parse_roster(data, "roster.yaml")


def names(r, at: datetime, unit: str = "cmd") -> list[str]:
    return sorted(d.person.id for d in r.on_duty(at) if d.unit.id == unit)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# 2026-11-29 is a Sunday, 2026-11-30 a Monday.
@pytest.mark.parametrize("at,expected", [
    (sh(2026, 11, 29, 19, 59), ["other"]),          # Sunday day shift (daily)
    (sh(2026, 11, 29, 20, 0), ["sun-night"]),       # Sunday night starts at 20:00 sharp
    (sh(2026, 11, 29, 23, 59), ["sun-night"]),
    (sh(2026, 11, 30, 0, 0), ["sun-night"]),        # midnight into Monday: still Sunday's night
    (sh(2026, 11, 30, 7, 59), ["sun-night"]),
    (sh(2026, 11, 30, 8, 0), ["mon-day"]),          # handover to Monday's day shift
    (sh(2026, 11, 30, 20, 0), ["mon-night"]),
    (sh(2026, 12, 1, 3, 0), ["mon-night"]),         # Monday's night, on Tuesday morning
    (sh(2026, 12, 1, 8, 0), ["other"]),
    (sh(2027, 1, 1, 1, 0), ["other"]),             # New Year's night: Thursday's (daily) turn
])
def test_shifts_cross_midnight_and_the_week(at, expected):
    assert names(roster(), at) == expected


def test_utc_input_is_read_in_shanghai_time():
    # 2026-11-29 19:30 UTC is Monday 03:30 in Shanghai: Sunday's night shift.
    assert names(roster(), datetime(2026, 11, 29, 19, 30, tzinfo=timezone.utc)) == ["sun-night"]
    # Naive values are Shanghai local time.
    assert names(roster(), datetime(2026, 11, 30, 8, 0)) == ["mon-day"]


def test_24_hour_turn_hands_over_at_0830():
    r = roster()
    assert names(r, sh(2026, 11, 30, 8, 29), "lead") == ["boss-b"]   # Sunday's turn
    assert names(r, sh(2026, 11, 30, 8, 30), "lead") == ["boss-a"]   # Monday's turn
    turn = next(d for d in r.on_duty(sh(2026, 11, 30, 8, 29)) if d.unit.id == "lead")
    assert turn.starts == sh(2026, 11, 29, 8, 30) and turn.handover == sh(2026, 11, 30, 8, 30)


def test_override_replaces_the_pattern_for_that_turn_only():
    r = roster(overrides=[{"date": "2026-11-29", "unit": "cmd", "shift": "night",
                           "people": ["other", "mon-day"]}])
    assert names(r, sh(2026, 11, 30, 2, 0)) == ["mon-day", "other"]   # the turn starting 29th
    assert names(r, sh(2026, 11, 30, 21, 0)) == ["mon-night"]           # the next night: pattern


def test_leader_on_duty_is_the_nearest_up_the_chain():
    r = roster(duty=[{"unit": "lead", "shift": "full", "daily": "boss-a"},
                     {"unit": "lj-lead", "shift": "day", "daily": "lj-boss"}])
    noon, night = sh(2026, 11, 30, 12, 0), sh(2026, 11, 30, 22, 0)
    place = "qingchuan.linjiang.linjiang_pcs"
    assert [d.person.id for d in r.leaders_on_duty(noon, place)] == ["lj-boss"]
    # The county leader works days only; at night the city's 带班领导 is reached.
    assert [d.person.id for d in r.leaders_on_duty(night, place)] == ["boss-a"]
    assert [d.person.id for d in r.leaders_on_duty(night, None)] == ["boss-a"]


def test_a_missing_roster_is_empty_not_the_shipped_one(tmp_path):
    assert load_roster(tmp_path).on_duty(sh(2026, 11, 30, 12, 0)) == []


def test_jurisdiction_chain_walks_station_county_city():
    assert jurisdiction_chain("qingchuan.linjiang.linjiang_pcs") == [
        "qingchuan.linjiang.linjiang_pcs", "qingchuan.linjiang", "qingchuan"]
    assert jurisdiction_chain(None, ["qingchuan"]) == ["qingchuan"]
    assert [jurisdiction_level(j) for j in jurisdiction_chain("a.b.c")] == [
        "station", "county", "city"]


def test_shipped_roster_has_someone_in_every_role_every_minute_of_a_week():
    r = load_roster(CONFIG)
    for hour in range(24 * 7):
        at = sh(2026, 11, 30, 0, 0) + timedelta(hours=hour, minutes=29)
        roles = {role for d in r.on_duty(at) for role in d.unit.roles}
        assert {"command", "publicity", "cyber", "leader"} <= roles, at


@pytest.mark.parametrize("change,field", [
    ({"shifts": [{"id": "day", "start": "8:00", "end": "20:00"}]}, "shifts[0].start"),
    ({"shifts": [{"id": "day", "start": "24:00", "end": "20:00"}]}, "shifts[0].start"),
    ({"units": [{"id": "x", "jurisdiction": "q", "roles": ["boss"]}]}, "units[0].roles"),
    ({"people": [{"id": "p", "name": "P", "unit": "nope"}]}, "people[0].unit"),
    ({"duty": [{"unit": "cmd", "shift": "day", "weekly": {"monday": "other"}}]},
     "duty[0].weekly.monday"),
    ({"duty": [{"unit": "cmd", "shift": "day", "daily": "ghost"}]}, "duty[0].people"),
    ({"duty": [{"unit": "cmd", "shift": "evening", "daily": "other"}]}, "duty[0].shift"),
    ({"duty": [{"unit": "cmd", "shift": "day"}]}, "duty[0]"),
    ({"overrides": [{"date": "30/11/2026", "unit": "cmd", "shift": "day", "people": []}]},
     "overrides[0].date"),
    ({"rota": []}, "rota"),
])
def test_config_errors_name_the_field(change, field):
    with pytest.raises(ConfigError) as error:
        roster(**change)
    assert error.value.field == field and error.value.fix
