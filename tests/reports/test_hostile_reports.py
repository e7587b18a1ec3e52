"""The hostile corpus (tests/hostile.py) in every report format: bidi overrides, zero-width
characters, terminal escapes and carriage returns are gone from titles, cells and links."""
from __future__ import annotations

import io
import re
import uuid
import zipfile
from html import unescape as html_unescape
from urllib.parse import urlsplit

import pytest
from docx import Document as Word
from markdown_it import MarkdownIt
from sqlalchemy import create_engine, text

from reports.document import Document, Link, Paragraph, Section, Table
from reports.render import to_docx, to_html, to_markdown
from tests.hostile import (
    BIDI,
    TITLES,
    URLS,
    ZERO_WIDTH,
    assert_clean_terminal,
)


def hostile_document() -> Document:
    rows = tuple((Link(title, url), title) for title, url in zip(TITLES, [*URLS] * 4))
    return Document(title=BIDI + "日报", subtitle=ZERO_WIDTH, sections=(
        Section(ZERO_WIDTH + "热点", (Paragraph(" ".join(TITLES)),
                                      Table(headers=("标题", "正文"), rows=rows,
                                            caption=BIDI))),))


def test_html_markdown_and_word_carry_no_invisible_characters():
    document = hostile_document()
    assert_clean_terminal(to_html(document).replace("\n", " "))
    assert_clean_terminal(to_markdown(document).replace("\n", " "))
    data = to_docx(document)
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    assert_clean_terminal(xml.replace("\n", " "))
    word = Word(io.BytesIO(data))
    text = "\n".join(p.text for p in word.paragraphs)
    assert "警民冲突" in text and "民警打人" in text     # what was hidden is now plain to see


# ---- the 专报 of an incident whose posts, authors, platforms and links are the corpus ------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hostile_report(request, tmp_path_factory):
    """On both databases: PostgreSQL refused the whole fetch when an author or a platform
    was longer than its column."""
    from flows.reporting import load_labels
    from reports.incident import build_incident_report
    from tests.reports.planted import NOW, add_hostile, load, open_incident

    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'w.db'}", None
    else:
        admin_url = request.getfixturevalue("postgres_admin_url")
        name = f"jingyu_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    try:
        warehouse = load(url)
        try:
            add_hostile(warehouse)
            incident = open_incident(warehouse, evidence_group="hostile")
            yield build_incident_report(warehouse, incident, labels=load_labels(), now=NOW)
        finally:
            warehouse.close()
    finally:
        if drop:
            drop()


def _cells(document: Document, caption: str) -> list[str]:
    table = next(t for t in document.tables() if t.caption.startswith(caption))
    return [c.text if isinstance(c, Link) else str(c) for row in table.rows for c in row]


def test_the_corpus_reaches_every_new_section(hostile_report):
    # otherwise the checks below would prove nothing
    assert any("警民冲突" in c for c in _cells(hostile_report, "转发、评论最多的帖子"))
    assert any("<script>" in c for c in _cells(hostile_report, "转发、评论最多的账号"))
    assert any("伪造标题" in c for c in _cells(hostile_report, "传播平台"))
    assert any("点击查看处置通知" in c for c in _cells(hostile_report, "最早发布者"))
    assert any("伪造标题" in c for c in _cells(hostile_report, "告警证据"))
    # longer than their columns: cut, not refused
    assert any(len(c) == 40 for c in _cells(hostile_report, "传播平台"))


def test_the_incident_report_stays_inert_in_html(hostile_report, page, screenshot, tmp_path):
    html = to_html(hostile_report)
    assert_clean_terminal(html.replace("\n", " "))
    assert "<script>" not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html.lower() and 'href="data:' not in html
    path = tmp_path / "zhuanbao.html"
    path.write_text(html, encoding="utf-8")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    assert page.locator("img").count() == 4 and not dialogs       # the four charts, no more
    for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
        assert href.startswith(("http://", "https://")), href
        assert urlsplit(href).hostname != "evil.example", href
    shown = page.inner_text("body")
    assert "<script>alert('x')</script>" in shown               # as text, to be seen
    assert "民警打人" in shown and "警民冲突" in shown
    screenshot(page, "hostile-zhuanbao")


def test_the_incident_report_stays_inert_in_markdown_and_word(hostile_report):
    markdown = to_markdown(hostile_report)
    assert_clean_terminal(markdown.replace("\n", " "))
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert not any("伪造" in line for line in headings)
    assert "<script>" not in markdown and "](javascript" not in markdown.lower()
    # read by a CommonMark parser (with tables): the links it makes, and no raw HTML
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<script" not in rendered and "<img" not in rendered and "<at " not in rendered
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert hrefs
    for href in hrefs:
        assert href.startswith(("http://", "https://")), href
        assert urlsplit(html_unescape(href)).hostname != "evil.example", href
    data = to_docx(hostile_report)
    package = zipfile.ZipFile(io.BytesIO(data))
    xml = package.read("word/document.xml").decode()
    assert_clean_terminal(xml.replace("\n", " "))
    assert "<script>" not in xml and "instrText" not in xml
    rels = package.read("word/_rels/document.xml.rels").decode()
    for target in re.findall(r'Target="([^"]+)" TargetMode="External"', rels):
        assert target.startswith(("http://", "https://")), target
        assert urlsplit(html_unescape(target)).hostname != "evil.example", target
    cells = [c.text for t in Word(io.BytesIO(data)).tables for r in t.rows for c in r.cells]
    assert any("<script>alert('x')</script>" in c for c in cells)
