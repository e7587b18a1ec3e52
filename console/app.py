"""The console's application: its resources (warehouse, configuration, keys), built once,
and the FastAPI app that serves the pages over them."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from alerts.incidents.handling import Desk
from console.auth import AccountCache, LoginThrottle
from console.board import BoardCache
from jingyu.timeutil import utcnow
from reports.blocks import Labels
from transforms.places import Gazetteer
from warehouse.accounts import AccountStore
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "jingyu_session"
# Inline scripts and styles are refused: a post text that slipped past escaping still could
# not run. Pages are never framed (clickjacking of the 签收 button).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # One-tap links carry their signature in the URL: never hand it on to another site.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True)
class ConsoleSettings:
    """What `jingyu console` is started with."""

    database_url: str | None = None        # None: $JINGYU_DATABASE_URL or the default
    config_dir: str | Path | None = None   # None: $JINGYU_CONFIG_DIR or ./config
    idle_minutes: float = 30               # a session unused this long logs out
    session_hours: int = 12                # and any session ends after one shift
    secure_cookies: bool = False           # True behind HTTPS (the cookie is then https-only)


@dataclass
class Console:
    """The resources every page uses, built once per process (request.app.state.console)."""

    settings: ConsoleSettings
    warehouse: Warehouse
    desk: Desk
    places: Gazetteer
    labels: Labels = field(default_factory=Labels)     # topic and place names for reports
    incidents: IncidentStore = field(init=False)
    accounts: AccountStore = field(init=False)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    known_accounts: AccountCache = field(default_factory=AccountCache)
    board_cache: BoardCache = field(default_factory=BoardCache)

    def __post_init__(self) -> None:
        self.incidents = IncidentStore(self.warehouse)
        self.accounts = AccountStore(self.warehouse)

    def jurisdiction_name(self, jurisdiction: str | None) -> str:
        """The place as people write it (青川市临江区临江派出所 -> 临江派出所); ids never show."""
        if not jurisdiction:
            return "全市"
        known = self.places.jurisdictions.get(jurisdiction)
        return known.name if known else jurisdiction

    def close(self) -> None:
        self.warehouse.close()


def build_console(settings: ConsoleSettings) -> Console:
    """Open the warehouse (migrating it) and read the configuration; a bad file raises
    ConfigError before anything is served."""
    from flows.settings import load_desk, load_places, load_rules

    places = load_places(settings.config_dir)
    labels = Labels(topics={key: topic.name
                            for key, topic in load_rules(settings.config_dir).topics.items()},
                    jurisdictions={key: j.name for key, j in places.jurisdictions.items()})
    warehouse = Warehouse(settings.database_url)
    return Console(settings=settings, warehouse=warehouse, desk=load_desk(settings.config_dir),
                   places=places, labels=labels.with_sources(warehouse.engine))


def create_app(settings: ConsoleSettings, console: Console | None = None) -> FastAPI:
    """The console's web application over the warehouse of `settings`."""
    from console import accounts_page, auth, board, incident_page, patrol, search_page, tap

    console = console or build_console(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        console.close()

    app = FastAPI(title="警舆 值班台", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.console = console
    for router in (auth.router, board.router, incident_page.router, patrol.router,
                   search_page.router, accounts_page.router, tap.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(auth.LoginRequired, auth.to_login)
    app.add_exception_handler(auth.Forbidden, auth.forbidden)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            # Pages show incidents: never keep them in a shared or back-button cache.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # Outermost: the session is read before the pages and written after them.
    app.add_middleware(SessionMiddleware,
                       secret_key=console.accounts.secret("console-session", utcnow()),
                       session_cookie=SESSION_COOKIE, max_age=settings.session_hours * 3600,
                       same_site="lax", https_only=settings.secure_cookies)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    return app
