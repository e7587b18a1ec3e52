"""The duty roster (值班表): units, people, shifts and who is on duty at a given minute."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from jingyu.config import ConfigError, config_dir, load_yaml, reject_unknown_keys, require
from jingyu.timeutil import SHANGHAI, to_utc

logger = logging.getLogger(__name__)

# What a unit does; the three tracks of 三同步 and the 带班领导 are named by these roles.
ROLES = {
    "case": "办案单位",
    "legal": "法制",
    "inspection": "督察",
    "publicity": "宣传",
    "command": "情指",
    "public_order": "治安",
    "cyber": "网安",
    "leader": "带班领导",
    # Whoever keeps jingyu itself running (科信/技术保障): @-mentioned on 系统告警, never
    # routed opinion alerts by default.
    "operations": "运维",
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = timedelta(days=1)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Shift:
    """A daily shift in Asia/Shanghai time; end <= start means it ends the next day."""

    id: str
    name: str
    start: time
    end: time

    @property
    def length(self) -> timedelta:
        start = timedelta(hours=self.start.hour, minutes=self.start.minute)
        end = timedelta(hours=self.end.hour, minutes=self.end.minute)
        return (end - start) % DAY or DAY      # equal times: a 24-hour shift (e.g. 08:30-08:30)

    def covering(self, local: datetime) -> datetime | None:
        """Start (Shanghai time) of this shift's turn that covers `local`, if one does."""
        start = datetime.combine(local.date(), self.start, tzinfo=SHANGHAI)
        if start > local:
            start -= DAY
        return start if local - start < self.length else None


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    jurisdiction: str                  # an id of jurisdictions.yaml
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    unit: str
    phone: str | None
    handles: Mapping[str, str]         # channel kind -> address (dingtalk user id, email ...)


@dataclass(frozen=True)
class Rota:
    """Who of `unit` works `shift`, by the weekday the shift STARTS on (a Sunday night shift
    that ends Monday morning is Sunday's)."""

    unit: str
    shift: str
    weekly: Mapping[str, tuple[str, ...]]   # "mon".."sun" -> person ids


@dataclass(frozen=True)
class Override:
    """For the turn of `shift` starting on `day`, `people` replace the weekly pattern."""

    day: date
    unit: str
    shift: str
    people: tuple[str, ...]


@dataclass(frozen=True)
class OnDuty:
    """One person on duty: who, for which unit, which turn of which shift."""

    person: Person
    unit: Unit
    shift: Shift
    starts: datetime                   # aware, Asia/Shanghai
    ends: datetime

    @property
    def handover(self) -> datetime:
        """交接班: this turn hands over to the next one at its end."""
        return self.ends


@dataclass(frozen=True)
class DutyRoster:
    shifts: Mapping[str, Shift]
    units: Mapping[str, Unit]
    people: Mapping[str, Person]
    rotas: tuple[Rota, ...]
    overrides: tuple[Override, ...]

    def on_duty(self, at: datetime) -> list[OnDuty]:
        """Everyone on duty at the instant `at` (a naive value is Shanghai time)."""
        local = to_utc(at).astimezone(SHANGHAI)
        result: list[OnDuty] = []
        for rota in self.rotas:
            shift = self.shifts[rota.shift]
            starts = shift.covering(local)
            if starts is None:
                continue
            override = next((o for o in self.overrides if o.day == starts.date()
                             and o.unit == rota.unit and o.shift == rota.shift), None)
            ids = (override.people if override is not None
                   else rota.weekly.get(WEEKDAYS[starts.weekday()], ()))
            result += [OnDuty(self.people[p], self.units[rota.unit], shift, starts,
                              starts + shift.length) for p in ids]
        return result

    def on_duty_for(self, at: datetime, roles: Iterable[str],
                    jurisdictions: Iterable[str]) -> list[OnDuty]:
        """Those on duty at `at` in units with one of `roles` in one of `jurisdictions`."""
        wanted_roles, places = set(roles), set(jurisdictions)
        return [d for d in self.on_duty(at)
                if d.unit.jurisdiction in places and wanted_roles & set(d.unit.roles)]

    def operators_on_duty(self, at: datetime) -> list[OnDuty]:
        """运维: those on duty at `at` in units with the role operations, wherever they are
        (jingyu has one pipeline, whatever the jurisdictions)."""
        return [d for d in self.on_duty(at) if "operations" in d.unit.roles]

    def leaders_on_duty(self, at: datetime, jurisdiction: str | None) -> list[OnDuty]:
        """带班领导: the leaders on duty nearest to `jurisdiction`, walking up to the city."""
        for place in jurisdiction_chain(jurisdiction, self.top_jurisdictions()):
            leaders = self.on_duty_for(at, ["leader"], [place])
            if leaders:
                return leaders
        return []

    def top_jurisdictions(self) -> tuple[str, ...]:
        return tuple(sorted({u.jurisdiction.split(".")[0] for u in self.units.values()}))


