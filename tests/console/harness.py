"""The console under test: a real uvicorn server on 127.0.0.1 over a real warehouse (SQLite
file or PostgreSQL), incidents opened by the real pipeline, accounts of every role."""
from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
import uvicorn
import yaml

from alerts.incidents.handling import raise_and_track
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from console.accounts import add_account
from console.app import ConsoleSettings, create_app
from flows.settings import load_desk
from jingyu.timeutil import utcnow
from transforms.records import ScoredPost
from warehouse.accounts import AccountStore
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

CONFIG = Path(__file__).resolve().parents[2] / "config"
PASSWORD = "duty-pass-2026"
PEOPLE = {   # name: (role, jurisdiction)
    "张三": ("duty", None),
    "李四": ("duty", None),
    "王建国": ("leader", None),
    "钱分析": ("analyst", None),
    "孙管理": ("admin", None),
    "临江所民警": ("duty", "qingchuan.linjiang.linjiang_pcs"),
}
LINJIANG_PCS = "qingchuan.linjiang.linjiang_pcs"
BEIHU = "qingchuan.beihu"


def make_config(directory: Path, notifications: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("routing.yaml", "roster.yaml", "jurisdictions.yaml"):
        shutil.copyfile(CONFIG / name, directory / name)
    (directory / "alerts.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "duty-log", "kind": "jsonl", "path": str(notifications)}]}), encoding="utf-8")
    return directory


@dataclass
class Seeder:
    """Opens incidents the way a monitoring cycle does: a post stored, then detection."""

    url: str
    config: Path
    count: int = 0
    sources: set[str] = field(default_factory=set)

    def incident(self, title: str, jurisdiction: str, at: datetime | None = None,
                 link: str | None = None) -> int:
        self.count += 1
        at = at or utcnow() - timedelta(minutes=5)
        wh = Warehouse(self.url)
        try:
            source = f"weibo-{jurisdiction}"
            if source not in self.sources:
                self.sources.add(source)
                wh.sync_sources([SourceConfig(id=s, name="微博", kind="feed", url="http://x/w",
                                              jurisdiction=s.removeprefix("weibo-"))
                                 for s in sorted(self.sources)])
            raw = RawPost(source_id=source, external_id=str(self.count),
                          url=link or f"https://weibo.example/{self.count}", title=title,
                          body="", author=None, published_at=at, fetched_at=at)
            post = ScoredPost(raw=raw, text=title, content_hash=f"hash-{self.count}",
                              keywords=(f"词{self.count}", "辅警"), police_related=True,
                              police_terms=("辅警",), sentiment=0.1, polarity="negative",
                              police_stance="negative", topics=("police.assault",),
                              rule_hits=(), high_risk=True)
            run = wh.start_run(at)
            wh.store_fetch(run, FetchResult(source_id=source, status=FETCH_OK,
                                            cursor=SourceCursor(), posts=(raw,)), [post], at)
            recorded = raise_and_track(wh, load_desk(self.config), at)
            wh.finish_run(run, at + timedelta(seconds=20), alerts_new=len(recorded),
                          notifications_sent=0, errors=())
            opened = [i for i in IncidentStore(wh).incidents(limit=1000) if i.title.find(
                title[:8]) >= 0 or title in i.title]
            assert opened, f"no incident opened for {title!r}"
            return max(i.id for i in opened)
        finally:
            wh.close()


@dataclass
class Running:
    base: str
    url: str
    config: Path
    seed: Seeder

    def session(self, name: str | None = None) -> requests.Session:
        """A browser-like client, logged in as `name` when given."""
        s = requests.Session()
        if name is not None:
            response = login(s, self.base, name, PASSWORD)
            assert response.url.rstrip("/") == self.base, response.text[:500]
        return s


def form_token(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no form token on the page"
    return match.group(1)


def login(s: requests.Session, base: str, name: str, password: str) -> requests.Response:
    token = form_token(s.get(f"{base}/login").text)
    return s.post(f"{base}/login", data={"csrf": token, "name": name, "password": password,
                                         "next": "/"})


def post_form(s: requests.Session, base: str, path: str, page: str | None = None,
              **data: str) -> requests.Response:
    """Submit a form as the browser would: with the token of the page it sits on."""
    html = s.get(f"{base}{page or '/'}").text
    return s.post(f"{base}{path}", data={"csrf": form_token(html), **data})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve(tmp_path):
    """serve(url) -> a console running on 127.0.0.1 over that warehouse, stopped afterwards."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(url: str, idle_minutes: float = 30) -> Running:
        config = make_config(tmp_path / "config", tmp_path / "notifications.jsonl")
        wh = Warehouse(url)
        store = AccountStore(wh)
        for name, (role, place) in PEOPLE.items():
            add_account(store, name, role, place, PASSWORD, utcnow())
        wh.close()
        app = create_app(ConsoleSettings(database_url=url, config_dir=config,
                                         idle_minutes=idle_minutes))
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.05)
        servers.append((server, thread))
        return Running(base=f"http://127.0.0.1:{port}", url=url, config=config,
                       seed=Seeder(url, config))

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def console(serve, sqlite_url) -> Iterator[Running]:
    yield serve(sqlite_url)
