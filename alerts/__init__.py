"""Alerts: detect what duty staff must see, handle it as an incident, and deliver notifications.

Three stages, one sub-package each; imports point one way, incidents -> delivery -> detection:
- alerts.detection: spikes, surges and sensitive items -> Alert records;
- alerts.incidents: the incident (a pure domain: incident.py) and people's actions on it,
  each cycle's handling; timers, 三同步, routing, the roster, notices, watchdog;
- alerts.delivery: render, the channel registry and channels, the outbox pipeline.
alerts.levels (the four warning levels) and alerts.settings (config/alerts.yaml) serve all three.
"""