def jurisdiction_chain(jurisdiction: str | None, tops: Sequence[str] = ()) -> list[str]:
    """The jurisdiction and every one above it, nearest first: 派出所 -> 分局 -> 市局.

    Ids are dotted (config/jurisdictions.yaml), so the chain needs no lookup. An alert with
    no jurisdiction concerns the top-level (city) jurisdictions.
    """
    if not jurisdiction:
        return list(tops)
    parts = jurisdiction.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def jurisdiction_level(jurisdiction: str) -> str:
    """city | county | station, from the depth of the dotted id."""
    return ("city", "county", "station")[min(jurisdiction.count("."), 2)]


@dataclass(frozen=True)
class CoverageGap:
    """A stretch of time in which nobody is on duty for a jurisdiction, nor above it."""

    jurisdiction: str
    starts: datetime                   # aware, Asia/Shanghai
    ends: datetime


def coverage_gaps(roster: DutyRoster, jurisdictions: Iterable[str], start: datetime,
                  hours: float = 24, step: timedelta = timedelta(minutes=5)
                  ) -> list[CoverageGap]:
    """Where alerts would find nobody: for each jurisdiction, the stretches of the `hours`
    from `start` (checked every `step`) with nobody on duty in its units or the units above
    it (an alert walks up the chain, 派出所 -> 分局 -> 市局)."""
    local = to_utc(start).astimezone(SHANGHAI)
    first = local - timedelta(minutes=local.minute % 5, seconds=local.second,
                              microseconds=local.microsecond)
    instants = [first + n * step for n in range(int(timedelta(hours=hours) / step) + 1)]
    present = [{d.unit.jurisdiction for d in roster.on_duty(at)} for at in instants]
    tops = roster.top_jurisdictions()
    gaps: list[CoverageGap] = []
    for jurisdiction in jurisdictions:
        chain = set(jurisdiction_chain(jurisdiction, tops))
        opened: datetime | None = None
        for at, places in zip(instants, present):
            if chain & places:
                if opened is not None:
                    gaps.append(CoverageGap(jurisdiction, opened, at))
                    opened = None
            elif opened is None:
                opened = at
        if opened is not None:
            gaps.append(CoverageGap(jurisdiction, opened, instants[-1] + step))
    return gaps


EMPTY_ROSTER = DutyRoster(shifts={}, units={}, people={}, rotas=(), overrides=())


def load_roster(directory: str | Path | None = None) -> DutyRoster:
    """roster.yaml of the config directory; an absent file is an empty roster.

    Unlike rules or routing, the shipped (fictional) roster is never a fallback: notifying
    invented people would hide that a deployment has no roster.
    """
    path = (Path(directory) if directory else config_dir()) / "roster.yaml"
    if not path.exists():
        # Every cycle, so that it cannot be missed in the worker's log: without a roster no
        # alert reaches a person by name and nobody is @-mentioned.
        logger.warning("NO DUTY ROSTER: %s does not exist, so nobody is on duty, nobody is "
                       "@-mentioned and no alert is routed to a person; write it (see the "
                       "shipped config/roster.yaml)", path)
        return EMPTY_ROSTER
    return parse_roster(load_yaml(path), path)


def parse_roster(data: Any, file: str | Path) -> DutyRoster:
    """Validate roster.yaml; any problem is a ConfigError naming the field and the fix."""
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", "must be a mapping",
                          "write 'shifts:', 'units:', 'people:' and 'duty:' sections")
    reject_unknown_keys(data, {"shifts", "units", "people", "duty", "overrides"}, file, "")
    shifts = {s.id: s for s in _items(data, "shifts", file, _shift)}
    units = {u.id: u for u in _items(data, "units", file, _unit)}
    people = {p.id: p for p in _items(data, "people", file, _person)}
    for index, person in enumerate(people.values()):
        _exists(person.unit, units, file, f"people[{index}].unit", "units")
    rotas = tuple(_items(data, "duty", file, _rota))
    overrides = tuple(_items(data, "overrides", file, _override))
    for section, entries in (("duty", rotas), ("overrides", overrides)):
        for index, entry in enumerate(entries):
            at = f"{section}[{index}]"
            _exists(entry.unit, units, file, f"{at}.unit", "units")
            _exists(entry.shift, shifts, file, f"{at}.shift", "shifts")
            ids = (entry.people if isinstance(entry, Override)
                   else [p for day in entry.weekly.values() for p in day])
            for person in ids:
                _exists(person, people, file, f"{at}.people", "people")
    return DutyRoster(shifts=shifts, units=units, people=people, rotas=rotas, overrides=overrides)


def _items(data: dict, section: str, file: str | Path, parse) -> list:
    value = data.get(section) or []
    if not isinstance(value, list):
        raise ConfigError(file, section, f"must be a list, got {type(value).__name__}",
                          f"write one '- ...' entry per item under '{section}:'")
    parsed = []
    for index, entry in enumerate(value):
        at = f"{section}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(file, at, "must be a mapping", "write 'key: value' pairs under '-'")
        item = parse(entry, file, at)
        if hasattr(item, "id") and any(p.id == item.id for p in parsed):
            raise ConfigError(file, f"{at}.id", f"duplicate id {item.id!r}", "make ids unique")
        parsed.append(item)
    return parsed


