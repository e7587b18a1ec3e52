"""The figures an operator's monitoring scrapes (flows/metrics.py serves them to Prometheus),
read from the warehouse at each scrape: the run ledger, posts, alerts, the outbox and source
health are the truth whichever process wrote them (every flow run is its own process)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, case, func, select

from jingyu.timeutil import from_db
from warehouse.models import AlertRow, OutboxRow, Run, Source
from warehouse.records import HEALTH_KIND


@dataclass(frozen=True)
class SourceFigures:
    id: str
    enabled: bool
    last_success_age_s: float | None     # None: never fetched successfully
    consecutive_failures: int


@dataclass(frozen=True)
class Figures:
    cycles: dict[str, int]               # by status: ok, partial, failed, aborted, running
    cycle_seconds_sum: float             # over finished cycles
    cycle_seconds_count: int
    last_cycle_ended_at: datetime | None
    last_cycle_seconds: float | None
    last_cycle_status: str | None
    posts_stored: int                    # new posts stored by cycles, all time
    alerts: dict[int, int]               # opinion alerts by level 1-4 (系统告警 apart)
    notifications_pending: int           # not yet sent, never tried
    notifications_failed: int            # not yet sent, tried and kept for retry
    notifications_sent: int
    sources: tuple[SourceFigures, ...]
    health_alerts_open: int = 0          # 系统告警 not yet recovered


def read_figures(engine: Engine, now: datetime) -> Figures:
    with engine.connect() as conn:
        cycles = dict(conn.execute(select(Run.status, func.count()).group_by(Run.status)).all())
        finished = conn.execute(select(Run.started_at, Run.ended_at)
                                .where(Run.ended_at.is_not(None))).all()
        last = conn.execute(select(Run.started_at, Run.ended_at, Run.status)
                            .where(Run.ended_at.is_not(None))
                            .order_by(Run.ended_at.desc()).limit(1)).first()
        posts = conn.scalar(select(func.coalesce(func.sum(Run.posts_new), 0))) or 0
        alerts = dict(conn.execute(select(AlertRow.level, func.count())
                                   .where(AlertRow.kind != HEALTH_KIND)
                                   .group_by(AlertRow.level)).all())
        health_open = conn.scalar(select(func.count()).select_from(AlertRow).where(
            AlertRow.kind == HEALTH_KIND, AlertRow.status == "open")) or 0
        outbox = conn.execute(select(
            func.sum(case((OutboxRow.status == "sent", 1), else_=0)),
            func.sum(case(((OutboxRow.status != "sent") & (OutboxRow.attempts == 0), 1),
                          else_=0)),
            func.sum(case(((OutboxRow.status != "sent") & (OutboxRow.attempts > 0), 1),
                          else_=0)))).one()
        sources = conn.execute(select(Source.id, Source.enabled, Source.last_success_at,
                                      Source.consecutive_failures).order_by(Source.id)).all()
    durations = [(ended - started).total_seconds() for started, ended in finished]
    return Figures(
        cycles={str(k): int(v) for k, v in cycles.items()},
        cycle_seconds_sum=sum(durations), cycle_seconds_count=len(durations),
        last_cycle_ended_at=from_db(last.ended_at) if last else None,
        last_cycle_seconds=(last.ended_at - last.started_at).total_seconds() if last else None,
        last_cycle_status=last.status if last else None,
        posts_stored=int(posts),
        alerts={int(k): int(v) for k, v in alerts.items()},
        health_alerts_open=int(health_open),
        notifications_sent=int(outbox[0] or 0), notifications_pending=int(outbox[1] or 0),
        notifications_failed=int(outbox[2] or 0),
        sources=tuple(SourceFigures(
            id=row.id, enabled=bool(row.enabled),
            last_success_age_s=((now - from_db(row.last_success_at)).total_seconds()
                                 if row.last_success_at else None),
            consecutive_failures=int(row.consecutive_failures or 0)) for row in sources))
