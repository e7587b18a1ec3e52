"""The monitor flow: one cycle of fetch -> score -> load -> detect -> deliver."""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.context import get_run_context
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

import collectors
from alerts.incidents.handling import raise_and_track, tend_incidents, watch
from alerts.delivery.outbox import deliver_pending
from console.links import links_for
from collectors.http import HttpPolicy, PoliteClient
from collectors.records import FETCH_ERROR, FetchResult, RawPost, SourceConfig, SourceCursor
from flows.evidence import keep_evidence
from flows.present import as_markdown, format_run
from flows.settings import CycleSettings, load_cycle_settings
from jingyu.progress import progress
from jingyu.timeutil import utcnow
from transforms.records import ScoredPost
from transforms.scoring import Scorer
from warehouse.db import WarehouseUnavailable, connection_lost
from warehouse.store import Warehouse

# Tasks of a cycle running at once. Fetching waits on the network and on politeness; scoring
# takes one batch at a time anyway (transforms.scoring's lane). Unbounded, Prefect ran one
# thread per task: 400 for 200 sources.
CYCLE_THREADS = 16

@lru_cache(maxsize=8)
def _warehouse(url: str | None) -> Warehouse:
    """One engine per database per process: tasks of a run share its connection pool."""
    return Warehouse(url)


class WarehouseWatch:
    """Whether this cycle lost its warehouse. The first loss is kept; after it, the cycle's
    tasks leave the database alone (each would fail the same way, with its own traceback),
    and the sources not stored stay due for the next cycle."""

    def __init__(self) -> None:
        self.lost: str | None = None

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run the block; a loss of the warehouse inside it is recorded instead of raised."""
        try:
            yield
        except Exception as exc:
            reason = connection_lost(exc)
            if reason is None:
                raise
            if self.lost is None:
                self.lost = reason


@task(name="fetch-source", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2,
      task_run_name="fetch-{source.id}")
def fetch_source(source: SourceConfig, cursor: SourceCursor | None,
                 client: PoliteClient, now: datetime | None = None) -> FetchResult:
    """`now`: the cycle's clock when it runs at a given time, stamped as the fetch time."""
    result = collectors.fetch(source, cursor or SourceCursor(), client, now)
    logger = get_run_logger()
    if result.status == FETCH_ERROR:
        logger.warning("source %s failed: %s", source.id, result.error)
    else:
        logger.info("source %s: %s, %d items", source.id, result.status, len(result.posts))
    return result


# A fetch this large is an import (an export file, a crawler's output folder): scored in
# chunks with a progress bar on a terminal (jingyu.progress; quiet in a service or a pipe).
IMPORT_PROGRESS_MIN = 500
IMPORT_CHUNK = 256


def score_with_progress(scorer: Scorer, source_id: str, posts: Sequence[RawPost]
                        ) -> list[ScoredPost]:
    if len(posts) < IMPORT_PROGRESS_MIN:
        return scorer.score_many(posts)
    scored: list[ScoredPost] = []
    with progress(f"importing {source_id}", len(posts)) as done:
        for start in range(0, len(posts), IMPORT_CHUNK):
            chunk = posts[start:start + IMPORT_CHUNK]
            scored += scorer.score_many(chunk)
            done(len(chunk))
    return scored


@task(name="score-and-store", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2,
      task_run_name="store-{result.source_id}")
def score_and_store(result: FetchResult, scorer: Scorer, database_url: str | None,
                    run_id: int, scheduled_at: datetime,
                    watch: WarehouseWatch, now: datetime | None = None) -> dict[str, Any]:
    """Score and store one source's fetch: its new posts and the seconds storing took
    (stored False: not stored, the warehouse was lost)."""
    done: dict[str, Any] = {"stored": False, "new": 0, "fetch_s": result.elapsed_s,
                            "store_s": 0.0}
    if watch.lost:
        return done
    scored = score_with_progress(scorer, result.source_id, result.posts)
    started = time.perf_counter()
    with watch.guard():
        if not watch.lost:
            done["new"] = _warehouse(database_url).store_fetch(run_id, result, scored,
                                                               now or utcnow(), scheduled_at)
            done["stored"] = True
    done["store_s"] = time.perf_counter() - started
    return done