def _exists(key: str, known: Mapping[str, Any], file: str | Path, field: str,
            section: str) -> None:
    if key not in known:
        raise ConfigError(file, field, f"{key!r} is not defined in '{section}:'",
                          f"use one of: {', '.join(sorted(known)) or '(none defined yet)'}")


def _clock(entry: dict, key: str, file: str | Path, at: str) -> time:
    value = entry.get(key)
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(file, f"{at}.{key}", f"must be a time HH:MM, got {value!r}",
                          'quote it, e.g. "08:30" (Asia/Shanghai)')
    return time(int(match.group(1)), int(match.group(2)))


def _shift(entry: dict, file: str | Path, at: str) -> Shift:
    reject_unknown_keys(entry, {"id", "name", "start", "end"}, file, at)
    shift_id = require(entry, "id", str, file, at, "name the shift, e.g. day or night")
    return Shift(id=shift_id, name=str(entry.get("name") or shift_id),
                 start=_clock(entry, "start", file, at), end=_clock(entry, "end", file, at))


def _unit(entry: dict, file: str | Path, at: str) -> Unit:
    reject_unknown_keys(entry, {"id", "name", "jurisdiction", "roles"}, file, at)
    roles = entry.get("roles") or []
    if not isinstance(roles, list) or not roles:
        raise ConfigError(file, f"{at}.roles", "must be a non-empty list",
                          f"use some of: {', '.join(ROLES)}")
    for role in roles:
        if role not in ROLES:
            raise ConfigError(file, f"{at}.roles", f"unknown role {role!r}",
                              f"use some of: {', '.join(ROLES)}")
    unit_id = require(entry, "id", str, file, at, "give the unit a stable id")
    return Unit(id=unit_id, name=str(entry.get("name") or unit_id),
                jurisdiction=require(entry, "jurisdiction", str, file, at,
                                     "give the id from jurisdictions.yaml, e.g. qingchuan"),
                roles=tuple(roles))


def _person(entry: dict, file: str | Path, at: str) -> Person:
    reject_unknown_keys(entry, {"id", "name", "unit", "phone", "handles"}, file, at)
    handles = entry.get("handles") or {}
    if not isinstance(handles, dict) or not all(isinstance(v, (str, int))
                                                for v in handles.values()):
        raise ConfigError(file, f"{at}.handles", "must map a channel kind to an address",
                          "write e.g. {dingtalk: '13800000001', email: a@b.cn}")
    phone = entry.get("phone")
    if phone is not None and not isinstance(phone, (str, int)):
        raise ConfigError(file, f"{at}.phone", "must be a phone number", "quote it")
    person_id = require(entry, "id", str, file, at, "give the person a stable id")
    return Person(id=person_id, name=require(entry, "name", str, file, at, "write the name"),
                  unit=require(entry, "unit", str, file, at, "give the unit id"),
                  phone=str(phone) if phone is not None else None,
                  handles={str(k): str(v) for k, v in handles.items()})


def _people(value: Any, file: str | Path, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(file, field, f"must be a person id or a list of them, got {value!r}",
                      "write e.g. [zhangsan, lisi]")


def _rota(entry: dict, file: str | Path, at: str) -> Rota:
    reject_unknown_keys(entry, {"unit", "shift", "weekly", "daily"}, file, at)
    weekly: dict[str, tuple[str, ...]] = {}
    if entry.get("daily") is not None:
        weekly = {day: _people(entry["daily"], file, f"{at}.daily") for day in WEEKDAYS}
    pattern = entry.get("weekly") or {}
    if not isinstance(pattern, dict):
        raise ConfigError(file, f"{at}.weekly", "must map weekdays to people",
                          "write e.g. {mon: [zhangsan], tue: [lisi]}")
    for day, value in pattern.items():
        if day not in WEEKDAYS:
            raise ConfigError(file, f"{at}.weekly.{day}", "unknown weekday",
                              f"use {', '.join(WEEKDAYS)}")
        weekly[day] = _people(value, file, f"{at}.weekly.{day}")
    if not weekly:
        raise ConfigError(file, at, "names nobody", "add 'daily: [...]' or 'weekly: {mon: ...}'")
    return Rota(unit=require(entry, "unit", str, file, at, "give the unit id"),
                shift=require(entry, "shift", str, file, at, "give the shift id"), weekly=weekly)


def _override(entry: dict, file: str | Path, at: str) -> Override:
    reject_unknown_keys(entry, {"date", "unit", "shift", "people"}, file, at)
    day = entry.get("date")
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            day = None
    if not isinstance(day, date) or isinstance(day, datetime):
        raise ConfigError(file, f"{at}.date", f"must be a date, got {entry.get('date')!r}",
                          "write the day the shift starts, e.g. 2026-10-01")
    return Override(day=day, unit=require(entry, "unit", str, file, at, "give the unit id"),
                    shift=require(entry, "shift", str, file, at, "give the shift id"),
                    people=_people(entry.get("people"), file, f"{at}.people"))
