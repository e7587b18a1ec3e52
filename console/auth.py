"""Logging in and out, the session, the form token, and who may see and do what.

The session lives in a cookie signed with the warehouse's key (Starlette's SessionMiddleware,
itsdangerous): it carries the account name, when it logged in, when it was last used and the
form (CSRF) token. The account is read again at most 5 s before each request, so a disabled
account is out within seconds (at once when disabled on the accounts page).
"""
from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from threading import Lock
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.accounts import RIGHTS, authenticate, may
from jingyu.timeutil import utcnow
from warehouse.accounts import Account

router = APIRouter()


class LoginRequired(Exception):
    """No (live) session: pages send the browser to the login page."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):
    """Logged in, but the role or jurisdiction does not allow it."""


class AccountCache:
    """Accounts as read in the last few seconds: a page request need not ask the database
    who is logged in each time. A change made here (the accounts page) is seen at once; one
    made elsewhere (`jingyu users disable`) within `seconds`."""

    def __init__(self, seconds: float = 5.0) -> None:
        self.seconds = seconds
        self._read: dict[str, tuple[float, Account | None]] = {}
        self._lock = Lock()

    def get(self, name: str, read: Callable[[str], Account | None]) -> Account | None:
        with self._lock:
            cached = self._read.get(name)
        if cached is not None and time.monotonic() - cached[0] < self.seconds:
            return cached[1]
        account = read(name)
        with self._lock:
            if len(self._read) > 10_000:
                self._read.clear()
            self._read[name] = (time.monotonic(), account)
        return account

    def forget(self) -> None:
        with self._lock:
            self._read.clear()


class LoginThrottle:
    """At most `per_name` failed logins per account name and `per_client` per address in
    `window` seconds; beyond, logins are refused until the oldest failure ages out."""

    def __init__(self, per_name: int = 5, per_client: int = 20, window: float = 900) -> None:
        self.limits = {"name": per_name, "client": per_client}
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = Lock()

    def _keys(self, name: str, client: str) -> list[tuple[str, str]]:
        return [("name", name.strip().casefold()), ("client", client)]

    def wait(self, name: str, client: str, now: float | None = None) -> float:
        """Seconds until a login may be tried again (0: now)."""
        now = time.monotonic() if now is None else now
        longest = 0.0
        with self._lock:
            for key in self._keys(name, client):
                failures = self._failures[key]
                while failures and failures[0] <= now - self.window:
                    failures.popleft()
                if len(failures) >= self.limits[key[0]]:
                    longest = max(longest, failures[0] + self.window - now)
        return longest

    def failed(self, name: str, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in self._keys(name, client):
                self._failures[key].append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(("name", name.strip().casefold()), None)


# ---- the session --------------------------------------------------------------------------

def current_or_none(request: Request) -> Account | None:
    return getattr(request.state, "account", None)


def current(request: Request, touch: bool = True) -> Account:
    """The logged-in account, or LoginRequired. `touch=False` for the board's background
    polling: it must not keep an unattended session alive past the idle timeout."""
    cached = current_or_none(request)
    if cached is not None:
        return cached
    session = request.session
    name = session.get("user")
    if not name:
        raise LoginRequired()
    console = request.app.state.console
    settings = console.settings
    now = time.time()
    if now - session.get("seen", 0) > settings.idle_minutes * 60:
        session.clear()
        raise LoginRequired("idle")
    if now - session.get("login", 0) > settings.session_hours * 3600:
        session.clear()
        raise LoginRequired("expired")
    account = console.known_accounts.get(name, console.accounts.get)
    if account is None or account.disabled:
        session.clear()
        raise LoginRequired("disabled")
    if touch:
        session["seen"] = now
    request.state.account = account
    return account


def require(request: Request, right: str, touch: bool = True) -> Account:
    account = current(request, touch)
    if not may(account, right):
        raise Forbidden(right)
    return account


def may_map(account: Account | None) -> dict[str, bool]:
    return {right: account is not None and may(account, right) for right in RIGHTS}


def csrf_token(request: Request) -> str:
    """The session's form token, made on first use (the login form has one too)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, form: object) -> None:
    """Every form carries the session's token; a form from elsewhere does not."""
    sent = str(form.get("csrf", "")) if hasattr(form, "get") else ""
    expected = request.session.get("csrf") or ""
    if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("csrf")


def to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.headers.get("x-requested-with") == "fetch":
        return Response(status_code=401)         # the board's script goes to the login page
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = f"next={quote(target, safe='')}"
    if exc.reason:
        query += f"&why={exc.reason}"
    return RedirectResponse(f"/login?{query}", status_code=303)


def forbidden(request: Request, exc: Exception) -> Response:
    from console.views import render

    why = str(exc)
    message = ("表单已过期或来源不明，请返回刷新页面后重试。" if why == "csrf"
               else "您的账号无权执行此操作或查看此内容。")
    return render(request, "message.html", status_code=403, title="无权操作", message=message)


def _safe_next(target: str | None) -> str:
    # Only a path of this site: never an open redirect to another host.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


WHY = {"idle": "长时间未操作，已自动退出，请重新登录。", "expired": "登录已超过一个班次，请重新登录。",
       "disabled": "账号已停用或不存在。", "out": "已退出。"}


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", why: str = "") -> Response:
    from console.views import render

    return render(request, "login.html", next=_safe_next(next), error=WHY.get(why, ""),
                  name="")


@router.post("/login")
async def login(request: Request) -> Response:
    from console.views import render

    form = await request.form()
    check_csrf(request, form)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    client = _client(request)
    console = request.app.state.console
    wait = console.throttle.wait(name, client)
    if wait > 0:
        return render(request, "login.html", status_code=429, next=target, name=name,
                      error=f"登录失败次数过多，请 {int(wait // 60) + 1} 分钟后再试。")
    account = authenticate(console.accounts, name, password, utcnow())
    if account is None:
        console.throttle.failed(name, client)
        return render(request, "login.html", status_code=401, next=target, name=name,
                      error="姓名或密码不对，或账号已停用。")
    console.throttle.succeeded(name)
    # A fresh session (and form token) at every login: nothing from before carries over.
    request.session.clear()
    now = time.time()
    request.session.update(user=account.name, login=now, seen=now,
                           csrf=secrets.token_urlsafe(32))
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    check_csrf(request, await request.form())
    request.session.clear()
    return RedirectResponse("/login?why=out", status_code=303)