@task(name="detect-alerts", cache_policy=NO_CACHE, retries=1)
def detect_alerts(settings: CycleSettings, database_url: str | None, run_id: int,
                  now: datetime, watch: WarehouseWatch) -> list[dict[str, Any]]:
    labels = {topic_id: topic.name for topic_id, topic in settings.rules.topics.items()}
    with watch.guard():
        recorded = raise_and_track(_warehouse(database_url), settings.desk, now, run_id, labels)
        return [{"alert_id": r.alert_id, "outcome": r.alert_outcome} for r in recorded]
    return []


@task(name="tend-incidents", cache_policy=NO_CACHE)
def tend(settings: CycleSettings, database_url: str | None, now: datetime,
         warehouse_watch: WarehouseWatch) -> dict[str, int]:
    """Timers and reminders of incidents, and source health (系统告警 for the operators),
    after detection, before delivery."""
    report: dict[str, int] = {}
    with warehouse_watch.guard():
        warehouse = _warehouse(database_url)
        report = tend_incidents(warehouse, settings.desk, now)
        health = watch(warehouse, settings.desk, now, cycles=False)
        report["health_alerts"] = sum(r.alert_outcome != "unchanged" for r in health.raised)
        report["health_recovered"] = len(health.recovered)
        if health.fallback and health.raised:
            get_run_logger().warning(
                "alerts.yaml: no channel has 'audience: operators': %d 系统告警 sent to %s "
                "instead (fix: add an operators channel, see config/alerts.yaml)",
                len(health.raised), ", ".join(health.channels) or "NO channel")
    if any(report.values()):
        get_run_logger().warning("incidents: %s", report)
    return report


@task(name="deliver-notifications", cache_policy=NO_CACHE)
def deliver_notifications(settings: CycleSettings, database_url: str | None,
                          now: datetime, watch: WarehouseWatch) -> dict[str, Any]:
    report: dict[str, Any] = {"sent": 0, "failed": 0, "errors": []}
    with watch.guard():
        warehouse = _warehouse(database_url)
        console = settings.alerts.console
        links = links_for(warehouse, console.base_url, console.link_hours, console.secret_env,
                          now)
        report = deliver_pending(warehouse, settings.alerts, now, links)
    if report["failed"]:
        get_run_logger().warning("%d notifications not delivered, kept for retry: %s",
                                 report["failed"], "; ".join(report["errors"][:3]))
    return report


