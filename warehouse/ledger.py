"""The run ledger's accounts: which process runs a cycle, whether it is still alive, and the
true counts of a run closed without its process (killed, or its warehouse lost)."""
from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collectors.records import FETCH_ERROR
from jingyu.timeutil import as_utc_naive, from_db
from warehouse.models import Post, Run, RunSource

# A run still 'running' this long after it started is settled even when its process cannot
# be checked (another host, or no /proc): no cycle takes an hour.
STALE_RUN_AFTER = timedelta(hours=1)
NAMES_SHOWN = 20


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), None elsewhere or
    when there is no such process. With the pid it names one process for good: a pid the
    kernel has handed to another process has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: fields are counted after it.
    return stat.rsplit(")", 1)[1].split()[19]


def process_identity() -> str:
    """'host:pid:start' of this process, stored in runs.owner."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or ''}"


def process_gone(owner: str | None) -> bool:
    """True when `owner` (a process_identity) is a process of this host that no longer runs.
    False when it runs, or when this host cannot tell (another host, no owner recorded)."""
    if not owner:
        return False
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid, started = int(parts[1]), parts[2]
    if started and Path("/proc/self/stat").exists():
        return _start_ticks(pid) != started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:   # alive, another user's
        return False
    return False


def orphaned_runs(session: Session, now: datetime) -> list[Run]:
    """Runs still 'running' whose process is gone, or that started over STALE_RUN_AFTER ago."""
    running = session.scalars(select(Run).where(Run.status == "running")).all()
    return [run for run in running
            if process_gone(run.owner) or from_db(run.started_at) < now - STALE_RUN_AFTER]


def settle(session: Session, run: Run, now: datetime, why: str) -> None:
    """Close a run its process left open, with what really happened: the sources it stored
    (from run_sources), the posts it stored (posts.run_id), and the due sources it never
    stored, named."""
    entries = session.scalars(select(RunSource).where(RunSource.run_id == run.id)).all()
    account(run, entries, [why])
    run.posts_new = session.scalar(select(func.count()).select_from(Post)
                                   .where(Post.run_id == run.id)) or 0
    run.status = "aborted"
    run.ended_at = as_utc_naive(now)


def account(run: Run, entries: Sequence[RunSource], errors: Sequence[str]) -> list[str]:
    """Fill the run's source counts and errors from its ledger entries: every due source is
    ok, failed or not stored (named in the errors). Returns the ids not stored."""
    recorded = {entry.source_id for entry in entries}
    not_stored = [source_id for source_id in (run.due or []) if source_id not in recorded]
    failed = [entry for entry in entries if entry.status == FETCH_ERROR]
    run.sources_total = len(entries) + len(not_stored)
    run.sources_failed = len(failed) + len(not_stored)
    run.sources_ok = len(entries) - len(failed)
    run.posts_new = sum(entry.new for entry in entries)
    summary = list(errors)
    if not_stored:
        shown = ", ".join(not_stored[:NAMES_SHOWN])
        more = f" and {len(not_stored) - NAMES_SHOWN} more" if len(not_stored) > NAMES_SHOWN else ""
        summary.append(f"{len(not_stored)} of {run.sources_total} due sources not stored "
                       f"(fetched again next cycle): {shown}{more}")
    run.errors = [entry.error if (entry.error or "").startswith(entry.source_id)
                  else f"{entry.source_id}: {entry.error}" for entry in failed] + summary
    return not_stored
