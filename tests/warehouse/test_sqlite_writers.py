"""Many sources storing at once into one SQLite file (a cycle's store tasks): none of them
ends with "database is locked", however long the others hold the write lock."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

import warehouse.db
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.models import Post
from warehouse.store import Warehouse

SOURCES, ITEMS = 16, 200
T0 = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


def fetch(source: str) -> tuple[FetchResult, list[ScoredPost]]:
    posts = tuple(RawPost(source_id=source, external_id=f"{source}-{i}",
                          url=f"https://x.example/{source}/{i}", title=f"标题{i}",
                          body=f"{source} 第{i}条 辅警执法" * 20, author="网友",
                          published_at=T0 + timedelta(seconds=i),
                          fetched_at=T0 + timedelta(seconds=i)) for i in range(ITEMS))
    scored = [ScoredPost(raw=p, text=p.body, content_hash=f"h-{p.external_id}", keywords=(),
                         police_related=True, police_terms=(), sentiment=0.3,
                         polarity="negative", topics=(), rule_hits=(), high_risk=False)
              for p in posts]
    return FetchResult(source_id=source, status=FETCH_OK, cursor=SourceCursor(),
                       posts=posts), scored


def test_sources_storing_at_once_into_sqlite_all_get_stored(sqlite_url, monkeypatch) -> None:
    # A short busy timeout stands for a long, loaded cycle: a writer left to SQLite's polling
    # for the lock gave up with "database is locked" after 30 s under load.
    monkeypatch.setattr(warehouse.db, "SQLITE_BUSY_S", 0.05)
    wh = Warehouse(sqlite_url)
    ids = [f"s{n}" for n in range(SOURCES)]
    wh.sync_sources([SourceConfig(id=i, name=i, kind="feed", url=f"http://x/{i}") for i in ids])
    run = wh.start_run(T0)
    work = {i: fetch(i) for i in ids}
    errors: list[BaseException] = []
    start = threading.Barrier(SOURCES)

    def store(source: str) -> None:
        own = Warehouse(sqlite_url)       # a task's own engine, as the cycle's tasks have
        try:
            start.wait()
            result, scored = work[source]
            own.store_fetch(run, result, scored, T0 + timedelta(minutes=5))
        except BaseException as exc:      # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=store, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    with wh.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Post)) == SOURCES * ITEMS
    wh.close()
