"""Post text is hostile: <script> and formula injection go through every output defused."""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pytest
from docx import Document as Word
from openpyxl import load_workbook

from reports.daily import build_daily_brief
from reports.document import Document, Link, Paragraph, Section, Table
from reports.handover import build_handover
from reports.render import md_escape, to_docx, to_html, to_markdown
from reports.tables import write_table
from tests.reports.seeding import DAY, DAY_START, HOSTILE, NOW, seed
from warehouse.queries import QueryParams, run_query

FORMULAS = [t for t in HOSTILE if t[0] in "=+-@"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    w = seed(f"sqlite:///{tmp_path_factory.mktemp('esc') / 'w.db'}")
    yield w
    w.close()


@pytest.fixture(scope="module")
def documents(warehouse):
    return [build_daily_brief(warehouse, DAY, now=NOW),
            build_handover(warehouse, DAY_START + timedelta(hours=8),
                           DAY_START + timedelta(hours=20), now=NOW)]


def _hostile_rows(warehouse):
    return run_query(warehouse.engine, "posts", QueryParams(
        since=DAY_START + timedelta(hours=12), until=DAY_START + timedelta(hours=12, minutes=6),
        limit=50))


def test_hostile_posts_reach_the_reports(documents):
    # the stories tables quote the hostile titles: otherwise this test would prove nothing
    for document in documents:
        titles = [row[1].text for t in document.tables() for row in t.rows
                  if row and isinstance(row[1], Link)]
        assert HOSTILE[0] in titles


def test_html_is_autoescaped(documents):
    for document in documents:
        html = to_html(document)
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "<b>视频</b>" not in html and "&lt;b&gt;视频&lt;/b&gt;" in html
        assert 'href="javascript:' not in html
        assert "Content-Security-Policy" in html


def test_markdown_is_escaped(documents):
    for document in documents:
        text = to_markdown(document)
        assert "<script>" not in text and "&lt;script&gt;" in text
        assert "[链接](javascript" not in text
    brief = to_markdown(documents[0])                     # its top 10 quotes every hostile title
    assert "\\[链接\\](javascript" in brief
    assert "\\*\\*粗体\\*\\*" in brief and "\\| 表格" in brief


def test_markdown_links_only_for_http():
    table = Table(headers=("a",), rows=((Link("x", "javascript:alert(1)"),),
                                        (Link("y", "https://e.org/a b)c"),)))
    text = to_markdown(Document("t", "s", (Section("s", (table,)),)))
    assert "javascript" not in text
    assert "[y](<https://e.org/a%20b%29c>)" in text
    assert md_escape("- item") == "\\- item" and md_escape("1. item") == "1\\. item"


def test_word_has_plain_runs(documents):
    for document in documents:
        data = to_docx(document)
        word = Word(io.BytesIO(data))
        cells = [c.text for t in word.tables for r in t.rows for c in r.cells]
        assert any(HOSTILE[0] in c for c in cells)        # shown literally, as text
        xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
        assert "<script>" not in xml and "&lt;script&gt;" in xml
        assert "instrText" not in xml                     # no field codes from post text


def test_control_characters_never_reach_xml():
    hostile = "正文\x00\x07\x1b[31m红色\x0b"
    document = Document("t", "s", (Section("s", (Paragraph(hostile),)),))
    assert "\x1b" not in to_html(document) and "\x00" not in to_markdown(document)
    word = Word(io.BytesIO(to_docx(document)))
    assert "正文红色" in "\n".join(p.text for p in word.paragraphs)   # the escape sequence whole


def test_csv_cells_are_defused(warehouse, tmp_path):
    path = write_table(_hostile_rows(warehouse), tmp_path / "posts.csv")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    titles = {r["title"] for r in rows}
    for formula in FORMULAS:
        assert "'" + formula in titles and formula not in titles
    assert all(not r["title"].startswith(("=", "+", "-", "@")) for r in rows)
    assert {r["sentiment"] for r in rows} <= {"0.1", "0.5", "0.9"}   # numbers stay numbers


def test_excel_cells_are_text_not_formulas(warehouse, tmp_path):
    path = write_table(_hostile_rows(warehouse), tmp_path / "posts.xlsx")
    sheet = load_workbook(path).active
    header = [c.value for c in sheet[1]]
    titles = [row[header.index("标题")] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in titles)
    values = {cell.value for cell in titles}
    for formula in FORMULAS:
        assert "'" + formula in values
    assert not any(str(v).startswith(("=", "+", "-", "@")) for v in values)


def test_parquet_keeps_the_data_as_is(warehouse, tmp_path):
    # Parquet feeds programs, not spreadsheets: the text is stored unchanged.
    path = write_table(_hostile_rows(warehouse), tmp_path / "posts.parquet")
    assert set(FORMULAS) <= set(pd.read_parquet(path)["title"])


def test_report_of_a_query_window_with_only_hostile_posts(warehouse):
    params = replace(QueryParams(since=DAY_START, until=DAY_START + timedelta(days=1)),
                     source="qc_police", polarity="negative", limit=50)
    rows = run_query(warehouse.engine, "top_stories", params).records()
    assert {r["title"] for r in rows} >= set(HOSTILE)
