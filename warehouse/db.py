"""Connect to the warehouse and keep its schema at the newest Alembic revision."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL = "sqlite:///data/jingyu.db"
# pg_advisory_lock key held while migrating: one process creates or upgrades the schema.
_MIGRATION_LOCK_KEY = 0x6A696E6779750001
# How long a SQLite statement waits for another connection's write lock before "database is
# locked" (sqlite3's busy timeout).
SQLITE_BUSY_S = 30.0
_SQLITE_WRITERS: dict[str, threading.Lock] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


class WarehouseUnavailable(Exception):
    """The database cannot be reached or the URL is wrong."""


def connection_lost(exc: BaseException) -> str | None:
    """The reason, in one line, when `exc` means the warehouse cannot be used any more
    (unreachable, connection cut, database locked, gone or not a database); None for other
    errors (a bad row, a bug), which stay errors of what raised them."""
    if isinstance(exc, WarehouseUnavailable):
        return str(exc)
    if isinstance(exc, (OperationalError, InterfaceError)) or type(exc) is DatabaseError:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__
    return None


def database_url() -> str:
    """JINGYU_DATABASE_URL, else a SQLite file under ./data/."""
    return os.environ.get("JINGYU_DATABASE_URL") or DEFAULT_URL


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise WarehouseUnavailable(
            f"database URL {url!r} is not valid: {exc} "
            "(fix: e.g. sqlite:///data/jingyu.db or postgresql+psycopg://user@host/db)") from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_S})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def one_at_a_time(session: Session, key: int) -> None:
    """Hold `key` until the session's transaction ends: transactions asking for the same key
    run one after another. PostgreSQL: a transaction-level advisory lock. SQLite needs none:
    its writers are serialised already, provided the transaction writes before it reads."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@contextmanager
def one_writer(engine: Engine) -> Iterator[None]:
    """On SQLite, this process's threads write one after another, queued on a lock. Left to
    SQLite's busy timeout, writers poll for the file's write lock and one of them can lose the
    race again and again until the timeout ends it with "database is locked" (16 sources
    storing at once, 200 x 50 items on a busy machine: half the cycle's sources lost). Other
    processes (the CLI, the console) still wait on the timeout. PostgreSQL: nothing to do."""
    if engine.dialect.name != "sqlite":
        yield
        return
    key = str(Path(engine.url.database or ":memory:").resolve())
    with _SQLITE_WRITERS_GUARD:
        lock = _SQLITE_WRITERS.setdefault(key, threading.Lock())
    with lock:
        yield


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the CLI read while a cycle writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Apply every pending migration; returns the revision now in force."""
    try:
        with engine.begin() as conn:
            config = _alembic_config(engine)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise WarehouseUnavailable(
            f"cannot reach the warehouse at {_redact(str(engine.url))}: {exc.orig}") from exc
    return head_revision()


@contextmanager
def migrating_alone(engine: Engine) -> Iterator[None]:
    """Hold the warehouse's migration lock: processes that start together on an empty (or
    older) database migrate one after another, and the later ones find the work done.
    PostgreSQL: a session advisory lock. SQLite: an exclusive lock on a file beside the
    database (SQLite runs its DDL outside a transaction, so its own locks cannot do it)."""
    if engine.dialect.name == "postgresql":
        try:
            connection = engine.connect()
        except OperationalError as exc:
            raise WarehouseUnavailable(
                f"cannot reach the warehouse at {_redact(str(engine.url))}: {exc.orig}") from exc
        with connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": _MIGRATION_LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_schema(engine: Engine) -> None:
    """Migrate on first use, so `jingyu run` works on an empty database."""
    def current() -> str | None:
        try:
            return current_revision(engine)
        except OperationalError as exc:
            raise WarehouseUnavailable(
                f"cannot reach the warehouse at {_redact(str(engine.url))}: {exc.orig}") from exc

    head = head_revision()
    if current() == head:
        return
    with migrating_alone(engine):
        if current() != head:   # another process may have migrated while this one waited
            upgrade(engine)
