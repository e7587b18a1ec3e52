"""Parse config/alerts.yaml: detector thresholds, warning levels and delivery channels."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from alerts.channel_options import CHANNEL_OPTIONS, LEVEL_FIX, ChannelOptions
from alerts.levels import LEVELS
from jingyu.config import (
    ConfigError,
    ConfigProblem,
    config_dir,
    config_error,
    load_yaml,
    reject_unknown_keys,
    require,
)

CHANNEL_KINDS = tuple(CHANNEL_OPTIONS)
# A channel's settings: the options model of its kind (alerts.channel_options).
ChannelSettings = ChannelOptions


@dataclass(frozen=True)
class SensitiveItemSettings:
    """When one post is alarming enough to alert on its own (第一时间)."""

    enabled: bool = True
    require_police_related: bool = True
    require_negative: bool = True
    ignore_official: bool = True       # our own police accounts are not opinion against us
    level: int = 3
    max_age_hours: int = 24            # a backfilled week-old post must not page the night shift


@dataclass(frozen=True)
class SpikeLevelRule:
    """The spike gets `level` once the window holds min_count distinct texts at min_ratio."""

    level: int
    min_count: int
    min_ratio: float = 0.0


@dataclass(frozen=True)
class SpikeSettings:
    """When a surge of posts is told apart from the usual flow (alerts/surges.py).

    Every cycle, jingyu counts distinct texts per 5-minute bucket for each watched series
    (negative police-related texts, all police-related texts, each topic; in all and in each
    jurisdiction) and runs the streaming detector of alerts/spike.py over the last
    history_days. A series that the detector flagged within follow_hours is surging; it
    alerts once its latest window also holds min_count distinct texts.
    """

    enabled: bool = True
    window_minutes: int = 60           # the latest window: counted for min_count, levels, evidence
    min_count: int = 5                 # never a spike below 5 distinct texts in the window
    history_days: int = 14             # how much history the detector reads each cycle
    follow_hours: int = 6              # a flagged series stays surging (and updates its alert)
    min_z: float = 4.0                 # significance against the usual count for the time of day
    share_rise: float = 0.25           # negative share this far above usual raises the level
    #                                    (and, when significant, alerts as 负面占比突增)
    ignore_official: bool = True
    levels: tuple[SpikeLevelRule, ...] = (
        SpikeLevelRule(level=1, min_count=1000),
        SpikeLevelRule(level=2, min_count=200),
        SpikeLevelRule(level=3, min_count=50),
    )
    default_level: int = 4

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def history(self) -> timedelta:
        return timedelta(days=self.history_days)

    @property
    def follow(self) -> timedelta:
        return timedelta(hours=self.follow_hours)


_SPREAD_FIX = ("give the event's spread (its posts plus their reposts and comments) from which "
               "an incident is at least this level, a whole number above 0; defaults 10000 "
               "(III), 100000 (II), 1000000 (I)")
Spread = Annotated[int, Strict(), Field(gt=0, json_schema_extra={"fix": _SPREAD_FIX})]


class EventLevelSettings(BaseModel):
    """分级预警 by spread: an open incident following an event is at least level 3, 2 or 1
    once its event's spread (posts + their reposts + comments) reaches level_3, level_2 or
    level_1. The practitioner's rule of thumb: IV below ~1,000, III from ~10,000, I above
    ~1,000,000."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: Annotated[bool, Strict()] = Field(True, json_schema_extra={
        "fix": "write true or false"})
    level_3: Spread = 10_000
    level_2: Spread = 100_000
    level_1: Spread = 1_000_000

    @model_validator(mode="after")
    def _rising(self) -> EventLevelSettings:
        if not self.level_3 < self.level_2 < self.level_1:
            raise ConfigProblem(
                f"the spreads must grow with severity: level_3 {self.level_3:,} < level_2 "
                f"{self.level_2:,} < level_1 {self.level_1:,} does not hold",
                "give the more severe level the larger spread, e.g. level_3: 10000, "
                "level_2: 100000, level_1: 1000000", field="level_2")
        return self

    def floor(self, spread: int) -> int | None:
        """The least severe level an event of this spread allows (None: no floor)."""
        if not self.enabled:
            return None
        for level, at in ((1, self.level_1), (2, self.level_2), (3, self.level_3)):
            if spread >= at:
                return level
        return None

    def threshold(self, level: int) -> int:
        return {1: self.level_1, 2: self.level_2, 3: self.level_3}[level]


