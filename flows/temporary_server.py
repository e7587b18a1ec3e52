"""Prefect's temporary server under `jingyu run` (and the demo): noticed when it dies.

Without PREFECT_API_URL, Prefect starts a temporary API server as a child process for the
flow run. If that process dies mid-cycle (killed, out of memory), every state Prefect reports
is retried against a dead address: the command hung for about five minutes and then ended in
one long traceback, with nothing saying what had happened. This watches the child: when it
dies, the cycle is stopped as Ctrl-C stops it (the monitor flow marks its run aborted, with
this reason), one line says what happened, and if Prefect still waits on the dead server
after a grace period the process exits with EXIT_SERVER_LOST.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_SERVER_LOST = 4
GRACE_S = 20.0


class TemporaryServerLost(KeyboardInterrupt):
    """Prefect's temporary server died under the cycle (a KeyboardInterrupt, so that Prefect
    and the monitor flow treat it as an interruption: the run is marked aborted)."""


def _describe(process: subprocess.Popen) -> str:
    code = process.returncode
    how = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exit code {code}")
    return f"the loss of Prefect's temporary server (pid {process.pid}, {how})"


def _dead_server() -> subprocess.Popen | None:
    """The temporary server's process if it has died while Prefect counts it as running."""
    try:
        from prefect.server.api.server import SubprocessASGIServer
    except ImportError:          # another Prefect: nothing to watch
        return None
    for server in list(SubprocessASGIServer._instances.values()):
        process = getattr(server, "server_process", None)
        if getattr(server, "running", False) and process is not None \
                and process.poll() is not None:
            return process
    return None


@contextmanager
def watch_temporary_server(every_s: float = 1.0, grace_s: float = GRACE_S) -> Iterator[None]:
    """Within this block (in the main thread), a temporary Prefect server that dies raises
    TemporaryServerLost in the main thread; if the block has not ended grace_s later, the
    process exits with EXIT_SERVER_LOST. Nothing is watched when PREFECT_API_URL names a
    server of its own (that one's outages are the operator's, and `jingyu doctor` checks it)."""
    if os.environ.get("PREFECT_API_URL") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return
    done = threading.Event()
    lost: list[str] = []

    def interrupt(_signum: int, _frame: object) -> None:
        raise TemporaryServerLost(lost[0] if lost else "the loss of Prefect's temporary server")

    def watch() -> None:
        while not done.wait(every_s):
            process = _dead_server()
            if process is None:
                continue
            lost.append(_describe(process))
            print(f"jingyu: {lost[0][len('the loss of '):]}: Prefect's temporary server "
                  f"died during the cycle; stopping the cycle (its run is marked aborted; "
                  f"what was stored stays). Start a Prefect server of its own "
                  f"(prefect server start, PREFECT_API_URL) for unattended runs.",
                  file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGUSR2)
            if not done.wait(grace_s):
                print(f"jingyu: Prefect still waits on its dead temporary server after "
                      f"{grace_s:g} s; exiting (exit code {EXIT_SERVER_LOST}). If the run "
                      f"still shows 'running', the next cycle settles it as aborted.",
                      file=sys.stderr, flush=True)
                os._exit(EXIT_SERVER_LOST)
            return

    previous = signal.signal(signal.SIGUSR2, interrupt)
    thread = threading.Thread(target=watch, name="prefect-temporary-server-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=every_s + 1)
        signal.signal(signal.SIGUSR2, previous)
