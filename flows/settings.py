"""Load every configuration file a monitoring cycle needs, once per cycle."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alerts.settings import AlertSettings, parse_alert_settings
from collectors.records import SourceConfig
from collectors.sources import parse_sources
from jingyu.config import config_file, load_yaml
from transforms.rules import RuleSet, parse_rules


@dataclass(frozen=True)
class CycleSettings:
    """sources.yaml + rules.yaml + alerts.yaml, validated. Re-read every cycle, so an edited
    rule or source takes effect on the next run without a restart."""

    sources: tuple[SourceConfig, ...]
    rules: RuleSet
    alerts: AlertSettings
    directory: Path | None


def _parsed(name: str, parse, directory: str | Path | None):
    path = config_file(name, directory)
    return parse(load_yaml(path), path)


def load_rules(directory: str | Path | None = None) -> RuleSet:
    return _parsed("rules.yaml", parse_rules, directory)


def load_cycle_settings(directory: str | Path | None = None) -> CycleSettings:
    def parsed(name: str, parse):
        return _parsed(name, parse, directory)

    return CycleSettings(
        sources=tuple(parsed("sources.yaml", parse_sources)),
        rules=parsed("rules.yaml", parse_rules),
        alerts=parsed("alerts.yaml", parse_alert_settings),
        directory=Path(directory) if directory else None,
    )
