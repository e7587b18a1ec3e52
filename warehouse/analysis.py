"""The named queries as pandas DataFrames, for notebooks.

    from warehouse import analysis
    analysis.volume("2026-11-01", "2026-11-26", by=("day", "topic"), jurisdiction="qingchuan")
    analysis.top_stories("2026-11-25", "2026-11-26", polarity="negative")
    analysis.sql("select topic_id, count(*) from post_topics group by topic_id")

Times given as text or naive datetimes are Asia/Shanghai; results show Asia/Shanghai time.
The database is `database=` or $JINGYU_DATABASE_URL (see warehouse.db.database_url).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache

import pandas as pd
from sqlalchemy import Engine

from jingyu.timeutil import parse_local
from warehouse.db import database_url, ensure_schema, make_engine
from warehouse.queries import (
    QueryParams,
    QueryResult,
    readonly_engine,
    run_query,
    run_sql,
)

When = str | date | datetime


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    engine = make_engine(url)
    ensure_schema(engine)
    return engine


def _frame(result: QueryResult) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(result.rows, columns=result.columns)
    frame.attrs["query"] = result.name
    frame.attrs["window"] = result.params.describe() if result.params else ""
    return frame


def named(name: str, since: When, until: When, *, database: str | None = None,
          by: Sequence[str] = ("day",), limit: int = 20, topic: str | None = None,
          jurisdiction: str | None = None, source: str | None = None,
          polarity: str | None = None) -> pd.DataFrame:
    """Any named query (see `jingyu query --list`) as a DataFrame."""
    params = QueryParams(since=parse_local(since), until=parse_local(until), topic=topic,
                         jurisdiction=jurisdiction, source=source, polarity=polarity,
                         by=tuple(by), limit=limit)
    return _frame(run_query(_engine(database or database_url()), name, params))


def volume(since: When, until: When, by: Sequence[str] = ("day",), **filters) -> pd.DataFrame:
    """Posts, negative, negative_share and police_related by hour|day, topic, jurisdiction,
    source, polarity."""
    return named("volume", since, until, by=by, **filters)


def top_stories(since: When, until: When, limit: int = 20, **filters) -> pd.DataFrame:
    """Provisional stories (content_hash groups) by growth over the window before."""
    return named("top_stories", since, until, limit=limit, **filters)


def posts(since: When, until: When, limit: int = 100, **filters) -> pd.DataFrame:
    return named("posts", since, until, limit=limit, **filters)


def alerts(since: When, until: When, limit: int = 100, **filters) -> pd.DataFrame:
    return named("alerts", since, until, limit=limit, **filters)


def incidents(since: When, until: When, **filters) -> pd.DataFrame:
    """Incidents with their 三同步 timings in minutes from first detection."""
    return named("incidents", since, until, **filters)


def source_health(since: When, until: When, **filters) -> pd.DataFrame:
    return named("source_health", since, until, **filters)


def patrol(since: When, until: When, **filters) -> pd.DataFrame:
    return named("patrol", since, until, **filters)


def sql(statement: str, *, database: str | None = None) -> pd.DataFrame:
    """One read-only SQL statement (UTC timestamps as stored) as a DataFrame; on PostgreSQL as
    the reader role (`jingyu db create-reader`): `database` or $JINGYU_READER_DATABASE_URL."""
    engine = readonly_engine(database or os.environ.get("JINGYU_READER_DATABASE_URL")
                             or database_url())
    try:
        return _frame(run_sql(engine, statement))
    finally:
        engine.dispose()
