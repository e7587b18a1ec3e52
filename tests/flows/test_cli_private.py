"""What jingyu writes stays private (issue 10): a database password given with --database never
becomes a Prefect flow-run parameter (Prefect keeps them in its database and UI), and the
warehouse, exports and notifications.jsonl are readable by their owner and group only."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from flows.cli import main

PASSWORD = "hunter2-db-pa55"


@pytest.mark.usefixtures("prefect_harness")
def test_database_password_is_not_a_flow_run_parameter(recorded_feeds, postgres_url,
                                                       monkeypatch):
    from prefect.client.orchestration import get_client

    monkeypatch.delenv("JINGYU_DATABASE_URL", raising=False)
    # The local server trusts 127.0.0.1: any password logs in, so this URL works as given.
    url = make_url(postgres_url).set(password=PASSWORD).render_as_string(hide_password=False)
    assert main(["run", "--force", "--config", str(recorded_feeds.config_dir),
                 "--database", url]) in (0, 1)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    assert runs, "the cycle ran under Prefect"
    for run in runs:
        assert PASSWORD not in repr(run.parameters), run.name
    monitor_runs = [r for r in runs if r.parameters.get("config_dir")
                    == str(recorded_feeds.config_dir)]
    assert monitor_runs and all(r.parameters.get("database_url") is None for r in monitor_runs)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_jingyu_writes_are_not_world_readable(tmp_path):
    """Through the installed command, as an operator with the usual umask 022 runs it."""
    db = tmp_path / "w.db"
    export = tmp_path / "posts.csv"
    env = {**os.environ, "JINGYU_DATABASE_URL": f"sqlite:///{db}"}
    jingyu = [sys.executable, "-m", "flows.cli"]
    for argv in (["db", "upgrade"], ["query", "posts", "-o", str(export)]):
        done = subprocess.run([*jingyu, *argv], env=env, capture_output=True, text=True,
                              timeout=300, preexec_fn=lambda: os.umask(0o022))
        assert done.returncode == 0, done.stderr
    for path in (db, export):
        assert _mode(path) & 0o007 == 0, f"{path.name} is {oct(_mode(path))}"
