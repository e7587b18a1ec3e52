"""What people do to an incident: 签收, 三同步 tracks, the official statement, the level,
resolve, close, silence. One function per action, called alike by `jingyu alerts ...`, the
duty console and its one-tap links; each is one transaction recorded with the person (and,
in `via`, how they acted: "console", "link …"). A change that does not fit the incident's
status raises IncidentError; an unknown incident, warehouse.incidents.NoSuchIncident.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from alerts.incidents import incident as domain
from alerts.incidents.handling import Desk, resolve_incident
from alerts.incidents.incident import Change
from warehouse.incidents import IncidentStore
from warehouse.records import IncidentState, Silence


def acknowledge(store: IncidentStore, incident_id: int, by: str, now: datetime,
                note: str = "", via: str = "") -> IncidentState:
    return _apply(store, incident_id, lambda i: domain.acknowledge(i, by, now, note, via))


def track(store: IncidentStore, incident_id: int, track_id: str, action: str, by: str,
          now: datetime, *, unit: str | None = None, note: str = "", via: str = ""
          ) -> IncidentState:
    """start | done | note on one line of 三同步 (legal | opinion | control)."""
    return _apply(store, incident_id, lambda i: domain.track(
        i, track_id, action, by, now, unit=unit, note=note, via=via))


def record_statement(store: IncidentStore, incident_id: int, at: datetime, by: str, *,
                     url: str | None = None, note: str = "", via: str = ""
                     ) -> IncidentState | None:
    """The official statement (or, after it, the progress report) the matcher missed."""
    return store.apply(incident_id, lambda i: domain.record_statement(
        i, at, by, url=url, note=note, via=via))


def change_level(store: IncidentStore, incident_id: int, level: int, by: str, now: datetime,
                 reason: str, via: str = "") -> IncidentState:
    return _apply(store, incident_id, lambda i: domain.change_level(i, level, by, now, reason,
                                                                     via))


def resolve(store: IncidentStore, desk: Desk, incident_id: int, by: str, now: datetime,
            note: str = "", via: str = "") -> IncidentState:
    """已处置, telling those the incident was routed to (see handling.resolve_incident)."""
    return resolve_incident(store.warehouse, desk, incident_id, by, now, note, via)


def close(store: IncidentStore, incident_id: int, by: str, now: datetime, note: str = "",
          via: str = "") -> IncidentState:
    return _apply(store, incident_id, lambda i: domain.close(i, by, now, note, via))


def merge(store: IncidentStore, first: int, second: int, by: str, now: datetime,
          note: str = "", via: str = "") -> IncidentState:
    """Two incidents are one happening: the earlier number carries on (higher level, both
    evidences, the earlier statement, the events joined); the later closes, pointing to it.
    A person's merge may undo a split (the grouping's and the system's may not): the split is
    lifted, in the audit trail."""
    keep, other = sorted((first, second))
    return store.merge(keep, other, lambda k, o: domain.merge(k, o, by, now, note, via),
                       by_hand=True)


def split(store: IncidentStore, incident_id: int, post_ids: list[int], by: str,
          now: datetime, note: str = "", via: str = "") -> IncidentState:
    """Posts of an incident that are another happening become a new incident (returned),
    with an event of their own, kept apart from the old one: the grouping never merges the
    two events again, nor the system the two incidents (only `merge` by a person)."""
    return store.split(incident_id, post_ids, now, lambda i, new_id, title: domain.split_off(
        i, post_ids, new_id, title, by, now, note, via))


def silence(store: IncidentStore, match: str, until: datetime, by: str, now: datetime,
            reason: str = "", long: bool = False) -> Silence:
    return store.add_silence(domain.new_silence(match, until, by, now, reason, long), now)


def _apply(store: IncidentStore, incident_id: int,
           decide: Callable[[IncidentState], Change]) -> IncidentState:
    changed = store.apply(incident_id, decide)
    assert changed is not None          # these transitions always change or refuse
    return changed
