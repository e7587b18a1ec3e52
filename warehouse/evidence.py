"""固证 in the warehouse: which incident posts still need their page kept, the captures made
(one per post: its WARC file, SHA-256 and fetch time), and an incident's evidence bundle."""
from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, select_autoescape
from sqlalchemy import select

from collectors.evidence import EvidenceCapture
from jingyu.display import one_line
from jingyu.timeutil import as_utc_naive, from_db, shanghai
from warehouse.incident_posts import posts_of_incident
from warehouse.incidents import IncidentStore
from warehouse.models import EvidenceRow, IncidentRow
from warehouse.store import Warehouse

MAX_ATTEMPTS = 3                 # a page that cannot be fetched is tried in 3 cycles, then left
OPEN = ("new", "acknowledged", "handling")      # alerts.incidents.incident.Status, open ones


@dataclass(frozen=True)
class Wanted:
    incident_id: int
    post_id: int
    url: str


def wanted(warehouse: Warehouse, limit: int) -> list[Wanted]:
    """Posts of open (non-watchdog) incidents with a link and no kept page yet, oldest
    incidents first, at most `limit`."""
    store = IncidentStore(warehouse)
    with warehouse.engine.connect() as conn:
        incidents = conn.execute(select(IncidentRow.id)
                                 .where(IncidentRow.kind != "watchdog",
                                        IncidentRow.status.in_(OPEN))
                                 .order_by(IncidentRow.id)).scalars().all()
        tried = {row.post_id: row for row in conn.execute(select(EvidenceRow))}
    found: list[Wanted] = []
    for incident_id in incidents:
        for post in _posts(store, store.get(incident_id)):
            previous = tried.get(post.id)
            if not post.url or (previous is not None and (
                    previous.status == "kept" or previous.attempts >= MAX_ATTEMPTS)):
                continue
            found.append(Wanted(incident_id, post.id, post.url))
            tried.setdefault(post.id, None)   # once per post, whichever incident
            if len(found) >= limit:
                return found
    return found


def _posts(store: IncidentStore, incident) -> list:
    """The posts of an incident, as its 专报 lists them (evidence of all its alerts, their
    stories, its event, its official statement)."""
    return posts_of_incident(store, incident)[1]


def record(warehouse: Warehouse, incident_id: int, capture: EvidenceCapture) -> None:
    """Keep a capture attempt: the first kept page of a post is never replaced."""
    with warehouse._session.begin() as session:
        row = session.scalar(select(EvidenceRow).where(EvidenceRow.post_id == capture.post_id))
        if row is None:
            row = EvidenceRow(post_id=capture.post_id, attempts=0)
            session.add(row)
        elif row.status == "kept":
            return
        row.incident_id = incident_id
        row.url = capture.url
        row.fetched_at = as_utc_naive(capture.fetched_at)
        row.status = capture.status
        row.http_status = capture.http_status
        row.sha256, row.warc_sha256 = capture.sha256, capture.warc_sha256
        row.size, row.path, row.error = capture.size, capture.path, capture.error
        row.attempts = (row.attempts or 0) + 1


@dataclass(frozen=True)
class BundleEntry:
    post_id: int
    url: str
    title: str
    author: str | None
    source: str
    seen_at: datetime | None
    fetched_at: datetime | None
    status: str
    http_status: int | None
    sha256: str | None
    warc_sha256: str | None
    warc: str | None
    error: str | None


def export_bundle(warehouse: Warehouse, incident_id: int, folder: Path, output: Path,
                  now: datetime) -> list[BundleEntry]:
    """Write `output` (zip): warc/ files, manifest.json and index.html for the incident's
    posts; posts never captured are listed with why. Returns the manifest's entries."""
    store = IncidentStore(warehouse)
    incident = store.get(incident_id)
    posts = _posts(store, incident)
    with warehouse.engine.connect() as conn:
        captures = {row.post_id: row for row in conn.execute(
            select(EvidenceRow).where(EvidenceRow.post_id.in_([p.id for p in posts] or [-1])))}
    entries: list[BundleEntry] = []
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as bundle:
        for post in posts:
            row = captures.get(post.id)
            warc = None
            if row is not None and row.path and (folder / row.path).is_file():
                warc = f"warc/{Path(row.path).name}"
                bundle.write(folder / row.path, warc)
            entries.append(BundleEntry(
                post_id=post.id, url=post.url or "", title=post.title or post.text[:60],
                author=post.author, source=post.source_name, seen_at=post.seen_at,
                fetched_at=from_db(row.fetched_at) if row else None,
                status=row.status if row else ("no link" if not post.url else "not captured"),
                http_status=row.http_status if row else None,
                sha256=row.sha256 if row else None, warc_sha256=row.warc_sha256 if row else None,
                warc=warc, error=row.error if row else None))
        manifest = {"incident": incident_id, "title": incident.title,
                    "generated_at": now.isoformat(), "posts": [_plain(e) for e in entries]}
        bundle.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        bundle.writestr("index.html", _index(incident_id, incident.title, entries, now))
    return entries


def _plain(entry: BundleEntry) -> dict:
    values = dict(entry.__dict__)
    for key in ("seen_at", "fetched_at"):
        values[key] = values[key].isoformat() if values[key] else None
    return values


_TEMPLATE = Environment(autoescape=select_autoescape(default=True)).from_string("""\
<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>固证 事件 #{{ incident }}</title>
<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #999;padding:4px;
vertical-align:top}table{border-collapse:collapse}code{font-size:85%}</style></head>
<body><h1>固证清单 · 事件 #{{ incident }}</h1><p>{{ title }}</p>
<p>生成时间 {{ generated }}（北京时间）。每条网页原样保存为 WARC 文件，SHA-256 为网页内容的摘要。</p>
<table><tr><th>帖子</th><th>来源</th><th>发布</th><th>固证时间</th><th>状态</th><th>SHA-256</th><th>文件</th></tr>
{% for e in entries %}<tr><td>{{ e.title }}<br><code>{{ e.url }}</code></td><td>{{ e.source }}
{% if e.author %}<br>{{ e.author }}{% endif %}</td><td>{{ local(e.seen_at) }}</td>
<td>{{ local(e.fetched_at) }}</td><td>{{ e.status }}{% if e.http_status %} (HTTP {{ e.http_status }}){% endif %}
{% if e.error %}<br>{{ e.error }}{% endif %}</td><td><code>{{ e.sha256 or "" }}</code></td>
<td>{% if e.warc %}<a href="{{ e.warc }}">{{ e.warc }}</a>{% endif %}</td></tr>
{% endfor %}</table></body></html>
""")


_SHOWN = ("title", "url", "author", "source", "error")


def _index(incident_id: int, title: str, entries: Sequence[BundleEntry], now: datetime) -> str:
    def local(value: datetime | None) -> str:
        return shanghai(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"
    # Titles, links, authors, sources and errors come from strangers: one clean line each
    # (no bidi override or zero-width character reorders or hides what the page shows), and
    # escaped by the template. The manifest keeps them as they were stored.
    shown = [replace(e, **{key: one_line(value) for key in _SHOWN
                           if (value := getattr(e, key))}) for e in entries]
    return _TEMPLATE.render(incident=incident_id, title=one_line(title), entries=shown,
                            generated=local(now), local=local)
