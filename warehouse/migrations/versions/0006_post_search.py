"""post search: substring index over posts' title and text (SQLite FTS5 trigram, PostgreSQL
GIN over character bigrams)

Revision ID: 0006
Revises: 0005

Chinese search terms are mostly two characters (辅警, 袭警, 夜市). SQLite's FTS5 trigram
tokenizer finds terms of three characters and more through its index; shorter ones are read
from posts (a 200,000-post warehouse in about 0.1 s). On PostgreSQL, pg_trgm cannot index a
two-character term either (a scan of a 1,000,000-post table takes ~0.4 s per term, more under
load), so the index holds each post's distinct character bigrams instead
(jingyu_bigrams: lower-cased, a GIN over a text[]): every term of two characters or more
narrows the candidates through it and is then checked as a substring. Building it took
15 minutes for 1,000,000 posts on a busy two-core machine (benchmarks/bench_search.py).
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SQLITE_UP = (
    "CREATE VIRTUAL TABLE posts_search USING fts5(title, text, content='posts', "
    "content_rowid='id', tokenize='trigram')",
    "INSERT INTO posts_search(posts_search) VALUES ('rebuild')",
    """CREATE TRIGGER posts_search_insert AFTER INSERT ON posts BEGIN
         INSERT INTO posts_search(rowid, title, text) VALUES (new.id, new.title, new.text);
       END""",
    """CREATE TRIGGER posts_search_delete AFTER DELETE ON posts BEGIN
         INSERT INTO posts_search(posts_search, rowid, title, text)
         VALUES ('delete', old.id, old.title, old.text);
       END""",
    """CREATE TRIGGER posts_search_update AFTER UPDATE OF title, text ON posts BEGIN
         INSERT INTO posts_search(posts_search, rowid, title, text)
         VALUES ('delete', old.id, old.title, old.text);
         INSERT INTO posts_search(rowid, title, text) VALUES (new.id, new.title, new.text);
       END""",
)
SQLITE_DOWN = ("DROP TRIGGER posts_search_update", "DROP TRIGGER posts_search_delete",
               "DROP TRIGGER posts_search_insert", "DROP TABLE posts_search")

POSTGRES_UP = (
    # COST: computing a post's bigrams costs far more than testing a substring; the planner
    # must know, or it recomputes them for every post it scans instead of using the index.
    """CREATE FUNCTION jingyu_bigrams(doc text) RETURNS text[]
       LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10000 AS $$
         SELECT coalesce(array_agg(DISTINCT substr(d.folded, i, 2)), '{}')
         FROM (SELECT lower(doc) AS folded) d, generate_series(1, length(d.folded) - 1) AS i
       $$""",
    "SET LOCAL maintenance_work_mem = '256MB'",
    "CREATE INDEX ix_posts_search_bigrams ON posts USING gin "
    "(jingyu_bigrams(title || ' ' || text))",
)
POSTGRES_DOWN = ("DROP INDEX ix_posts_search_bigrams", "DROP FUNCTION jingyu_bigrams(text)")


def upgrade() -> None:
    for statement in POSTGRES_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in (POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql"
                      else SQLITE_DOWN):
        op.execute(statement)
