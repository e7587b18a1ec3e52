"""Reports on demand (`jingyu report`) and the daily brief flow, every day at 08:00 Shanghai."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from alerts.incidents.routing import load_routing
from flows.settings import load_places, load_rules
from jingyu.timeutil import shanghai, utcnow
from reports.blocks import Labels
from reports.daily import build_daily_brief
from reports.document import Document
from reports.handover import build_handover
from reports.incident import build_incident_report
from reports.render import to_markdown, write
from warehouse.store import Warehouse

DAILY_BRIEF_CRON = "0 8 * * *"
BRIEF_FORMATS = (".html", ".docx", ".md")


def load_labels(config_dir: str | Path | None = None) -> Labels:
    """Topic names from rules.yaml and jurisdiction names from jurisdictions.yaml."""
    return Labels(
        topics={topic_id: topic.name for topic_id, topic in load_rules(config_dir).topics.items()},
        jurisdictions={j_id: j.name
                       for j_id, j in load_places(config_dir).jurisdictions.items()})


def daily_brief_document(day: date, *, jurisdiction: str | None = None,
                         config_dir: str | Path | None = None, database_url: str | None = None,
                         now: datetime | None = None) -> Document:
    warehouse = Warehouse(database_url)
    try:
        return build_daily_brief(warehouse, day, jurisdiction=jurisdiction,
                                 labels=load_labels(config_dir),
                                 timers=load_routing(config_dir).timers, now=now or utcnow())
    finally:
        warehouse.close()


def handover_document(since: datetime, until: datetime, *, jurisdiction: str | None = None,
                      config_dir: str | Path | None = None, database_url: str | None = None,
                      now: datetime | None = None) -> Document:
    warehouse = Warehouse(database_url)
    try:
        return build_handover(warehouse, since, until, jurisdiction=jurisdiction,
                              labels=load_labels(config_dir),
                              timers=load_routing(config_dir).timers, now=now or utcnow())
    finally:
        warehouse.close()


def incident_report_document(incident_id: int, *, config_dir: str | Path | None = None,
                             database_url: str | None = None,
                             now: datetime | None = None) -> Document:
    """专报 of one incident (the console's 专报 button and `jingyu report incident N`);
    render it with reports.render.to_html / to_docx / to_markdown. Raises
    warehouse.incidents.NoSuchIncident for an unknown number."""
    warehouse = Warehouse(database_url)
    try:
        return build_incident_report(warehouse, incident_id, labels=load_labels(config_dir),
                                     timers=load_routing(config_dir).timers,
                                     now=now or utcnow())
    finally:
        warehouse.close()


@flow(name="daily-brief", log_prints=True)
def daily_brief(config_dir: str | None = None, database_url: str | None = None,
                day: str | None = None, jurisdiction: str | None = None,
                output_dir: str = "data/reports") -> dict[str, Any]:
    """Yesterday's brief (or `day`, YYYY-MM-DD) as HTML, Word and Markdown files, and as a
    Markdown artifact in the Prefect UI."""
    now = utcnow()
    chosen = date.fromisoformat(day) if day else shanghai(now).date() - timedelta(days=1)
    document = daily_brief_document(chosen, jurisdiction=jurisdiction, config_dir=config_dir,
                                    database_url=database_url, now=now)
    stem = f"daily-brief-{chosen.isoformat()}" + (f"-{jurisdiction}" if jurisdiction else "")
    paths = [str(write(document, Path(output_dir) / f"{stem}{ext}")) for ext in BRIEF_FORMATS]
    # Artifact keys allow lower-case letters, digits and dashes only.
    key = re.sub(r"[^a-z0-9-]+", "-", f"daily-brief-{jurisdiction or 'all'}".lower())
    create_markdown_artifact(markdown=to_markdown(document), key=key,
                             description=document.title)
    for path in paths:
        print(f"daily brief written: {path}")
    return {"day": chosen.isoformat(), "files": paths, "facts": document.facts}