@dataclass(frozen=True)
class ConsoleLinkSettings:
    """Where duty staff's phones reach the duty console, for the 签收/查看 buttons of messages.

    Without base_url, messages carry no links (and say how to acknowledge from the CLI).
    """

    base_url: str | None = None        # e.g. https://jingyu.example.gov.cn (no query, no #)
    link_hours: float = 2.0            # a link expires this long after the message is sent
    secret_env: str | None = None      # variable holding the signing key; default
    #                                    JINGYU_LINK_SECRET, else a key kept in the warehouse


@dataclass(frozen=True)
class AlertSettings:
    """Everything in config/alerts.yaml."""

    sensitive_item: SensitiveItemSettings
    spike: SpikeSettings
    channels: tuple[ChannelOptions, ...]
    console: ConsoleLinkSettings = ConsoleLinkSettings()
    event_levels: EventLevelSettings = EventLevelSettings()

    def channels_for(self, level: int) -> tuple[str, ...]:
        """Names of the enabled duty channels that must receive an alert of this level."""
        return tuple(c.name for c in self.channels
                     if c.enabled and c.audience == "duty" and level <= c.min_level)

    def duty_channel_names(self) -> list[str]:
        """Every duty channel's name, enabled or not (what routing.yaml may name)."""
        return [c.name for c in self.channels if c.audience == "duty"]

    def operator_channels(self) -> tuple[str, ...]:
        """Names of the enabled channels for the operators (audience: operators)."""
        return tuple(c.name for c in self.channels if c.enabled and c.audience == "operators")

    def health_channels(self) -> tuple[tuple[str, ...], bool]:
        """Where a 系统告警 goes, and whether that is the fallback: the operators' channels;
        with none, the duty channels that take every alert (min_level 4, e.g. the console
        and the duty log), so that it is never dropped unseen."""
        operators = self.operator_channels()
        return (operators, False) if operators else (self.channels_for(4), True)


def load_alert_settings(path: str | Path | None = None) -> AlertSettings:
    """Read and validate alerts.yaml (default: the config directory's alerts.yaml)."""
    path = Path(path) if path is not None else config_dir() / "alerts.yaml"
    return parse_alert_settings(load_yaml(path), path)


def parse_alert_settings(data: Any, file: str | Path) -> AlertSettings:
    """Validate the parsed YAML of alerts.yaml; any problem is a ConfigError naming the field."""
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", "must be a mapping",
                          "write 'sensitive_item:', 'spike:' and 'channels:' sections")
    reject_unknown_keys(data, {"sensitive_item", "spike", "channels", "console",
                               "event_levels"}, file, "")
    try:
        event_levels = EventLevelSettings.model_validate(_section(data, "event_levels", file))
    except ValidationError as exc:
        raise config_error(exc, file, "event_levels", EventLevelSettings) from None
    return AlertSettings(
        event_levels=event_levels,
        sensitive_item=_parse_sensitive_item(_section(data, "sensitive_item", file), file),
        spike=_parse_spike(_section(data, "spike", file), file),
        channels=_parse_channels(data.get("channels"), file),
        console=_parse_console(_section(data, "console", file), file),
    )


_BASE_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[A-Za-z0-9._~\-/]*)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parse_console(data: dict, file: str | Path) -> ConsoleLinkSettings:
    where = "console"
    defaults = ConsoleLinkSettings()
    reject_unknown_keys(data, set(ConsoleLinkSettings.__dataclass_fields__), file, where)
    base_url = _optional(data, "base_url", str, None, file, where,
                         "write the console's address, e.g. https://jingyu.example.gov.cn")
    if base_url is not None and not _BASE_URL.match(base_url.strip()):
        raise ConfigError(file, f"{where}.base_url",
                          f"must be an http(s) address without query or #, got {base_url!r}",
                          "write where phones reach `jingyu console`, e.g. "
                          "https://jingyu.example.gov.cn or http://10.1.2.3:8700")
    link_hours = _number(data, "link_hours", defaults.link_hours, file, where)
    if not 0 < link_hours <= 24:
        raise ConfigError(file, f"{where}.link_hours", f"must be above 0 and at most 24, got "
                          f"{link_hours:g}", "a 签收 link is for the shift it was sent in: "
                          "write e.g. 2")
    secret_env = _optional(data, "secret_env", str, None, file, where)
    if secret_env is not None and not _ENV_NAME.match(secret_env):
        raise ConfigError(file, f"{where}.secret_env",
                          f"must name an environment variable, got {secret_env!r}",
                          "write e.g. JINGYU_LINK_SECRET (the key itself never goes here)")
    return ConsoleLinkSettings(base_url=base_url.strip().rstrip("/") if base_url else None,
                               link_hours=link_hours, secret_env=secret_env)


