"""Routing (分级推送): who hears of an incident and through which channels, from config/routing.yaml."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.incidents.roster import (
    ROLES,
    DutyRoster,
    OnDuty,
    jurisdiction_chain,
    jurisdiction_level,
)
from alerts.incidents.timers import TimerSettings
from alerts.incidents.watchdog import WatchdogSettings
from alerts.levels import LEVELS
from jingyu.config import ConfigError, config_file, load_yaml, reject_unknown_keys, require
from alerts.incidents.incident import LONGEST_SILENCE
from jingyu.timeutil import parse_local, to_utc, utcnow
from warehouse.records import Silence

REACH = ("station", "county", "city")
# 三方互通: publicity, command/cyber, legal/inspection hear of a sensitive incident at once.
THREE_SIDES = ("publicity", "command", "cyber", "legal", "inspection")


@dataclass(frozen=True)
class Subject:
    """What routing looks at: an alert or an incident."""

    level: int
    topics: tuple[str, ...]
    high_risk: bool
    jurisdiction: str | None


@dataclass(frozen=True)
class RouteRule:
    """Alerts matching levels, topics and jurisdictions go to `roles` and `channels`."""

    name: str
    roles: tuple[str, ...]
    levels: tuple[int, ...] = (1, 2, 3, 4)
    topics: tuple[str, ...] = ()       # empty: any topic; "police" matches "police.assault"
    jurisdictions: tuple[str, ...] = ()  # empty: anywhere; an id matches itself and below
    reach: tuple[str, ...] = REACH     # levels of the jurisdiction chain that are told
    channels: tuple[str, ...] = ()     # empty: the alerts.yaml channels for the level

    def matches(self, subject: Subject) -> bool:
        if subject.level not in self.levels:
            return False
        if self.topics and not any(_topic_under(t, rule) for t in subject.topics
                                   for rule in self.topics):
            return False
        if self.jurisdictions:
            place = subject.jurisdiction or ""
            return any(place == j or place.startswith(j + ".") for j in self.jurisdictions)
        return True


@dataclass(frozen=True)
class SensitivePolicy:
    """When an incident is sensitive: then 三方互通 and 三同步 apply."""

    max_level: int = 2
    high_risk: bool = True             # a high-risk topic (rules.yaml) is sensitive at any level
    topics: tuple[str, ...] = ()
    roles: tuple[str, ...] = THREE_SIDES
    channels: tuple[str, ...] = ()

    def applies(self, subject: Subject) -> bool:
        return (subject.level <= self.max_level or (self.high_risk and subject.high_risk)
                or any(_topic_under(t, rule) for t in subject.topics for rule in self.topics))


@dataclass(frozen=True)
class Routing:
    """Everything in config/routing.yaml."""

    rules: tuple[RouteRule, ...] = ()
    sensitive: SensitivePolicy = field(default_factory=SensitivePolicy)
    escalation_channels: tuple[str, ...] = ()   # empty: every enabled channel
    timers: TimerSettings = field(default_factory=TimerSettings)
    silences: tuple[Silence, ...] = ()
    watchdog: WatchdogSettings = field(default_factory=WatchdogSettings)

    def channel_names(self) -> set[str]:
        names = set(self.sensitive.channels) | set(self.escalation_channels)
        return names.union(*(r.channels for r in self.rules))


@dataclass(frozen=True)
class Recipient:
    """A person to reach, with the addresses channels may use."""

    name: str
    unit: str
    phone: str | None
    handles: dict[str, str]

    def document(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "phone": self.phone,
                "handles": dict(self.handles)}


@dataclass(frozen=True)
class Route:
    channels: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    sensitive: bool
    rules: tuple[str, ...]             # names of the matched rules, for the audit trail


# level -> channel names (AlertSettings.channels_for)
DefaultChannels = Callable[[int], Sequence[str]]


def route(subject: Subject, routing: Routing, roster: DutyRoster, at: datetime,
          default_channels: DefaultChannels) -> Route:
    """Recipients on duty at `at` and the channels to use for this subject."""
    chain = jurisdiction_chain(subject.jurisdiction, roster.top_jurisdictions())
    matched = [r for r in routing.rules if r.matches(subject)]
    duty: list[OnDuty] = []
    channels: list[str] = []
    for rule in matched:
        places = [j for j in chain if jurisdiction_level(j) in rule.reach]
        duty += roster.on_duty_for(at, rule.roles, places)
        channels += rule.channels or default_channels(subject.level)
    sensitive = routing.sensitive.applies(subject)
    if sensitive:
        duty += roster.on_duty_for(at, routing.sensitive.roles, chain)
        channels += routing.sensitive.channels
    if not channels:
        channels = list(default_channels(subject.level))
    return Route(channels=_unique(channels), recipients=recipients(duty), sensitive=sensitive,
                 rules=tuple(r.name for r in matched))


def escalation_route(jurisdiction: str | None, routing: Routing, roster: DutyRoster,
                     at: datetime, default_channels: DefaultChannels) -> Route:
    """Where a breached timer goes: the 带班领导 on duty nearest the incident."""
    channels = routing.escalation_channels or tuple(default_channels(1))
    return Route(channels=_unique(channels),
                 recipients=recipients(roster.leaders_on_duty(at, jurisdiction)),
                 sensitive=True, rules=("escalation",))


def recipients(duty: Iterable[OnDuty]) -> tuple[Recipient, ...]:
    seen: dict[str, Recipient] = {}
    for d in duty:
        seen.setdefault(d.person.id, Recipient(name=d.person.name, unit=d.unit.name,
                                               phone=d.person.phone,
                                               handles=dict(d.person.handles)))
    return tuple(seen.values())


def silenced_by(fingerprint: str, silences: Iterable[Silence], now: datetime) -> Silence | None:
    """The silence in force for this fingerprint at `now`, if any."""
    return next((s for s in silences if fingerprint.startswith(s.match) and now < s.until), None)


def _topic_under(topic: str, rule: str) -> bool:
    return topic == rule or topic.startswith(rule + ".")


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


_DURATION = re.compile(r"^(\d+)\s*([mhd])$")


def parse_until(text: str, now: datetime) -> datetime:
    """An expiry as people write it: '2h', '30m', '1d', or '2026-12-01 08:00' (Shanghai time)."""
    match = _DURATION.match(text.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return to_utc(now) + timedelta(**{unit: int(match.group(1))})
    try:
        return to_utc(parse_local(text))
    except ValueError:
        raise ValueError(f"cannot read the time {text!r}: write e.g. 2h, 30m, 1d or "
                         f"'2026-12-01 08:00' (Asia/Shanghai)") from None


# ---- config/routing.yaml -----------------------------------------------------------------

SECTIONS = {"rules", "sensitive", "escalation", "timers", "silences", "watchdog"}
# Routed health to duty staff at a warning level before 系统告警 went to the operators.
_HEALTH_ROUTING_KEYS = ("level", "roles", "channels")


def load_routing(directory: str | Path | None = None,
                 channels: Iterable[str] | None = None) -> Routing:
    """routing.yaml of the config directory; an absent file means the defaults."""
    path = config_file("routing.yaml", directory)
    if not path.exists():
        return Routing()
    return parse_routing(load_yaml(path), path, channels)


def parse_routing(data: Any, file: str | Path, channels: Iterable[str] | None = None,
                  now: datetime | None = None) -> Routing:
    """Validate routing.yaml. With `channels` (alerts.yaml's names), unknown channels fail.
    A silence ending more than LONGEST_SILENCE after `now` (default: the time it is read)
    needs `long: true`, as `jingyu alerts silence` needs --long."""
    if data is None:
        return Routing()
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", "must be a mapping",
                          f"write some of the sections {', '.join(sorted(SECTIONS))}")
    reject_unknown_keys(data, SECTIONS, file, "")
    escalation = _mapping(data, "escalation", file, {"channels"})
    watchdog = data.get("watchdog") or {}
    for key in _HEALTH_ROUTING_KEYS:
        if isinstance(watchdog, dict) and watchdog.get(key) is not None:
            raise ConfigError(file, f"watchdog.{key}", "no longer applies: dead sources and "
                              "stopped cycles are 系统告警 for the operators, without a warning "
                              "level and not routed to duty staff",
                              "remove it, and add a channel with 'audience: operators' to "
                              "alerts.yaml (see config/alerts.yaml)")
    watchdog = _mapping(data, "watchdog", file, set(WatchdogSettings.__dataclass_fields__))
    routing = Routing(
        rules=tuple(_rule(entry, file, f"rules[{i}]")
                    for i, entry in enumerate(_list(data, "rules", file))),
        sensitive=_sensitive(_mapping(data, "sensitive", file,
                                      set(SensitivePolicy.__dataclass_fields__)), file),
        escalation_channels=_names(escalation, "channels", file, "escalation"),
        timers=_timers(_mapping(data, "timers", file, set(TimerSettings.__dataclass_fields__)),
                       file),
        silences=tuple(_silence(entry, file, f"silences[{i}]", now or utcnow())
                       for i, entry in enumerate(_list(data, "silences", file))),
        watchdog=_watchdog(watchdog, file),
    )
    if channels is not None:
        unknown = routing.channel_names() - set(channels)
        if unknown:
            raise ConfigError(file, "channels", f"unknown channel(s) {', '.join(sorted(unknown))}",
                              f"use duty channels named in alerts.yaml: {', '.join(channels)} "
                              f"(a channel with audience: operators takes only 系统告警)")
    return routing


def _mapping(data: dict, key: str, file: str | Path, known: set[str]) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(file, key, "must be a mapping", f"indent its settings under '{key}:'")
    reject_unknown_keys(value, known, file, key)
    return value


def _list(data: dict, key: str, file: str | Path) -> list:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(file, key, "must be a list of mappings",
                          f"write one '- ...' entry per item under '{key}:'")
    return value


def _names(mapping: dict, key: str, file: str | Path, where: str) -> tuple[str, ...]:
    value = mapping.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise ConfigError(file, f"{where}.{key}", "must be a list", f"write e.g. {key}: [a, b]")
    return tuple(str(v) for v in value)


def _roles(mapping: dict, key: str, file: str | Path, where: str,
           default: tuple[str, ...]) -> tuple[str, ...]:
    roles = _names(mapping, key, file, where) or default
    for role in roles:
        if role not in ROLES:
            raise ConfigError(file, f"{where}.{key}", f"unknown role {role!r}",
                              f"use some of: {', '.join(ROLES)}")
    return roles


def _levels(mapping: dict, key: str, file: str | Path, where: str) -> tuple[int, ...]:
    value = mapping.get(key)
    if value is None:
        return (1, 2, 3, 4)
    value = value if isinstance(value, list) else [value]
    if not value or not all(isinstance(v, int) and not isinstance(v, bool) and v in LEVELS
                            for v in value):
        raise ConfigError(file, f"{where}.{key}", f"must be warning levels 1-4, got {value!r}",
                          "write e.g. levels: [1, 2] (1 = I级 红色)")
    return tuple(value)


def _int(mapping: dict, key: str, default: int, file: str | Path, where: str,
         minimum: int = 0) -> int:
    if mapping.get(key) is None:
        return default
    value = require(mapping, key, int, file, where, "write a whole number")
    if value < minimum:
        raise ConfigError(file, f"{where}.{key}", f"must be at least {minimum}, got {value}",
                          "write a larger whole number")
    return value


def _bool(mapping: dict, key: str, default: bool, file: str | Path, where: str) -> bool:
    if mapping.get(key) is None:
        return default
    return require(mapping, key, bool, file, where, "write true or false")


def _rule(entry: dict, file: str | Path, at: str) -> RouteRule:
    reject_unknown_keys(entry, set(RouteRule.__dataclass_fields__), file, at)
    reach = _names(entry, "reach", file, at) or REACH
    for level in reach:
        if level not in REACH:
            raise ConfigError(file, f"{at}.reach", f"unknown level {level!r}",
                              f"use some of: {', '.join(REACH)} (市县所三级)")
    roles = _roles(entry, "roles", file, at, ())
    if not roles:
        raise ConfigError(file, f"{at}.roles", "is required",
                          f"name the roles to notify, some of: {', '.join(ROLES)}")
    return RouteRule(name=require(entry, "name", str, file, at, "name the rule"),
                     roles=roles, levels=_levels(entry, "levels", file, at),
                     topics=_names(entry, "topics", file, at),
                     jurisdictions=_names(entry, "jurisdictions", file, at),
                     reach=reach, channels=_names(entry, "channels", file, at))


def _sensitive(data: dict, file: str | Path) -> SensitivePolicy:
    where, defaults = "sensitive", SensitivePolicy()
    max_level = _int(data, "max_level", defaults.max_level, file, where, 0)
    if max_level > 4:
        raise ConfigError(file, f"{where}.max_level", f"must be 0-4, got {max_level}",
                          "2 makes I级 and II级 sensitive; 0 makes no level sensitive by itself")
    return SensitivePolicy(
        max_level=max_level,
        high_risk=_bool(data, "high_risk", defaults.high_risk, file, where),
        topics=_names(data, "topics", file, where),
        roles=_roles(data, "roles", file, where, defaults.roles),
        channels=_names(data, "channels", file, where))


def _timers(data: dict, file: str | Path) -> TimerSettings:
    where, d = "timers", TimerSettings()
    return TimerSettings(
        ack_minutes=_int(data, "ack_minutes", d.ack_minutes, file, where, 1),
        statement_hours=_int(data, "statement_hours", d.statement_hours, file, where, 1),
        progress_hours=_int(data, "progress_hours", d.progress_hours, file, where, 1),
        closure_hours=_int(data, "closure_hours", d.closure_hours, file, where, 1),
        sync_minutes=_int(data, "sync_minutes", d.sync_minutes, file, where, 1),
        repeat_minutes=_int(data, "repeat_minutes", d.repeat_minutes, file, where, 0),
        notify_resolved=_bool(data, "notify_resolved", d.notify_resolved, file, where))


def _watchdog(data: dict, file: str | Path) -> WatchdogSettings:
    where, d = "watchdog", WatchdogSettings()
    usual_days = _int(data, "usual_days", d.usual_days, file, where, 1)
    if usual_days > 7:
        raise ConfigError(file, f"{where}.usual_days",
                          f"counts days of the last 7, got {usual_days}",
                          "use 1-7, e.g. 5")
    return WatchdogSettings(
        enabled=_bool(data, "enabled", d.enabled, file, where),
        cycle_minutes=_int(data, "cycle_minutes", d.cycle_minutes, file, where, 5),
        silent_hours=_int(data, "silent_hours", d.silent_hours, file, where, 1),
        usual_days=usual_days,
        failures=_int(data, "failures", d.failures, file, where, 1))


def _silence(entry: dict, file: str | Path, at: str, now: datetime) -> Silence:
    reject_unknown_keys(entry, {"match", "until", "reason", "long"}, file, at)
    match = require(entry, "match", str, file, at, "give a fingerprint prefix, e.g. item:ab12")
    if not match.strip():
        raise ConfigError(file, f"{at}.match", "must not be empty", "an empty prefix silences all")
    until = entry.get("until")
    try:  # YAML may already have read it as a date or datetime
        expiry = to_utc(parse_local(until if isinstance(until, date) else str(until)))
    except ValueError:
        raise ConfigError(file, f"{at}.until", f"must be a time, got {until!r}",
                          "write e.g. '2026-12-01 08:00' (Asia/Shanghai)") from None
    long = entry.get("long", False)
    if not isinstance(long, bool):
        raise ConfigError(file, f"{at}.long", f"must be true or false, got {long!r}",
                          "write 'long: true' for a silence meant to outlast the next shifts")
    hours = LONGEST_SILENCE.total_seconds() / 3600
    if expiry - now > LONGEST_SILENCE and not long:
        away = (expiry - now).total_seconds() / 3600
        raise ConfigError(file, f"{at}.until",
                          f"ends in {away:.0f} hours, longer than the {hours:g}-hour maximum "
                          f"for a silence: the next shifts would not hear of the alerts it "
                          f"hides",
                          f"give an end within {hours:g} hours, or add 'long: true' to this "
                          f"silence if that is meant")
    return Silence(match=match, until=expiry, reason=str(entry.get("reason") or ""),
                   created_by="routing.yaml")