@flow(name="monitor", log_prints=True, task_runner=ThreadPoolTaskRunner(CYCLE_THREADS))
def monitor(config_dir: str | None = None, database_url: str | None = None,
            force: bool = False, now: datetime | None = None,
            per_host_delay_s: float = 1.0) -> State:
    """One monitoring cycle over every due source. The result is the run-ledger entry; the
    run's state in Prefect says whether sources failed (see cycle_state).

    per_host_delay_s spaces requests to one host (politeness); the demo, whose feeds all
    come from 127.0.0.1, lowers it.
    """
    logger = get_run_logger()
    clock = time.perf_counter()
    settings = load_cycle_settings(Path(config_dir) if config_dir else None)
    started = now or utcnow()
    scheduled = now or _scheduled_start(started)
    try:
        warehouse = _warehouse(database_url)
        warehouse.sync_sources(settings.sources)
        due = (list(settings.sources) if force
               else warehouse.due_sources(settings.sources, scheduled))
        due = [s for s in due if s.enabled]
        run_id = warehouse.start_run(started, flow_run_id=_flow_run_id(),
                                     due=[s.id for s in due])
        cursors = warehouse.cursors()
    except Exception as exc:
        reason = connection_lost(exc)
        if reason is None:
            raise
        raise WarehouseUnavailable(f"lost before the cycle began: {reason}") from None
    try:
        logger.info("run %d: %d of %d sources due", run_id, len(due), len(settings.sources))

        scorer = Scorer(settings.rules, settings.scoring, places=settings.places)
        watch = WarehouseWatch()
        errors: list[str] = []
        timings = CycleTimings(prepare_s=time.perf_counter() - clock)
        sources_started = time.perf_counter()
        stored_ids: list[str] = []
        posts_stored = 0
        with PoliteClient(HttpPolicy(per_host_delay_s=per_host_delay_s)) as client:
            stores = []
            for source in due:
                # A cycle run at a given time (a replay) fetches and stores at that time too,
                # so its detection sees what it fetched; a live cycle uses the wall clock.
                fetched = fetch_source.submit(source, cursors.get(source.id), quote(client), now)
                stores.append((source, score_and_store.submit(fetched, quote(scorer), database_url,
                                                              run_id, scheduled, quote(watch),
                                                              now)))
            for source, stored in stores:
                try:
                    done = stored.result()
                except Exception as exc:  # the source's posts stay unstored, its cursor too
                    errors.append(f"{source.id}: could not store: {type(exc).__name__}: {exc}")
                    continue
                timings.add_source(done)
                if done["stored"]:
                    stored_ids.append(source.id)
                    posts_stored += done["new"]
            timings.politeness_wait_s = client.waited_s
        timings.sources_s = time.perf_counter() - sources_started
        timings.score_s = scorer.busy_s

        alerts: list[dict[str, Any]] = []
        delivery: dict[str, Any] = {"sent": 0, "failed": 0, "errors": []}
        if not watch.lost:
            with timings.stage("detect_s"):
                try:
                    alerts = detect_alerts(quote(settings), database_url, run_id, now or utcnow(),
                                           quote(watch))
                except Exception as exc:
                    errors.append(f"alert detection failed: {type(exc).__name__}: {exc}")
        if not watch.lost:
            with timings.stage("tend_s"):
                try:  # timers and source health, even when detection failed
                    tend(quote(settings), database_url, now or utcnow(), quote(watch))
                except Exception as exc:
                    errors.append(f"incident timers / watchdog failed: {type(exc).__name__}: {exc}")
        if not watch.lost:
            with timings.stage("deliver_s"):
                try:  # deliver even when detection failed: older notifications may still be pending
                    delivery = deliver_notifications(quote(settings), database_url, now or utcnow(),
                                                     quote(watch))
                except Exception as exc:
                    errors.append(f"delivery failed: {type(exc).__name__}: {exc}")

        if not watch.lost:
            try:  # 固证 last: bounded, and nothing waits on it
                with watch.guard():
                    kept = keep_evidence(warehouse, now or utcnow())
                    if any(kept.values()):
                        logger.info("evidence: %d pages kept, %d failed", kept["kept"],
                                    kept["failed"])
            except Exception as exc:
                errors.append(f"evidence keeping failed: {type(exc).__name__}: {exc}")

        alerts_new = sum(1 for a in alerts if a["outcome"] != "unchanged")
        ended = utcnow() if now is None else now
        if watch.lost:
            errors.insert(0, f"warehouse lost during the cycle: {watch.lost}")
            summary = _close_after_loss(warehouse, run_id, started, ended, due, stored_ids,
                                        posts_stored, alerts_new, delivery["sent"], errors)
            summary["warehouse_lost"] = watch.lost
            logger.error("run %d failed: the warehouse was lost (%s); %d of %d due sources stored "
                         "before it", run_id, watch.lost, len(stored_ids), len(due))
        else:
            summary = warehouse.finish_run(run_id, ended, alerts_new=alerts_new,
                                           notifications_sent=delivery["sent"], errors=errors)
            logger.info("run %d %s: %d/%d sources ok, %d new posts, %d new alerts, %d sent",
                        run_id, summary["status"], summary["sources_ok"], summary["sources_total"],
                        summary["posts_new"], summary["alerts_new"], summary["notifications_sent"])
        summary["alerts"] = alerts
        summary["notifications_failed"] = delivery["failed"]
        timings.wall_s = time.perf_counter() - clock
        summary["timings"] = timings.as_dict()
        create_markdown_artifact(markdown=as_markdown(format_run(summary)),
                                 key="monitor-run-summary",
                                 description=f"run {run_id}: {summary['status']}")
        return cycle_state(summary)
    except BaseException as exc:
        # Stopped by a signal (Prefect's TerminationSignal on SIGTERM, KeyboardInterrupt on
        # Ctrl-C) or by a bug: the ledger says so at once instead of 'running' until found
        # stale; the cursors of sources not yet stored did not move.
        why = ((f"stopped by {exc}" if str(exc) else "stopped by a signal")
               if not isinstance(exc, Exception)
               else f"stopped by {type(exc).__name__}: {exc}")
        warehouse.abort_run(run_id, utcnow(), f"{why} before the cycle finished")
        raise


