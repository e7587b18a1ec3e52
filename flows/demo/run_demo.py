"""`jingyu demo`: serve the bundled feeds locally, run one monitor cycle, summarise it."""
from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import yaml

from collectors.replay import FeedReplayServer, Route
from flows.demo.data import demo_sources, render_demo_feeds
from flows.demo.history import HISTORY_DAYS, seed_history
from flows.monitor import run_cycle
from flows.present import format_alerts, format_run, format_sources
from flows.settings import load_cycle_settings
from jingyu.config import config_file, load_yaml
from jingyu.progress import progress
from jingyu.timeutil import SHANGHAI, utcnow
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse


def prepare_config(workdir: Path, base_url: str, console_url: str | None = None) -> Path:
    """A config directory for the demo: its sources, the shipped rules, local-only channels;
    with `console_url`, the notifications carry one-tap links to the console there."""
    config = workdir / "config"
    config.mkdir(parents=True, exist_ok=True)
    sources = {"sources": demo_sources(base_url)}
    (config / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True),
                                         encoding="utf-8")
    # The shipped roster is fictional 青川市 staff: in the demo they are who is on duty, so
    # that notifications name recipients and carry their 签收 links.
    for name in ("rules.yaml", "jurisdictions.yaml", "roster.yaml"):
        shutil.copyfile(config_file(name), config / name)
    alerts = load_yaml(config_file("alerts.yaml"))
    alerts["channels"] = [
        {"name": "console", "kind": "console", "min_level": 4},
        {"name": "duty-log", "kind": "jsonl", "min_level": 4,
         "path": str((workdir / "notifications.jsonl").resolve())},
        # 系统告警 (a dead demo feed) for whoever runs jingyu, apart from duty staff's alerts.
        {"name": "ops-log", "kind": "jsonl", "audience": "operators",
         "path": str((workdir / "operators.jsonl").resolve())},
    ]
    if console_url:
        alerts["console"] = {**(alerts.get("console") or {}), "base_url": console_url}
    (config / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True),
                                        encoding="utf-8")
    return config


def run_demo(workdir: str | Path = "data/demo", console_port: int | None = None) -> str:
    """Run the demo into a fresh SQLite warehouse under `workdir`; return the summary text.
    With `console_port`, notifications link to the console at http://127.0.0.1:PORT."""
    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    database_url = f"sqlite:///{(workdir / 'jingyu-demo.db').resolve()}"
    now = utcnow()
    routes = {path: Route(body=body, content_type=ctype)
              for path, (body, ctype) in render_demo_feeds(now).items()}
    with FeedReplayServer(routes) as server, progress("demo set-up", 2, unit="steps") as step:
        config = prepare_config(workdir, server.url(""),
                                f"http://127.0.0.1:{console_port}" if console_port else None)
        history = seed_demo_history(config, database_url, now)
        step(1)
        summary = run_cycle(config_dir=str(config), database_url=database_url, force=True,
                            per_host_delay_s=0.02)
        step(1)
    return summarise(summary, Warehouse(database_url), workdir, history)


def seed_demo_history(config: Path, database_url: str, now: datetime) -> int:
    """A synthetic week before the demo's cycle, on its social and forum sources."""
    sources = load_cycle_settings(config).sources
    social = [s for s in sources if {"social", "forum"} & set(s.tags)]
    warehouse = Warehouse(database_url)
    try:
        warehouse.sync_sources(sources)
        return seed_history(warehouse, social, now)
    finally:
        warehouse.close()


def summarise(summary: dict, warehouse: Warehouse, workdir: Path, history: int = 0) -> str:
    counts = warehouse.post_counts(since=summary["started_at"])
    posts, police = counts["posts"], counts["police_related"]
    share = f"{police / posts:.0%}" if posts else "-"
    polarity = counts["polarity"]
    alerts = warehouse.alerts()
    store = IncidentStore(warehouse)
    incidents = [i for i in store.incidents(limit=20) if i.merged_into is None]
    lines = [
        "",
        "==== jingyu demo: one monitoring cycle on the bundled sample feeds ====",
        format_run(summary),
        "",
        "Sources (health):",
        format_sources(warehouse.source_health(utcnow())),
        "",
        f"History: {history} synthetic posts over the {HISTORY_DAYS} days before this cycle, "
        "so the spike detector knows what an ordinary day looks like",
        f"Posts stored this cycle: {posts}; police-related (涉警): {police} ({share})",
        f"Sentiment: negative {polarity.get('negative', 0)}, neutral {polarity.get('neutral', 0)},"
        f" positive {polarity.get('positive', 0)}",
        "",
        f"Alerts raised: {len(alerts)}",
        format_alerts(alerts),
        "",
        f"Incidents: {len(incidents)} (alerts about one real-world event share one incident)",
        *(f"  #{i.id} {i.title[:60]}  ({len(store.alerts_of(i.id))} alerts; "
          + (_statement(i.official_statement_at, i.opened_at) if i.official_statement_at
             else "no official statement yet") + ")"
          for i in incidents),
        "",
        f"Warehouse: {warehouse.url}",
        f"Notifications written to: {(workdir / 'notifications.jsonl').resolve()}",
        "Query it:  jingyu alerts --database " + warehouse.url,
    ]
    return "\n".join(lines)


def _statement(at: datetime, opened: datetime) -> str:
    """When the police spoke, against detection: "official statement 21:11, 20 min before
    detection"."""
    minutes = round((at - opened).total_seconds() / 60)
    when = (f"{-minutes} min before detection" if minutes < 0 else
            f"{minutes} min after detection")
    return f"official statement {at.astimezone(SHANGHAI):%H:%M}, {when}"
