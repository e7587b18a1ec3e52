"""`jingyu doctor`: is this installation ready to run unattended? Configuration, warehouse,
Prefect server and deployments, every channel (dry run), the charts' CJK font, and the duty
roster's cover for the next 24 hours. Each check says what it found and, when it fails, the fix.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jingyu.config import ConfigError, config_dir
from jingyu.display import one_line
from jingyu.timeutil import shanghai, utcnow


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_configuration(config_dir: str | None):
    """(check, the cycle's settings or None)."""
    from flows.settings import load_cycle_settings

    try:
        settings = load_cycle_settings(config_dir)
    except ConfigError as exc:
        return Check("configuration", False, str(exc)), None
    enabled = sum(s.enabled for s in settings.sources)
    channels = sum(c.enabled for c in settings.alerts.channels)
    where = settings.directory or config_dir()
    return Check("configuration", True,
                 f"{where}: {len(settings.sources)} sources ({enabled} enabled), "
                 f"{len(settings.rules.topics)} topics, {channels} channels enabled, "
                 f"{len(settings.roster.people)} people on the roster"), settings


def check_warehouse(database_url: str | None) -> Check:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from warehouse.db import (WarehouseUnavailable, current_revision, database_url as default,
                              head_revision, make_engine)

    url = database_url or default()
    try:
        parsed = make_url(url)
        shown = parsed.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - make_engine below says what is wrong with it
        parsed, shown = None, url
    if (parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database
            and parsed.database != ":memory:" and not Path(parsed.database).exists()):
        # Connecting would create an empty file: a doctor looks, it does not change things.
        return Check("warehouse", False, f"{shown}: no such file",
                     "check --database / JINGYU_DATABASE_URL (the first jingyu run or "
                     "jingyu db upgrade creates it)")
    try:
        engine = make_engine(url)
        try:
            current = current_revision(engine)
        finally:
            engine.dispose()
    except WarehouseUnavailable as exc:
        return Check("warehouse", False, str(exc), "set --database or JINGYU_DATABASE_URL")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Check("warehouse", False, f"{shown}: cannot reach it: {reason}",
                     "start the database, or check the URL and the account's rights")
    head = head_revision()
    if current is None:
        return Check("warehouse", False, f"{shown}: reachable but empty (no schema)",
                     "jingyu db upgrade (or the first jingyu run creates it)")
    if current != head:
        return Check("warehouse", False, f"{shown}: at revision {current}, this jingyu needs "
                     f"{head}", "jingyu db upgrade")
    return Check("warehouse", True, f"{shown}: reachable, schema at revision {head} (newest)")


def check_prefect(expected: Sequence[tuple[str, str]] | None = None) -> Check:
    """The Prefect API answers and has every scheduled deployment (flow/deployment name)."""
    import requests
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    if not api:
        return Check("prefect", False, "no Prefect server configured (PREFECT_API_URL is not "
                     "set): schedules need one",
                     "run `prefect server start` (deploy/jingyu-prefect.service), then "
                     "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`")
    try:
        answer = requests.get(f"{api.rstrip('/')}/health", timeout=5)
        answer.raise_for_status()
    except requests.RequestException as exc:
        return Check("prefect", False, f"the Prefect API at {api} does not answer: "
                     f"{type(exc).__name__}", "start the Prefect server "
                     "(systemctl start jingyu-prefect) or correct PREFECT_API_URL")
    if expected is None:
        from flows.schedule import SCHEDULED

        expected = [(s.flow.name, s.name) for s in SCHEDULED]
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = {(d.name, d.flow_id) for d in client.read_deployments()}
        flows = {f.id: f.name for f in client.read_flows()}
    present = {(flows.get(flow_id, "?"), name) for name, flow_id in found}
    missing = [f"{flow}/{name}" for flow, name in expected if (flow, name) not in present]
    if missing:
        return Check("prefect", False, f"{api} answers, but deployments are missing: "
                     f"{', '.join(missing)}",
                     "start `jingyu serve` (it registers them), or `prefect deploy --all` "
                     "for a worker")
    return Check("prefect", True, f"{api} answers; deployments present: "
                 f"{', '.join(f'{f}/{n}' for f, n in expected)}")


def check_channels(settings) -> list[Check]:
    from alerts.delivery.probe import ChannelUnreachable, dry_run

    checks = []
    for channel in settings.alerts.channels:
        name = f"channel {channel.name}"
        if not channel.enabled:
            continue
        try:
            checks.append(Check(name, True, f"{channel.kind}: {dry_run(channel)}"))
        except ChannelUnreachable as exc:
            checks.append(Check(name, False, f"{channel.kind}: {exc}",
                                "correct alerts.yaml or this process's environment; "
                                "alerts to this channel would not arrive"))
    if not checks:
        checks.append(Check("channels", False, "no channel is enabled in alerts.yaml: "
                            "alerts reach nobody", "add a channel to alerts.yaml"))
    return checks


def check_operators(settings, now: datetime) -> Check:
    """Is someone told of 系统告警 (dead sources, stopped cycles)? A channel of alerts.yaml
    with audience: operators; without one they go to the duty log channels (or nowhere).
    Says who of the roster's 运维 (units with the role operations) they @-mention now."""
    channels, fallback = settings.alerts.health_channels()
    if not fallback:
        kinds = {c.name: c.kind for c in settings.alerts.channels}
        on_duty = settings.roster.operators_on_duty(now)
        if on_duty:
            mention = "; they @-mention 运维 on duty now: " + "、".join(
                dict.fromkeys(d.person.name for d in on_duty))
        elif any("operations" in u.roles for u in settings.roster.units.values()):
            mention = "; nobody of the roster's 运维 (role operations) is on duty now"
        else:
            mention = ("; they @-mention nobody (no unit of roster.yaml has the role "
                       "operations)")
        return Check("operators", True, "系统告警 go to " + ", ".join(
            f"{name} ({kinds[name]})" for name in channels) + mention)
    instead = (f"they go to the duty channels that take every alert instead ({', '.join(channels)})"
               if channels else "they are sent NOWHERE (kept in the warehouse only)")
    return Check("operators", False,
                 f"alerts.yaml: channels: no enabled channel has 'audience: operators', so "
                 f"nobody who runs jingyu is told of a dead source or a stopped cycle; {instead}",
                 "add to alerts.yaml's channels an entry with 'audience: operators' (a robot "
                 "of the operators' group, or e-mail to them; see config/alerts.yaml)")


def check_health_alerts(database_url: str | None) -> Check:
    """The 系统告警 still open in the warehouse (read only; nothing is created)."""
    from warehouse.store import Warehouse

    warehouse = Warehouse(database_url, migrate=False)
    try:
        open_alerts = warehouse.open_health_alerts()
    finally:
        warehouse.close()
    if not open_alerts:
        return Check("系统告警", True, "none open: every source and the cycles are healthy")
    shown = "; ".join(f"#{a['id']} {one_line(a['title'])} (since "
                      f"{shanghai(a['first_detected_at']):%m-%d %H:%M})" for a in open_alerts[:8])
    more = f" and {len(open_alerts) - 8} more" if len(open_alerts) > 8 else ""
    return Check("系统告警", False, f"{len(open_alerts)} open: {shown}{more}",
                 "see jingyu sources (each failure's advice) and the console's 巡查 page; "
                 "the watchdog says when each recovers")


def check_font() -> Check:
    from reports.charts import rebuild_font_cache

    font, cache = rebuild_font_cache()
    if font is None:
        return Check("charts font", False, f"no CJK font installed (font list rebuilt: {cache});"
                     " chart labels fall back to English",
                     "apt-get install fonts-noto-cjk (scripts/setup.sh does), then run "
                     "jingyu doctor again")
    return Check("charts font", True, f"{font} (matplotlib's font list rebuilt: {cache})")


def check_roster(settings, now: datetime, hours: float = 24) -> Check:
    from alerts.incidents.roster import coverage_gaps

    roster, places = settings.roster, settings.places
    if not roster.people:
        return Check("roster", False, "no roster.yaml in the configuration directory: alerts "
                     "reach no one on duty", "write roster.yaml (see config/roster.yaml)")
    jurisdictions = list(places.jurisdictions) or list(roster.top_jurisdictions())
    gaps = coverage_gaps(roster, jurisdictions, now, hours)
    if gaps:
        shown = [f"{g.jurisdiction} {shanghai(g.starts):%m-%d %H:%M}-"
                 f"{shanghai(g.ends):%m-%d %H:%M}" for g in gaps[:8]]
        more = f" and {len(gaps) - 8} more" if len(gaps) > 8 else ""
        return Check("roster", False, f"nobody on duty (in the unit or above it) for: "
                     f"{'; '.join(shown)}{more}",
                     "add people to those shifts in roster.yaml (duty or overrides)")
    return Check("roster", True, f"every one of {len(jurisdictions)} jurisdictions has someone "
                 f"on duty for the next {hours:g} hours (checked every 5 minutes)")


def run_doctor(config_dir: str | None = None, database_url: str | None = None,
               now: datetime | None = None) -> list[Check]:
    """Every check, in the order an operator fixes things."""
    now = now or utcnow()
    configuration, settings = check_configuration(config_dir)
    warehouse = check_warehouse(database_url)
    checks = [configuration, warehouse, _guarded("prefect", check_prefect)]
    if settings is None:
        checks += [Check(name, False, "not checked: the configuration is invalid",
                         "fix the configuration first")
                   for name in ("channels", "operators", "roster")]
    else:
        checks += check_channels(settings)
        checks.append(check_operators(settings, now))
        checks.append(check_roster(settings, now))
    if warehouse.ok:
        checks.append(_guarded("系统告警", lambda: check_health_alerts(database_url)))
    checks.append(_guarded("charts font", check_font))
    return checks


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a check that breaks is a failed check
        return Check(name, False, f"the check itself failed: {type(exc).__name__}: {exc}")


def format_checks(checks: Sequence[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"        fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - failed} of {len(checks)} checks passed" +
                 ("" if not failed else f"; {failed} failed"))
    return "\n".join(lines)
