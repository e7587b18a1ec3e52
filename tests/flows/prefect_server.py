"""A real `prefect server start` for tests: free port, its own PREFECT_HOME, stopped afterwards."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
JINGYU = str(Path(sys.executable).with_name("jingyu"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrefectServer:
    """The environment that points Prefect's CLI, workers and flows at one server."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.env = {**os.environ,
                    "PREFECT_HOME": str(home),
                    "PREFECT_API_URL": self.api_url,
                    "PREFECT_UI_ENABLED": "false",
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "DO_NOT_TRACK": "1",
                    "COLUMNS": "250",  # tables of the CLI unabridged
                    "PREFECT_LOGGING_LEVEL": "INFO"}
        # A test's harness settings must not leak into the processes that use this server.
        for name in ("PREFECT_API_KEY", "PREFECT_PROFILE"):
            self.env.pop(name, None)

    def cli(self, *args: str, timeout: float = 180, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Prefect's own command line, run from the repository root against this server."""
        done = subprocess.run([PREFECT, "--no-prompt", *args], cwd=ROOT, env=env or self.env,
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"prefect {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def api(self, method: str, path: str, json: dict | None = None) -> object:
        response = requests.request(method, f"{self.api_url}{path}", json=json, timeout=30)
        response.raise_for_status()
        return response.json()


@contextmanager
def running_prefect_server(home: Path, startup_timeout: float = 120) -> Iterator[PrefectServer]:
    home.mkdir(parents=True, exist_ok=True)
    server = PrefectServer(home, free_port())
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(server.port)],
        cwd=home, env=server.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prefect server exited {process.returncode}: "
                                   f"{(home / 'server.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{server.api_url}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prefect server did not answer within "
                                   f"{startup_timeout:.0f} s")
            time.sleep(0.5)
        yield server
    finally:
        stop_process_group(process)
        log.close()


def stop_process_group(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM the process group a test started, SIGKILL it if it does not stop in time."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_process(args: Sequence[str], env: dict[str, str], log: Path,
                  cwd: Path = ROOT) -> subprocess.Popen:
    """A long-running process (worker, `jingyu serve`) in its own group, output to `log`."""
    with log.open("w") as out:
        return subprocess.Popen(list(args), cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
