"""`jingyu search` on a real SQLite warehouse: a table with names, files with full text, and
exit 2 with the reason for a search that does not parse."""
from __future__ import annotations

import pandas as pd
import pytest

from flows.cli import main
from tests.reports.seeding import DAY_START, POSTS, seed


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'warehouse.db'}"
    seed(url).close()
    return url


def test_prints_hits_with_names_and_links(database, capsys):
    assert main(["search", "临江 交警", "--database", database]) == 0
    out = capsys.readouterr().out
    story = [p for p in POSTS if "临江交警" in p.title]
    assert out.startswith(f"共 {len(story)} 条，按时间排序，显示第 1–{len(story)} 条")
    assert "临江新闻" in out and "临江区" in out          # source and jurisdiction names
    assert "https://example.org/story/6" in out


def test_filters_and_window(database, capsys):
    assert main(["search", "青川民警", "--database", database, "--source", "qc_police",
                 "--since", "2026-11-25", "--until", "2026-11-26", "--limit", "500"]) == 0
    expected = [p for p in POSTS if "青川民警" in p.title and p.source_id == "qc_police"
                and DAY_START <= p.seen_at < DAY_START.replace(day=26)]
    assert capsys.readouterr().out.startswith(f"共 {len(expected)} 条")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_writes_full_text_with_names(database, tmp_path, capsys, suffix):
    out = tmp_path / f"hits{suffix}"
    assert main(["search", "执法", "--database", database, "-o", str(out)]) == 0
    assert f"-> {out}" in capsys.readouterr().out
    if suffix == ".csv":         # for programs: ids, their names beside them
        frame = pd.read_csv(out, encoding="utf-8-sig")
        source, text = "source_name", "text"
        assert {"post_id", "seen_at", "source_id", "jurisdiction", "jurisdiction_name",
                "url"} <= set(frame.columns)
    else:                        # for people: Chinese headers, names
        frame = pd.read_excel(out, sheet_name="数据")
        source, text = "来源", "全文"
        assert {"帖子ID", "发布时间（北京时间）", "辖区", "链接"} <= set(frame.columns)
    names = {"lj_news": "临江新闻", "qc_police": "青川公安", "yx_forum": "云溪论坛"}
    matching = [p for p in POSTS if "执法" in p.title]
    assert len(frame) == len(matching)
    assert set(frame[source]) == {names[p.source_id] for p in matching}
    assert all("执法" in t for t in frame[text])


def test_bad_search_exits_2_with_the_reason(database, capsys):
    assert main(["search", "(辅警 OR", "--database", database]) == 2
    err = capsys.readouterr().err
    assert "cannot read the search" in err and "column" in err