def _section(data: dict, key: str, file: str | Path) -> dict:
    """An optional mapping section; absent means all defaults."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(file, key, f"must be a mapping, got {type(value).__name__}",
                          f"indent the '{key}' settings under '{key}:'")
    return value


TYPE_FIXES: dict[type | tuple[type, ...], str] = {
    bool: "write true or false",
    int: "write a whole number",
    (int, float): "write a number such as 3.0",
}


def _optional(mapping: dict, key: str, kind: type | tuple[type, ...], default: Any,
              file: str | Path, where: str, fix: str = "") -> Any:
    if mapping.get(key) is None:
        return default
    return require(mapping, key, kind, file, where, fix or TYPE_FIXES.get(kind, ""))


def _number(mapping: dict, key: str, default: float, file: str | Path, where: str) -> float:
    # YAML reads "yes"/"true" as bool, and bool is an int subclass: refuse it explicitly.
    if isinstance(mapping.get(key), bool):
        raise ConfigError(file, f"{where}.{key}", f"must be a number, got {mapping[key]!r}",
                          "write a number such as 3.0")
    return float(_optional(mapping, key, (int, float), default, file, where))


def _level(mapping: dict, key: str, default: int | None, file: str | Path, where: str) -> int:
    value = (_optional(mapping, key, int, default, file, where, LEVEL_FIX) if default is not None
             else require(mapping, key, int, file, where, LEVEL_FIX))
    if value not in LEVELS:
        raise ConfigError(file, f"{where}.{key}", f"must be a warning level 1-4, got {value}",
                          LEVEL_FIX)
    return value


def _at_least(value: float, minimum: float, file: str | Path, field: str, fix: str) -> None:
    if value < minimum:
        raise ConfigError(file, field, f"must be at least {minimum}, got {value}", fix)


def _parse_sensitive_item(data: dict, file: str | Path) -> SensitiveItemSettings:
    where = "sensitive_item"
    defaults = SensitiveItemSettings()
    reject_unknown_keys(data, set(SensitiveItemSettings.__dataclass_fields__), file, where)
    max_age_hours = _optional(data, "max_age_hours", int, defaults.max_age_hours, file, where)
    _at_least(max_age_hours, 1, file, f"{where}.max_age_hours",
              "give the age in hours after which a post is too old to alert on")
    return SensitiveItemSettings(
        enabled=_optional(data, "enabled", bool, defaults.enabled, file, where),
        require_police_related=_optional(data, "require_police_related", bool,
                                         defaults.require_police_related, file, where),
        require_negative=_optional(data, "require_negative", bool, defaults.require_negative,
                                   file, where),
        ignore_official=_optional(data, "ignore_official", bool, defaults.ignore_official,
                                  file, where),
        level=_level(data, "level", defaults.level, file, where),
        max_age_hours=max_age_hours,
    )


def _parse_spike(data: dict, file: str | Path) -> SpikeSettings:
    where = "spike"
    defaults = SpikeSettings()
    reject_unknown_keys(data, set(SpikeSettings.__dataclass_fields__), file, where)
    settings = SpikeSettings(
        enabled=_optional(data, "enabled", bool, defaults.enabled, file, where),
        window_minutes=_optional(data, "window_minutes", int, defaults.window_minutes, file,
                                 where),
        min_count=_optional(data, "min_count", int, defaults.min_count, file, where),
        history_days=_optional(data, "history_days", int, defaults.history_days, file, where),
        follow_hours=_optional(data, "follow_hours", int, defaults.follow_hours, file, where),
        min_z=_number(data, "min_z", defaults.min_z, file, where),
        share_rise=_number(data, "share_rise", defaults.share_rise, file, where),
        ignore_official=_optional(data, "ignore_official", bool, defaults.ignore_official,
                                  file, where),
        levels=(_parse_level_rules(data["levels"], file) if data.get("levels") is not None
                else defaults.levels),
        default_level=_level(data, "default_level", defaults.default_level, file, where),
    )
    _at_least(settings.window_minutes, 5, file, f"{where}.window_minutes",
              "give the window length in minutes, at least one 5-minute bucket, e.g. 60")
    _at_least(settings.min_count, 1, file, f"{where}.min_count",
              "require at least 1 distinct text, e.g. 5")
    _at_least(settings.history_days, 2, file, f"{where}.history_days",
              "read at least 2 days (the detector learns for a day first), e.g. 14")
    _at_least(settings.follow_hours, 1, file, f"{where}.follow_hours",
              "follow a surge for at least an hour, e.g. 6")
    _at_least(settings.min_z, 0.0, file, f"{where}.min_z",
              "use about 4: lower alerts more often, higher only on very large surges")
    _at_least(settings.share_rise, 0.0, file, f"{where}.share_rise",
              "a share rise between 0 and 1, e.g. 0.25 (25 percentage points)")
    return settings


def _parse_level_rules(data: Any, file: str | Path) -> tuple[SpikeLevelRule, ...]:
    where = "spike.levels"
    if not isinstance(data, list):
        raise ConfigError(file, where, f"must be a list, got {type(data).__name__}",
                          "write one '- {level: 2, min_count: 200}' entry per level")
    rules = []
    for index, entry in enumerate(data):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(file, at, "must be a mapping", "write '{level: 2, min_count: 200}'")
        reject_unknown_keys(entry, set(SpikeLevelRule.__dataclass_fields__), file, at)
        rule = SpikeLevelRule(
            level=_level(entry, "level", None, file, at),
            min_count=require(entry, "min_count", int, file, at,
                              "give the number of distinct texts in the window"),
            min_ratio=_number(entry, "min_ratio", 0.0, file, at),
        )
        _at_least(rule.min_count, 1, file, f"{at}.min_count", "use a positive count")
        rules.append(rule)
    # The most severe matching rule wins, whatever order the file lists them in.
    return tuple(sorted(rules, key=lambda r: r.level))


def _parse_channels(data: Any, file: str | Path) -> tuple[ChannelOptions, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(file, "channels", f"must be a list, got {type(data).__name__}",
                          "write one '- name: ...' entry per channel")
    channels: list[ChannelOptions] = []
    for index, entry in enumerate(data):
        at = f"channels[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(file, at, "must be a mapping",
                              "write 'name:', 'kind:' and 'min_level:' under '-'")
        channel = parse_channel(entry, file, at)
        if any(c.name == channel.name for c in channels):
            raise ConfigError(file, f"{at}.name", f"duplicate channel name {channel.name!r}",
                              "give every channel a unique name")
        channels.append(channel)
    return tuple(channels)


def parse_channel(entry: dict, file: str | Path, at: str) -> ChannelOptions:
    """One channel entry, validated by the options model of its kind."""
    kinds = ", ".join(CHANNEL_OPTIONS)
    kind = require(entry, "kind", str, file, at, f"use one of: {kinds}")
    model = CHANNEL_OPTIONS.get(kind)
    if model is None:
        raise ConfigError(file, f"{at}.kind", f"unknown channel kind {kind!r}",
                          f"use one of: {kinds}")
    allowed = list(model.model_fields)
    for key in entry:
        if key in allowed:
            continue
        takes = f"kind {kind} takes: {', '.join(allowed)}"
        owners = [name for name, other in CHANNEL_OPTIONS.items() if key in other.model_fields]
        if owners:
            raise ConfigError(file, f"{at}.{key}", f"does not apply to kind {kind} (only to "
                              f"{', '.join(owners)})",
                              f"remove '{key}:' or set 'kind: {owners[0]}'; {takes}")
        close = difflib.get_close_matches(str(key), allowed, n=1)
        raise ConfigError(file, f"{at}.{key}", f"unknown field for kind {kind}",
                          (f"did you mean '{close[0]}'? " if close else "") + takes)
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        raise config_error(exc, file, at, model) from None
