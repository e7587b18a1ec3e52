"""Who may use the console and what each may do: roles, rights, jurisdiction scope, and the
account operations `jingyu users ...` and the console's admin page share."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from warehouse.accounts import Account, AccountStore

MIN_PASSWORD = 8
# argon2-cffi's defaults (Argon2id, RFC 9106 low-memory profile: 64 MiB, 3 passes) cost
# ~50 ms a login on these machines: fine for people, ruinous for a password-guessing loop.
_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no such account: this hash never matches a form")


class AccountError(ValueError):
    """A name, role, jurisdiction or password the rules refuse (the message says why)."""


class Role(str, Enum):
    """duty acts on incidents; leader also changes levels and closes; analyst reads and
    searches; admin manages accounts."""

    DUTY = "duty"
    LEADER = "leader"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"duty": "值班员", "leader": "带班领导", "analyst": "分析员",
                "admin": "管理员"}[self.value]


# What each right allows, and who holds it.
RIGHTS: dict[str, frozenset[Role]] = {
    "read": frozenset(Role),                                   # board, incidents, patrol
    "search": frozenset({Role.DUTY, Role.LEADER, Role.ANALYST, Role.ADMIN}),
    "act": frozenset({Role.DUTY, Role.LEADER}),                # 签收, tracks, statement,
    #                                                            resolve, silence
    "level": frozenset({Role.LEADER}),                         # raise/lower the level
    "close": frozenset({Role.LEADER}),
    "accounts": frozenset({Role.ADMIN}),
}


def may(account: Account, right: str) -> bool:
    return not account.disabled and Role(account.role) in RIGHTS[right]


def sees(account: Account, jurisdiction: str | None) -> bool:
    """A 分局 or 派出所 account sees its own jurisdiction and those below it; an account
    without one (市局) sees everything. Incidents of no known place are the city's."""
    scope = account.jurisdiction
    if scope is None:
        return True
    if jurisdiction is None:
        return False
    return jurisdiction == scope or jurisdiction.startswith(scope + ".")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add_account(store: AccountStore, name: str, role: str, jurisdiction: str | None,
                password: str, now: datetime, known_jurisdictions: Collection[str] = ()
                ) -> Account:
    """A new account; `known_jurisdictions` (jurisdictions.yaml's ids) checks the scope."""
    name = name.strip()
    if not name:
        raise AccountError("an account needs a name (the person's name as in roster.yaml)")
    if role not in {r.value for r in Role}:
        raise AccountError(f"unknown role {role!r}: use {', '.join(r.value for r in Role)}")
    if jurisdiction is not None and known_jurisdictions and \
            jurisdiction not in known_jurisdictions:
        raise AccountError(f"unknown jurisdiction {jurisdiction!r}: use an id of "
                           f"jurisdictions.yaml, e.g. {min(known_jurisdictions)}")
    return store.add(name, role, jurisdiction or None, hash_password(password), now)


def authenticate(store: AccountStore, name: str, password: str, now: datetime
                 ) -> Account | None:
    """The account if the name and password match an enabled one, else None."""
    account = store.get(name.strip())
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if account is None or account.disabled:
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        store.update(account.name, now, password_hash=_hasher.hash(password))
    return store.update(account.name, now, last_login_at=now)
