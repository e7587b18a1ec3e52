"""`jingyu query`, `jingyu report` and `jingyu db archive` on a real SQLite warehouse."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from docx import Document as Word
from sqlalchemy import create_engine, text

from flows.cli import _parser, main
from tests.reports.seeding import DAY_START, POSTS, in_window, seed
from warehouse.queries import QUERIES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'warehouse.db'}"
    seed(url).close()
    return url


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text(f"select count(*) from {table}")).scalar()
    engine.dispose()
    return n


def test_list_describes_every_query(capsys):
    assert main(["query", "--list"]) == 0
    out = capsys.readouterr().out
    for name in QUERIES:
        assert re.search(rf"^{name}\s", out, re.M)


def test_named_query_prints_a_table(database, capsys):
    assert main(["query", "volume", "--database", database, "--since", "2026-11-25",
                 "--until", "2026-11-26", "--by", "day,polarity"]) == 0
    out = capsys.readouterr().out
    negative = len(in_window(DAY_START, DAY_START.replace(day=26), polarity="negative"))
    assert re.search(rf"2026-11-25\s+negative\s+{negative}\s", out)
    assert "rows: volume (2026-11-25 00:00 – 2026-11-26 00:00 (Asia/Shanghai))" in out


def test_stance_filter_is_the_hot_spots_question(database, capsys):
    # the seed gives every post a stance equal to its mood: --stance counts those posts
    assert main(["query", "volume", "--database", database, "--since", "2026-11-25",
                 "--until", "2026-11-26", "--by", "day", "--stance", "negative"]) == 0
    negative = len(in_window(DAY_START, DAY_START.replace(day=26), polarity="negative"))
    assert re.search(rf"2026-11-25\s+{negative}\s", capsys.readouterr().out)
    assert main(["query", "top_events", "--database", database, "--since", "2026-11-25",
                 "--until", "2026-11-26", "--stance", "negative", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "临江交警执法争议视频引发关注" in out and "negative_police_p" in out
    assert main(["query", "patrol", "--database", database, "--stance", "negative"]) == 2


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_output_by_extension(database, tmp_path, capsys, suffix):
    out = tmp_path / f"posts{suffix}"
    assert main(["query", "posts", "--database", database, "--since", "2026-11-25",
                 "--until", "2026-11-26", "--limit", "100", "-o", str(out)]) == 0
    expected = len(in_window(DAY_START, DAY_START.replace(day=26)))
    assert f"{expected} rows -> {out}" in capsys.readouterr().out
    frame = {".csv": lambda p: pd.read_csv(p, encoding="utf-8-sig"),
             ".xlsx": pd.read_excel, ".parquet": pd.read_parquet}[suffix](out)
    columns = ("帖子ID", "链接", "全文") if suffix == ".xlsx" else ("post_id", "url", "text")
    assert len(frame) == expected and all(c in frame for c in columns)


def test_sql_reads_but_never_writes(database, capsys):
    assert main(["query", "--database", database, "--sql",
                 "select count(*) as n from posts"]) == 0
    assert re.search(rf"^{len(POSTS)}\s*$", capsys.readouterr().out, re.M)
    assert main(["query", "--database", database, "--sql", "delete from posts"]) == 1
    assert "refused" in capsys.readouterr().err
    assert main(["query", "--database", database, "--sql", "select 1; delete from posts"]) == 2
    assert _count(database, "posts") == len(POSTS)


def test_wrong_filter_exits_2(database, capsys):
    assert main(["query", "patrol", "--database", database, "--topic", "police"]) == 2
    assert "does not take --topic" in capsys.readouterr().err


def test_terminal_output_strips_control_characters(database, capsys):
    assert main(["query", "--database", database, "--sql",
                 "select 'a' || char(27) || '[31mred' as t"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "ared" in out      # the escape sequence whole


def test_report_daily_and_handover(database, tmp_path, capsys):
    brief = tmp_path / "brief.docx"
    assert main(["report", "daily", "--date", "2026-11-25", "--database", database,
                 "-o", str(brief)]) == 0
    word = Word(str(brief))
    assert word.paragraphs[0].text == "舆情日报 2026-11-25（全部辖区）"
    assert len(word.inline_shapes) == 4
    html = tmp_path / "brief.html"
    assert main(["report", "daily", "--date", "2026-11-25", "--jurisdiction",
                 "qingchuan.linjiang", "--database", database, "-o", str(html)]) == 0
    assert "舆情日报 2026-11-25（临江区）" in html.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["report", "handover", "--from", "2026-11-26 00:00", "--to",
                 "2026-11-26 08:00", "--database", database]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# 交接班记录 2026-11-26 00:00 至 2026-11-26 08:00")
    assert "移交下一班的未结事件" in out


def test_db_archive(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    seed(url).close()
    out = tmp_path / "old.parquet"
    before = DAY_START.replace(day=22)
    expected = sum(p.seen_at < before for p in POSTS)
    assert main(["db", "archive", "--before", "2026-11-22", "-o", str(out),
                 "--database", url]) == 0
    assert f"archived {expected} posts" in capsys.readouterr().out
    assert len(pd.read_parquet(out)) == expected
    assert _count(url, "posts") == len(POSTS) - expected


def test_docs_mention_every_option():
    docs = (REPO / "docs" / "warehouse.md").read_text(encoding="utf-8")
    parser = _parser()
    commands = parser._subparsers._group_actions[0].choices        # noqa: SLF001
    subparsers = [commands["query"],
                  commands["report"]._subparsers._group_actions[0].choices["daily"],  # noqa: SLF001
                  commands["report"]._subparsers._group_actions[0].choices["handover"],  # noqa: SLF001
                  commands["db"]._subparsers._group_actions[0].choices["archive"]]  # noqa: SLF001
    for sub in subparsers:
        for action in sub._actions:                                  # noqa: SLF001
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in docs, f"docs/warehouse.md does not mention {option}"


def test_daily_brief_flow_writes_files_and_an_artifact(prefect_harness, database, tmp_path):
    import httpx
    from prefect.settings import PREFECT_API_URL

    from flows.reporting import daily_brief

    result = daily_brief(database_url=database, day="2026-11-25", output_dir=str(tmp_path))
    assert sorted(Path(f).suffix for f in result["files"]) == [".docx", ".html", ".md"]
    assert all(Path(f).stat().st_size > 0 for f in result["files"])
    assert result["facts"]["posts"] == len(in_window(DAY_START, DAY_START.replace(day=26)))
    # The REST API directly: this Prefect client sends nulls its own server rejects (422).
    found = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", json={
        "artifacts": {"key": {"any_": ["daily-brief-all"]}}, "limit": 5, "offset": 0,
        "sort": "UPDATED_DESC"}).json()
    assert found and found[0]["type"] == "markdown"
    assert "舆情日报 2026-11-25" in found[0]["data"]
