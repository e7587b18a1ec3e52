"""The hostile corpus (tests/hostile.py) in every report format: bidi overrides, zero-width
characters, terminal escapes and carriage returns are gone from titles, cells and links."""
from __future__ import annotations

import io
import zipfile

from docx import Document as Word

from reports.document import Document, Link, Paragraph, Section, Table
from reports.render import to_docx, to_html, to_markdown
from tests.hostile import BIDI, TITLES, URLS, ZERO_WIDTH, assert_clean_terminal


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
