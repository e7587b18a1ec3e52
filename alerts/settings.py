"""Parse config/alerts.yaml: detector thresholds, warning levels and delivery channels."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from alerts.records import LEVELS
from jingyu.config import ConfigError, config_dir, load_yaml, require

CHANNEL_KINDS = ("console", "jsonl", "webhook")
LEVEL_FIX = "use 1 (I级 红色, most severe) to 4 (IV级 蓝色)"


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
    """How a surge of negative police-related posts is told apart from the usual flow."""

    enabled: bool = True
    window_minutes: int = 60
    baseline_windows: int = 24
    min_count: int = 5
    z_threshold: float = 3.0
    ratio_threshold: float = 3.0
    min_std: float = 1.0               # floor on the baseline spread: zeros must not make 2 a spike
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
    def lookback(self) -> timedelta:
        """How far back the posts handed to the detector must reach (latest + baseline windows)."""
        return self.window * (self.baseline_windows + 1)


@dataclass(frozen=True)
class ChannelSettings:
    """One delivery channel; it receives alerts whose level number is <= min_level."""

    name: str
    kind: str
    min_level: int = 4
    enabled: bool = True
    path: str | None = None            # jsonl: file to append to
    url: str | None = None             # webhook: where to POST
    timeout_seconds: float = 10.0      # webhook: a hung receiver must not stall the 5-minute cycle


@dataclass(frozen=True)
class AlertSettings:
    """Everything in config/alerts.yaml."""

    sensitive_item: SensitiveItemSettings
    spike: SpikeSettings
    channels: tuple[ChannelSettings, ...]

    def channels_for(self, level: int) -> tuple[str, ...]:
        """Names of the enabled channels that must receive an alert of this level."""
        return tuple(c.name for c in self.channels if c.enabled and level <= c.min_level)


def load_alert_settings(path: str | Path | None = None) -> AlertSettings:
    """Read and validate alerts.yaml (default: the config directory's alerts.yaml)."""
    path = Path(path) if path is not None else config_dir() / "alerts.yaml"
    return parse_alert_settings(load_yaml(path), path)


def parse_alert_settings(data: Any, file: str | Path) -> AlertSettings:
    """Validate the parsed YAML of alerts.yaml; any problem is a ConfigError naming the field."""
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", "must be a mapping",
                          "write 'sensitive_item:', 'spike:' and 'channels:' sections")
    _reject_unknown(data, {"sensitive_item", "spike", "channels"}, file, "")
    return AlertSettings(
        sensitive_item=_parse_sensitive_item(_section(data, "sensitive_item", file), file),
        spike=_parse_spike(_section(data, "spike", file), file),
        channels=_parse_channels(data.get("channels"), file),
    )


def _section(data: dict, key: str, file: str | Path) -> dict:
    """An optional mapping section; absent means all defaults."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(file, key, f"must be a mapping, got {type(value).__name__}",
                          f"indent the '{key}' settings under '{key}:'")
    return value


def _reject_unknown(mapping: dict, known: set[str], file: str | Path, where: str) -> None:
    # A misspelt key would otherwise silently fall back to its default.
    for key in mapping:
        if key not in known:
            field = f"{where}.{key}" if where else str(key)
            raise ConfigError(file, field, "unknown setting",
                              f"use one of: {', '.join(sorted(known))}")


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
    _reject_unknown(data, set(SensitiveItemSettings.__dataclass_fields__), file, where)
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
    _reject_unknown(data, set(SpikeSettings.__dataclass_fields__), file, where)
    settings = SpikeSettings(
        enabled=_optional(data, "enabled", bool, defaults.enabled, file, where),
        window_minutes=_optional(data, "window_minutes", int, defaults.window_minutes, file,
                                 where),
        baseline_windows=_optional(data, "baseline_windows", int, defaults.baseline_windows,
                                   file, where),
        min_count=_optional(data, "min_count", int, defaults.min_count, file, where),
        z_threshold=_number(data, "z_threshold", defaults.z_threshold, file, where),
        ratio_threshold=_number(data, "ratio_threshold", defaults.ratio_threshold, file, where),
        min_std=_number(data, "min_std", defaults.min_std, file, where),
        ignore_official=_optional(data, "ignore_official", bool, defaults.ignore_official,
                                  file, where),
        levels=(_parse_level_rules(data["levels"], file) if data.get("levels") is not None
                else defaults.levels),
        default_level=_level(data, "default_level", defaults.default_level, file, where),
    )
    _at_least(settings.window_minutes, 1, file, f"{where}.window_minutes",
              "give the window length in minutes, e.g. 60")
    _at_least(settings.baseline_windows, 2, file, f"{where}.baseline_windows",
              "compare with at least 2 earlier windows (24 hourly windows = one day)")
    _at_least(settings.min_count, 1, file, f"{where}.min_count",
              "require at least 1 distinct text, e.g. 5")
    _at_least(settings.min_std, 0.1, file, f"{where}.min_std",
              "keep a floor of about 1.0 so a silent baseline does not turn 2 posts into a spike")
    _at_least(settings.ratio_threshold, 1.0, file, f"{where}.ratio_threshold",
              "a spike is at least as large as the baseline mean, e.g. 3.0")
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
        _reject_unknown(entry, set(SpikeLevelRule.__dataclass_fields__), file, at)
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


def _parse_channels(data: Any, file: str | Path) -> tuple[ChannelSettings, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(file, "channels", f"must be a list, got {type(data).__name__}",
                          "write one '- name: ...' entry per channel")
    channels: list[ChannelSettings] = []
    for index, entry in enumerate(data):
        at = f"channels[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(file, at, "must be a mapping",
                              "write 'name:', 'kind:' and 'min_level:' under '-'")
        _reject_unknown(entry, set(ChannelSettings.__dataclass_fields__), file, at)
        name = require(entry, "name", str, file, at,
                       "give the channel a unique name; quote names YAML reads as true/false "
                       "such as 'off' or 'no'")
        if any(c.name == name for c in channels):
            raise ConfigError(file, f"{at}.name", f"duplicate channel name {name!r}",
                              "give every channel a unique name")
        kind = require(entry, "kind", str, file, at, f"use one of: {', '.join(CHANNEL_KINDS)}")
        if kind not in CHANNEL_KINDS:
            raise ConfigError(file, f"{at}.kind", f"unknown channel kind {kind!r}",
                              f"use one of: {', '.join(CHANNEL_KINDS)}")
        path = url = None
        if kind == "jsonl":
            path = require(entry, "path", str, file, at, "give the file to append alerts to")
        if kind == "webhook":
            url = require(entry, "url", str, file, at, "give the http(s) URL to POST alerts to")
            if not url.startswith(("http://", "https://")):
                raise ConfigError(file, f"{at}.url", f"not an http(s) URL: {url!r}",
                                  "start the URL with http:// or https://")
        for key, owner in (("path", "jsonl"), ("url", "webhook")):
            if entry.get(key) is not None and kind != owner:
                raise ConfigError(file, f"{at}.{key}", f"only applies to kind {owner}",
                                  f"remove '{key}:' or set 'kind: {owner}'")
        timeout = _number(entry, "timeout_seconds", 10.0, file, at)
        if timeout <= 0:
            raise ConfigError(file, f"{at}.timeout_seconds", f"must be positive, got {timeout}",
                              "use a few seconds, e.g. 10")
        channels.append(ChannelSettings(
            name=name,
            kind=kind,
            min_level=_level(entry, "min_level", 4, file, at),
            enabled=_optional(entry, "enabled", bool, True, file, at),
            path=path,
            url=url,
            timeout_seconds=timeout,
        ))
    return tuple(channels)
