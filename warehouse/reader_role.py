"""The PostgreSQL role analysts' SQL runs under: it logs in and reads jingyu's tables, nothing else.

`jingyu query --sql` on PostgreSQL refuses a login that could do more (warehouse.queries.run_sql):
a superuser runs shell commands (COPY … TO PROGRAM) and reads server files (pg_read_file), a
member of pg_signal_backend ends other sessions, and the role that owns jingyu's tables — the
pipeline's own login — can end the pipeline's sessions with pg_terminate_backend and write. A
superuser cannot be made safe for the length of one statement (SET ROLE is undone by
set_config('role', …) inside the statement), so such a login is refused, not demoted.
"""
from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, text

READER_ROLE = "jingyu_reader"
READER_TIMEOUT = "60s"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Built-in roles whose members read or write server files, run programs or end sessions.
_DANGEROUS_MEMBERSHIPS = ("pg_read_server_files", "pg_write_server_files",
                          "pg_execute_server_program", "pg_signal_backend")


class ReaderRoleError(ValueError):
    """The reader role cannot be made, or a login is not one analysts' SQL may use."""


def create_reader(engine: Engine, role: str = READER_ROLE, password: str | None = None
                  ) -> str:
    """Create the role (or bring an existing one back to these rights) and grant it SELECT on
    every table and view of the warehouse's schema, now and later (default privileges of the
    login that runs migrations). Run as the owner of the tables, or a superuser. Returns what
    was done, in words."""
    if engine.dialect.name != "postgresql":
        raise ReaderRoleError("a reader role is for PostgreSQL; on SQLite, --sql opens the file "
                              "read-only and needs no role")
    if not _ROLE_NAME.match(role):
        raise ReaderRoleError(f"role name {role!r}: use lower-case letters, digits and _")
    attributes = ("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                  "NOINHERIT")
    with engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"),
                              {"role": role}).first() is not None
        conn.exec_driver_sql(f'{"ALTER" if exists else "CREATE"} ROLE "{role}" {attributes}')
        if password is not None:
            conn.exec_driver_sql(f'ALTER ROLE "{role}" PASSWORD {_literal(conn, password)}')
        database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        for membership in _DANGEROUS_MEMBERSHIPS:
            conn.exec_driver_sql(f'REVOKE "{membership}" FROM "{role}"')
        # Tables that migrations create later belong to the owner of today's tables (the
        # pipeline's login), which may not be the admin running this.
        owner = conn.execute(text(
            "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'posts'")).scalar() or conn.exec_driver_sql(
            "SELECT current_user").scalar_one()
        for statement in (
                f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
                f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
                f'REVOKE CREATE ON SCHEMA "{schema}" FROM "{role}"',
                f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"',
                f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA "{schema}" '
                f'GRANT SELECT ON TABLES TO "{role}"',
                f'ALTER ROLE "{role}" SET default_transaction_read_only = on',
                f"ALTER ROLE \"{role}\" SET statement_timeout = '{READER_TIMEOUT}'"):
            conn.exec_driver_sql(statement)
    return (f"role {role} {'updated' if exists else 'created'}: may log in and read the "
            f"tables of {database}.{schema} (also those created later), read-only "
            f"transactions, statements stopped after {READER_TIMEOUT}")


def _literal(conn: Connection, value: str) -> str:
    # Utility statements take no bind parameters: quote as PostgreSQL's quote_literal does.
    return conn.execute(text("SELECT quote_literal(:value)"), {"value": value}).scalar_one()


def refuse_unless_reader(conn: Connection) -> None:
    """Raise ReaderRoleError unless the login of `conn` can only read: no superuser, no
    membership of the roles that touch files, programs or other sessions, no right to write
    (or own) any table of the warehouse."""
    row = conn.execute(text(
        "SELECT r.rolsuper, r.rolcreaterole, r.rolbypassrls, "
        "  ARRAY(SELECT m FROM unnest(CAST(:dangerous AS text[])) AS m "
        "        WHERE pg_has_role(current_user, m, 'MEMBER')), "
        "  ARRAY(SELECT t.tablename::text FROM pg_tables t "
        "        WHERE t.schemaname = current_schema() "
        "          AND (pg_has_role(current_user, t.tableowner, 'MEMBER') "
        "               OR has_table_privilege(current_user, "
        "                    quote_ident(t.schemaname) || '.' || quote_ident(t.tablename), "
        "                    'INSERT, UPDATE, DELETE, TRUNCATE')) "
        "        ORDER BY 1 LIMIT 3) "
        "FROM pg_roles r WHERE r.rolname = current_user"),
        {"dangerous": list(_DANGEROUS_MEMBERSHIPS)}).one()
    superuser, createrole, bypassrls, memberships, writable = row
    user = conn.exec_driver_sql("SELECT current_user").scalar_one()
    why = ("is a superuser (it could run shell commands and read server files)" if superuser
           else "may create roles" if createrole
           else "bypasses row security" if bypassrls
           else f"is a member of {', '.join(memberships)}" if memberships
           else f"may write or owns tables ({', '.join(writable)}): it is the pipeline's "
                f"login, whose sessions pg_terminate_backend could end" if writable
           else None)
    if why:
        raise ReaderRoleError(
            f"--sql on PostgreSQL runs only as a read-only role, and {user} {why}. Create one "
            f"with 'jingyu db create-reader' (as the tables' owner) and connect as it: "
            f"--database postgresql://{READER_ROLE}@HOST/DB, or set JINGYU_READER_DATABASE_URL")