# After losing the warehouse, the cycle tries to close its run for this long (a database
# restart or fail-over takes seconds); after that the next cycle settles the run.
CLOSE_AFTER_LOSS_S = 15.0


def _close_after_loss(warehouse: Warehouse, run_id: int, started: datetime, ended: datetime,
                      due: list[SourceConfig], stored_ids: list[str], posts_stored: int,
                      alerts_new: int, sent: int, errors: list[str]) -> dict[str, Any]:
    """The summary of a cycle that lost its warehouse: the run closed as failed when the
    warehouse answers again soon, else what this process knows (ledger_closed False)."""
    deadline = time.monotonic() + CLOSE_AFTER_LOSS_S
    pause = 1.0
    while True:
        try:
            summary = warehouse.finish_run(run_id, ended, alerts_new=alerts_new,
                                           notifications_sent=sent, errors=errors)
            summary["ledger_closed"] = True
            return summary
        except Exception as exc:
            if connection_lost(exc) is None:
                raise
        if time.monotonic() + pause > deadline:
            break
        time.sleep(pause)
        pause *= 2
    stored = set(stored_ids)
    not_stored = [s.id for s in due if s.id not in stored]
    if not_stored:
        errors.append(f"{len(not_stored)} of {len(due)} due sources not stored (fetched again "
                      f"next cycle): {', '.join(not_stored[:20])}"
                      f"{f' and {len(not_stored) - 20} more' if len(not_stored) > 20 else ''}")
    return {"run_id": run_id, "status": "failed", "started_at": started, "ended_at": ended,
            "sources_total": len(due), "sources_ok": len(stored_ids),
            "sources_failed": len(not_stored), "posts_new": posts_stored,
            "alerts_new": alerts_new, "notifications_sent": sent, "errors": errors,
            "ledger_closed": False}


@dataclass
class CycleTimings:
    """Where a cycle's time went, in seconds. wall_s and sources_s (fetch, score and store of
    every due source) are elapsed time; fetch_s, politeness_wait_s (part of fetch_s) and
    store_s are summed over the sources, which overlap in threads; score_s is the time the
    scorer was busy (one batch at a time, so it is elapsed time too)."""

    wall_s: float = 0.0
    prepare_s: float = 0.0       # configuration, run ledger, the scorer's models
    sources_s: float = 0.0
    fetch_s: float = 0.0
    politeness_wait_s: float = 0.0
    score_s: float = 0.0
    store_s: float = 0.0
    detect_s: float = 0.0
    tend_s: float = 0.0
    deliver_s: float = 0.0

    def add_source(self, stored: dict[str, Any]) -> None:
        self.fetch_s += stored["fetch_s"]
        self.store_s += stored["store_s"]

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, name, getattr(self, name) + time.perf_counter() - started)

    def as_dict(self) -> dict[str, float]:
        return {name: round(value, 3) for name, value in asdict(self).items()}


def cycle_state(summary: dict[str, Any]) -> State:
    """Failed for a failed cycle, Completed named Partial when some sources failed (not plain
    green: a dead source must show in the Prefect UI), else Completed. The summary is the
    state's data either way."""
    failed, total = summary["sources_failed"], summary["sources_total"]
    if summary["status"] == "failed":
        return Failed(data=summary, message="; ".join(summary["errors"][:3]) or "cycle failed")
    if summary["status"] == "partial":
        return Completed(data=summary, name="Partial",
                         message=f"{failed} of {total} sources failed")
    return Completed(data=summary, message=f"{total} sources ok")


def run_cycle(**parameters: Any) -> dict[str, Any]:
    """One cycle in this process (`jingyu run`, the demo, benchmarks): its run-ledger entry,
    failed or not. An exception that ended the flow is raised again."""
    summary = monitor(**parameters, return_state=True).result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        raise summary
    return summary


def _scheduled_start(started: datetime) -> datetime:
    """When the schedule meant this cycle to start (Prefect's expected start), else when it
    started: a cycle that waited behind a long one still counts from its slot, so the next
    cycle on time finds its sources due."""
    try:
        expected = get_run_context().flow_run.expected_start_time
    except Exception:  # called outside a flow run (should not happen)
        return started
    if expected is None:
        return started
    return min(datetime.fromtimestamp(expected.timestamp(), tz=timezone.utc), started)


def _flow_run_id() -> str | None:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # called outside a flow run (should not happen)
        return None
