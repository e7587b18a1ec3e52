"""The long-running processes (`jingyu serve`, `jingyu worker`) and how they stop on SIGTERM.

Prefect 3.8.8 stops both its runner (`serve`) and its process worker at once on SIGTERM: the
cycle under way is killed and stays Running in Prefect and 'running' in the run ledger. A
service is stopped by SIGTERM every time it is restarted or upgraded (systemctl stop, docker
stop), so ours drain instead: no new flow run, those under way finish (up to a limit), then
exit 0. A second SIGTERM or SIGINT changes nothing; the service manager's SIGKILL after its
own timeout still ends everything.
"""
from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from prefect.deployments.runner import RunnerDeployment
from prefect.logging import get_logger
from prefect.runner import Runner
from prefect.workers.process import ProcessWorker

logger = get_logger("jingyu.service")


async def _drain(runs_under_way: Callable[[], int], drain_s: float) -> None:
    deadline = time.monotonic() + drain_s
    if runs_under_way():
        logger.info("stopping: no new flow runs; waiting for %d under way (up to %.0f s)",
                    runs_under_way(), drain_s)
    while runs_under_way() and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    if runs_under_way():
        logger.warning("%d flow runs still under way after %.0f s: cancelling them",
                       runs_under_way(), drain_s)


class DrainingRunner(Runner):
    """Prefect's runner, whose SIGTERM drains instead of exiting from inside the event loop."""

    def __init__(self, *, drain_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drain_s = drain_s
        self.draining = False

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        if not self.draining:
            self.draining = True
            self.execute_in_background(self._drain_then_stop)

    def runs_under_way(self) -> int:
        # One limiter slot per flow run, held until its process has exited.
        return self._limiter.borrowed_tokens if self._limiter else 0

    async def _drain_then_stop(self) -> None:
        self._scheduled_run_poller.stopping = True   # the one place that starts flow runs
        await _drain(self.runs_under_way, self.drain_s)
        await self.astop()


def serve_until_stopped(deployments: Sequence[RunnerDeployment], drain_s: float) -> None:
    """Register the deployments and run their schedules in this process until SIGTERM/SIGINT."""
    # A slot per deployment: each runs one at a time, and the slots count the runs under way.
    runner = DrainingRunner(name="jingyu", limit=len(deployments), drain_s=drain_s)
    for deployment in deployments:
        runner.add_deployment(deployment)
    signal.signal(signal.SIGINT, lambda *_: runner.handle_sigterm())
    asyncio.run(runner.start())


def work_until_stopped(pool: str, limit: int, drain_s: float) -> None:
    """A process worker on `pool` (prefect.yaml's deployments) until SIGTERM/SIGINT."""
    asyncio.run(_work(pool, limit, drain_s))


async def _work(pool: str, limit: int, drain_s: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    worker = ProcessWorker(work_pool_name=pool, limit=limit)
    # Once stopping, the polling loop takes no more flow runs. (Wrapped on the instance: a
    # subclass would replace ProcessWorker in Prefect's registry of worker types.)
    poll = worker.get_and_submit_flow_runs

    async def poll_unless_stopping() -> list[Any]:
        return [] if stop.is_set() else await poll()

    worker.get_and_submit_flow_runs = poll_unless_stopping  # type: ignore[method-assign]
    working = asyncio.create_task(worker.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if working.done():   # the worker ended by itself: its error, if any, is the exit's
        stopping.cancel()
        working.result()
        return
    # One limiter slot per flow run, held until its process has exited.
    await _drain(lambda: worker.limiter.borrowed_tokens, drain_s)
    working.cancel()
    try:
        await working
    except asyncio.CancelledError:
        pass
