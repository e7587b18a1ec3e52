"""Processes that start together on an empty database all succeed: the schema is created
once (real processes, a SQLite file and a fresh PostgreSQL database)."""
from __future__ import annotations

import subprocess
import sys

from sqlalchemy import create_engine, text

from warehouse.db import head_revision

PROCESSES = 5


def _start_together(url: str) -> list[subprocess.CompletedProcess]:
    started = [subprocess.Popen([sys.executable, "-m", "flows.cli", "sources", "--database", url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(PROCESSES)]
    results = []
    for process in started:
        out, err = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def _check(url: str) -> None:
    results = _start_together(url)
    assert [r.returncode for r in results] == [0] * PROCESSES, [r.stderr for r in results]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalars().all() \
            == [head_revision()]
    engine.dispose()


def test_processes_starting_on_an_empty_sqlite_file(sqlite_url) -> None:
    _check(sqlite_url)


def test_processes_starting_on_an_empty_postgresql_database(postgres_url) -> None:
    _check(postgres_url)
