"""Exports people can hand on: Excel with Chinese headers, names, Beijing times as dates,
percentages, widths, frozen header, autofilter, links, full text and a 来源 sheet; CSV with a
byte-order mark, ids and names both. Through `jingyu query` and `jingyu search` on a real
SQLite warehouse."""
from __future__ import annotations

import csv
from datetime import datetime

import pytest
from openpyxl import load_workbook

from flows.cli import main
from tests.reports.seeding import DAY_START, POSTS, in_window, seed

DAY = ["--since", "2026-11-25", "--until", "2026-11-26"]


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('exports') / 'warehouse.db'}"
    seed(url).close()
    return url


def _sheet(path):
    book = load_workbook(path)
    return book["数据"], dict(book["来源"].values)


def test_excel_of_posts_reads_like_a_table_for_people(database, tmp_path, capsys):
    out = tmp_path / "posts.xlsx"
    assert main(["query", "posts", "--database", database, *DAY, "--limit", "500",
                 "--jurisdiction", "qingchuan.linjiang", "-o", str(out)]) == 0
    sheet, about = _sheet(out)
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["帖子ID", "发布时间（北京时间）", "来源", "辖区"]
    assert {"倾向", "涉警", "标题", "链接", "全文"} <= set(header)
    rows = list(sheet.iter_rows(min_row=2))
    posts = in_window(DAY_START, DAY_START.replace(day=26), jurisdiction="qingchuan.linjiang")
    assert len(rows) == len(posts)
    col = {name: header.index(name) for name in header}
    first = rows[0]
    assert isinstance(first[col["发布时间（北京时间）"]].value, datetime)
    assert first[col["发布时间（北京时间）"]].number_format == "yyyy-mm-dd hh:mm"
    assert {r[col["来源"]].value for r in rows} <= {"临江新闻"}                # names, not ids
    assert {r[col["辖区"]].value for r in rows} == {"临江区"}
    assert {r[col["倾向"]].value for r in rows} <= {"负面", "中性", "正面"}
    assert {r[col["涉警"]].value for r in rows} == {"是"}
    link = first[col["链接"]]
    assert link.hyperlink.target == link.value and link.value.startswith("https://")
    assert first[col["全文"]].value and first[col["全文"]].alignment.wrap_text
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}{len(rows) + 1}"
    assert sheet.column_dimensions["A"].width < sheet.column_dimensions[
        sheet.cell(1, col["全文"] + 1).column_letter].width
    assert about["查询"] == "posts" and about["行数"] == str(len(rows))
    assert about["统计时段（北京时间）"] == "2026-11-25 00:00 至 2026-11-26 00:00"
    assert about["辖区（含下级）"] == "临江区（qingchuan.linjiang）"
    assert about["数据仓库"].startswith("sqlite:///") and "生成时间（北京时间）" in about


def test_excel_percentages_dates_and_topic_names(database, tmp_path):
    out = tmp_path / "volume.xlsx"
    assert main(["query", "volume", "--database", database, *DAY, "--by", "day,topic",
                 "-o", str(out)]) == 0
    sheet, _ = _sheet(out)
    header = [c.value for c in sheet[1]]
    assert header == ["日期", "话题", "条数", "负面条数", "负面占比", "涉警条数"]
    row = next(sheet.iter_rows(min_row=2))
    assert row[0].value == datetime(2026, 11, 25) and row[0].number_format == "yyyy-mm-dd"
    assert row[1].value in ("涉警", "执法争议", "交通管理")
    assert row[4].number_format == "0.0%" and 0 <= row[4].value <= 1


def test_csv_keeps_ids_and_adds_names(database, tmp_path):
    out = tmp_path / "posts.csv"
    assert main(["query", "posts", "--database", database, *DAY, "--limit", "500",
                 "-o", str(out)]) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                                   # UTF-8 BOM
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0].keys() >= {"post_id", "source_id", "source_name", "jurisdiction",
                              "jurisdiction_name", "seen_at", "text"}
    names = {(r["source_id"], r["source_name"]) for r in rows}
    assert ("lj_news", "临江新闻") in names and ("qc_police", "青川公安") in names
    assert {(r["jurisdiction"], r["jurisdiction_name"]) for r in rows} >= {
        ("qingchuan.linjiang", "临江区")}


def test_search_export_says_which_search(database, tmp_path, capsys):
    out = tmp_path / "hits.xlsx"
    assert main(["search", "临江 交警", "--database", database, "--order", "relevance",
                 "-o", str(out)]) == 0
    sheet, about = _sheet(out)
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["帖子ID", "发布时间（北京时间）", "来源"] and "全文" in header
    assert sheet.max_row - 1 == sum("临江交警" in p.title for p in POSTS)
    assert about["检索式"] == "临江 交警" and about["排序"].startswith("相关度")


def test_links_that_are_not_http_are_not_hyperlinks(tmp_path):
    from reports.tables import write_table
    from warehouse.queries import QueryResult

    result = QueryResult(name="posts", columns=["post_id", "url"],
                         rows=[(1, "javascript:alert(1)"), (2, "https://example.org/a")])
    sheet, _ = _sheet(write_table(result, tmp_path / "x.xlsx"))
    assert sheet["B2"].hyperlink is None and sheet["B3"].hyperlink.target == "https://example.org/a"
