"""Load every configuration file a monitoring cycle needs, once per cycle."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alerts.incidents.handling import Desk
from alerts.incidents.roster import EMPTY_ROSTER, DutyRoster, load_roster
from alerts.incidents.routing import Routing, load_routing
from alerts.settings import AlertSettings, parse_alert_settings
from collectors.records import SourceConfig
from collectors.sources import parse_sources
from flows.scoring import load_scoring
from jingyu.config import config_file, load_yaml
from transforms.places import EMPTY_GAZETTEER, Gazetteer, parse_jurisdictions
from transforms.rules import RuleSet, parse_rules
from transforms.scoring import ScoringSettings


@dataclass(frozen=True)
class CycleSettings:
    """sources.yaml + rules.yaml + alerts.yaml, validated. Re-read every cycle, so an edited
    rule or source takes effect on the next run without a restart."""

    sources: tuple[SourceConfig, ...]
    rules: RuleSet
    alerts: AlertSettings
    directory: Path | None
    routing: Routing = Routing()
    roster: DutyRoster = EMPTY_ROSTER
    places: Gazetteer = EMPTY_GAZETTEER
    scoring: ScoringSettings = ScoringSettings()

    @property
    def desk(self) -> Desk:
        """What incident handling needs: channels, routing.yaml and roster.yaml."""
        return Desk(settings=self.alerts, routing=self.routing, roster=self.roster)


def _parsed(name: str, parse, directory: str | Path | None):
    path = config_file(name, directory)
    return parse(load_yaml(path), path)


def load_rules(directory: str | Path | None = None) -> RuleSet:
    return _parsed("rules.yaml", parse_rules, directory)


def load_places(directory: str | Path | None = None) -> Gazetteer:
    """jurisdictions.yaml: which place names in a post route it to which jurisdiction."""
    return _parsed("jurisdictions.yaml", parse_jurisdictions, directory)


def load_cycle_settings(directory: str | Path | None = None) -> CycleSettings:
    def parsed(name: str, parse):
        return _parsed(name, parse, directory)

    alerts = parsed("alerts.yaml", parse_alert_settings)
    return CycleSettings(
        sources=tuple(parsed("sources.yaml", parse_sources)),
        rules=parsed("rules.yaml", parse_rules),
        alerts=alerts,
        directory=Path(directory) if directory else None,
        routing=load_routing(directory, alerts.duty_channel_names()),
        roster=load_roster(directory),
        places=load_places(directory),
        scoring=load_scoring(directory),
    )


def load_desk(directory: str | Path | None = None) -> Desk:
    """alerts.yaml, routing.yaml and roster.yaml: enough to handle incidents and the watchdog,
    without the sources and rules a monitoring cycle needs."""
    alerts = _parsed("alerts.yaml", parse_alert_settings, directory)
    return Desk(settings=alerts,
                routing=load_routing(directory, alerts.duty_channel_names()),
                roster=load_roster(directory))
