"""Console accounts and the keys shared by the warehouse's processes: persistence only (the
rules — roles, password hashing — live in console.accounts)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from jingyu.timeutil import as_utc_naive, from_db
from warehouse.models import SecretRow, UserRow
from warehouse.store import Warehouse


class AccountExists(ValueError):
    """An account of that name exists already."""


class NoSuchAccount(LookupError):
    """No account of that name."""


@dataclass(frozen=True)
class Account:
    """One person's console account (the hash stays here: pages never need it)."""

    id: int
    name: str
    role: str
    jurisdiction: str | None
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None
    password_hash: str


class AccountStore:
    """The users and secrets tables of one warehouse; every method is one transaction."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._session = sessionmaker(warehouse.engine, expire_on_commit=False)

    def add(self, name: str, role: str, jurisdiction: str | None, password_hash: str,
            now: datetime) -> Account:
        stamp = as_utc_naive(now)
        try:
            with self._session.begin() as session:
                row = UserRow(name=name, role=role, jurisdiction=jurisdiction,
                              password_hash=password_hash, disabled=False,
                              created_at=stamp, updated_at=stamp)
                session.add(row)
                session.flush()
                return _account(row)
        except IntegrityError:
            raise AccountExists(f"an account named {name!r} exists already") from None

    def get(self, name: str) -> Account | None:
        with self._session() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == name))
            return _account(row) if row is not None else None

    def accounts(self) -> list[Account]:
        with self._session() as session:
            return [_account(r) for r in session.scalars(select(UserRow).order_by(UserRow.name))]

    def update(self, name: str, now: datetime, **values: object) -> Account:
        """Change some of disabled, role, jurisdiction, password_hash, last_login_at."""
        allowed = {"disabled", "role", "jurisdiction", "password_hash", "last_login_at"}
        assert set(values) <= allowed, set(values) - allowed
        values = {k: as_utc_naive(v) if isinstance(v, datetime) else v
                  for k, v in values.items()}
        if "last_login_at" not in values or len(values) > 1:
            values["updated_at"] = as_utc_naive(now)
        with self._session.begin() as session:
            done = session.execute(update(UserRow).where(UserRow.name == name).values(**values))
            if done.rowcount == 0:
                raise NoSuchAccount(f"no account named {name!r}")
            row = session.scalar(select(UserRow).where(UserRow.name == name))
            assert row is not None
            return _account(row)

    def secret(self, name: str, now: datetime) -> str:
        """The warehouse's key called `name`, made at random the first time it is asked for.
        Every process of the warehouse (console, monitor) reads the same key."""
        with self._session() as session:
            value = session.scalar(select(SecretRow.value).where(SecretRow.name == name))
        if value is not None:
            return value
        try:
            with self._session.begin() as session:
                session.add(SecretRow(name=name, value=secrets.token_urlsafe(48),
                                      created_at=as_utc_naive(now)))
        except IntegrityError:
            pass        # another process made it first: theirs is the key
        with self._session() as session:
            value = session.scalar(select(SecretRow.value).where(SecretRow.name == name))
        assert value is not None
        return value


def _account(row: UserRow) -> Account:
    created = from_db(row.created_at)
    assert created is not None
    return Account(id=row.id, name=row.name, role=row.role, jurisdiction=row.jurisdiction,
                   disabled=row.disabled, created_at=created,
                   last_login_at=from_db(row.last_login_at), password_hash=row.password_hash)
