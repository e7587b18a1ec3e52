"""Analysts' SQL stays read-only and bounded on both databases (issue 10): on PostgreSQL only a
reader role may run it (a superuser ran shell commands and read files; the tables' owner could
end the pipeline's sessions), '%' is the operator it is in SQL, statements time out; on SQLite
ATTACH is refused and a statement is stopped after its time or memory; named-query options out
of range are a clear error."""
from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from collectors.records import SourceConfig
from flows.cli import main
from warehouse import queries
from warehouse.db import ensure_schema, make_engine
from warehouse.queries import QueryError, QueryParams, readonly_engine, run_query, run_sql
from warehouse.reader_role import create_reader
from warehouse.store import Warehouse

WEEK = QueryParams(since=datetime(2026, 11, 19, tzinfo=timezone.utc),
                   until=datetime(2026, 11, 26, tzinfo=timezone.utc))


def _sql(url: str, statement: str):
    engine = readonly_engine(url)
    try:
        return run_sql(engine, statement)
    finally:
        engine.dispose()


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


@pytest.fixture
def pg(postgres_url):
    """A migrated warehouse on PostgreSQL with a reader role of its own (roles are shared by
    the whole server, so each test names its own and drops it)."""
    warehouse = Warehouse(postgres_url)
    warehouse.sync_sources([SourceConfig(id="s", name="来源", kind="feed", url="http://x/")])
    warehouse.close()
    admin = make_engine(postgres_url)
    role = f"jingyu_reader_{uuid.uuid4().hex[:8]}"
    print(create_reader(admin, role))
    owner = f"jingyu_owner_{uuid.uuid4().hex[:8]}"
    yield {"admin": postgres_url, "reader": _as(postgres_url, role), "role": role,
           "owner": owner, "engine": admin}
    with admin.begin() as conn:
        for name in (role, owner):
            if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                            {"r": name}).first():
                conn.exec_driver_sql(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER')
                conn.exec_driver_sql(f'DROP OWNED BY "{name}"')
                conn.exec_driver_sql(f'DROP ROLE "{name}"')
    admin.dispose()


def test_a_superuser_login_is_refused_before_anything_runs(pg, tmp_path):
    marker = tmp_path / "owned"
    for statement in (f"COPY (SELECT 1) TO PROGRAM 'id > {marker}'",
                      "SELECT pg_read_file('/etc/passwd')"):
        with pytest.raises(QueryError, match="is a superuser"):
            _sql(pg["admin"], statement)
    assert not marker.exists()


def test_the_owner_of_the_tables_is_refused(pg):
    with pg["engine"].begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{pg["owner"]}" LOGIN')
        conn.exec_driver_sql(f'ALTER TABLE posts OWNER TO "{pg["owner"]}"')
    with pytest.raises(QueryError, match="owns tables"):
        _sql(_as(pg["admin"], pg["owner"]), "SELECT 1")


def test_the_reader_reads_and_nothing_more(pg, tmp_path):
    assert _sql(pg["reader"], "select count(*) from sources").rows == [(1,)]
    marker = tmp_path / "owned"
    for statement in (f"COPY (SELECT 1) TO PROGRAM 'id > {marker}'",
                      "SELECT pg_read_file('/etc/passwd')",
                      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE usename <> current_user AND pid <> pg_backend_pid()",
                      "DELETE FROM sources", "CREATE TABLE x (a int)",
                      "SELECT set_config('role', 'postgres', false)"):
        with pytest.raises(DBAPIError):
            _sql(pg["reader"], statement)
    assert not marker.exists()
    with pg["engine"].connect() as conn:             # the admin's session was not ended
        assert conn.execute(text("SELECT count(*) FROM sources")).scalar() == 1
    # Tables created later (by the next migration) are readable too.
    with pg["engine"].begin() as conn:
        conn.exec_driver_sql("CREATE TABLE later (a int)")
    assert _sql(pg["reader"], "select count(*) from later").rows == [(0,)]


def test_percent_is_the_operator_it_is_in_sql(pg):
    assert _sql(pg["reader"], "select 7 % 3").rows == [(1,)]
    assert _sql(pg["reader"], "select 'a%b' like '%b', '警察' like '%警%'").rows == [
        (True, True)]
    assert _sql(pg["reader"], "select count(*) from sources where name like '%来%'"
                ).rows == [(1,)]


def test_a_statement_is_stopped_by_the_timeout(pg, monkeypatch):
    monkeypatch.setattr(queries, "SQL_TIMEOUT_MS", 300)
    with pytest.raises(DBAPIError, match="statement timeout"):
        _sql(pg["reader"], "select pg_sleep(5)")


def test_cli_creates_the_reader_and_refuses_the_superuser(pg, capsys, monkeypatch):
    role = pg["role"]
    assert main(["db", "create-reader", "--role", role, "--database", pg["admin"]]) == 0
    assert f"role {role} updated" in capsys.readouterr().out
    assert main(["query", "--sql", "select 1 as one", "--database", pg["admin"]]) == 2
    assert "jingyu db create-reader" in capsys.readouterr().err
    monkeypatch.setenv("JINGYU_READER_DATABASE_URL", pg["reader"])
    assert main(["query", "--sql", "select 7 % 3 as r"]) == 0
    assert "1 rows: sql" in capsys.readouterr().out


# ---- SQLite -------------------------------------------------------------------------------

@pytest.fixture
def lite(sqlite_url):
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    engine.dispose()
    return sqlite_url


def test_sqlite_refuses_attach(lite, tmp_path):
    target = tmp_path / "elsewhere.db"
    with pytest.raises(DBAPIError, match="not authorized"):
        _sql(lite, f"ATTACH DATABASE '{target}' AS x")
    assert not target.exists()
    with pytest.raises(DBAPIError, match="not authorized"):
        _sql(lite, "PRAGMA query_only = OFF")
    assert _sql(lite, "PRAGMA table_info(posts)").rows     # reading pragmas still works


RUNAWAY = ("WITH RECURSIVE c(x, pad) AS (SELECT 1, randomblob(1000) "
           "UNION SELECT x + 1, randomblob(1000) FROM c) SELECT max(x) FROM c")


def test_sqlite_statement_is_stopped_after_its_time(lite, monkeypatch):
    monkeypatch.setattr(queries, "SQL_TIMEOUT_MS", 500)
    monkeypatch.setattr(queries, "SQL_MAX_MEMORY_MB", 100_000)
    start = time.monotonic()
    with pytest.raises(QueryError, match="longer than 0.5 s"):
        _sql(lite, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                   "SELECT count(*) FROM c")
    assert time.monotonic() - start < 10


def test_sqlite_statement_is_stopped_at_its_memory_bound(lite, monkeypatch):
    monkeypatch.setattr(queries, "SQL_MAX_MEMORY_MB", 64)
    with pytest.raises(QueryError, match="more than 64 MB"):
        _sql(lite, RUNAWAY)


def test_named_query_options_out_of_range_exit_2(lite, capsys):
    for argv in (["posts", "--limit", "-1"], ["posts", "--limit", "0"],
                 ["posts", "--limit", "100000000000000000000"],
                 ["volume", "--since", "0001-01-01"], ["volume", "--until", "9999-12-31"],
                 ["posts", "--since", "1-01-01"]):
        assert main(["query", *argv, "--database", lite]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("jingyu: ") and "Traceback" not in err, err
    engine = create_engine(lite)
    with pytest.raises(QueryError, match="--limit must be between 1"):
        run_query(engine, "posts", replace(WEEK, limit=-1))
    engine.dispose()
    assert main(["query", "posts", "--limit", "5", "--since", "2026-11-01",
                 "--database", lite]) == 0
