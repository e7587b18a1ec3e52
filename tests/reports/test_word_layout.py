"""Word layout a leader reads on A4 (issue 14): the widest tables of the brief and the 专报
with columns wide enough for their headers, the header row repeated on every page, rows
not split, headings and captions kept with what follows, charts within the page, Chinese
fonts found for the charts."""
from __future__ import annotations

import io

import pytest
from docx import Document as Word
from docx.oxml.ns import qn
from docx.shared import Cm

from flows.reporting import load_labels
from reports import charts
from reports.daily import build_daily_brief
from reports.incident import build_incident_report
from reports.render import CELL_PT, CHART_MAX_HEIGHT_CM, TEXT_WIDTH_CM, to_docx
from tests.reports.planted import DAY_START, NOW, load, open_incident

LABELS = load_labels()


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    warehouse = load(f"sqlite:///{tmp_path_factory.mktemp('word') / 'w.db'}")
    try:
        incident = open_incident(warehouse)
        documents = [build_daily_brief(warehouse, DAY_START.date(), labels=LABELS, now=NOW),
                     build_incident_report(warehouse, incident, labels=LABELS, now=NOW)]
    finally:
        warehouse.close()
    return [(d, Word(io.BytesIO(to_docx(d)))) for d in documents]


def _units(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def test_pages_are_a4_and_tables_fill_the_text_width(words):
    for document, word in words:
        page = word.sections[0]
        assert (round(page.page_width.cm, 1), round(page.page_height.cm, 1)) == (21.0, 29.7)
        assert len(word.tables) == len([t for t in document.tables() if t.rows])
        for table in word.tables:
            widths = [c.width for c in table.columns]
            assert abs(sum(w.cm for w in widths) - TEXT_WIDTH_CM) < 0.05
            for cell, width in zip(table.rows[0].cells, widths):
                # a header of up to five CJK characters on one line; longer ones on two:
                # the glyphs (a CJK character is CELL_PT wide), the Table Grid style's cell
                # margins (108 twips a side) and a little room, as LibreOffice lays them out
                # (序号 in a 0.96 cm column broke in two).
                header = cell.text
                units = _units(header)
                needed = ((units if units <= 10 else min(10, -(-units // 2))) / 2 * CELL_PT
                          / 72 * 2.54
                          + 2 * 108 / 1440 * 2.54 + 0.05)
                assert width >= Cm(needed), (header, width.cm, needed)
            # the column of the longest texts (a post's title, a long header) is the widest
            longest = max(range(len(widths)), key=lambda i: max(
                _units(r.cells[i].paragraphs[0].text) for r in table.rows))
            assert widths[longest] == max(widths), [c.text for c in table.rows[0].cells]


def test_header_rows_repeat_and_rows_do_not_split(words):
    for _, word in words:
        for table in word.tables:
            rows = table.rows
            assert rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
            assert all(r._tr.trPr.find(qn("w:cantSplit")) is not None for r in rows)


def test_headings_captions_and_charts_keep_with_what_follows(words):
    for document, word in words:
        headings = [p for p in word.paragraphs if p.style.name == "Heading 1"]
        assert len(headings) == len(document.sections)
        assert all(p.paragraph_format.keep_with_next for p in headings)
        pictures = word.inline_shapes
        assert len(pictures) >= 4
        for shape in pictures:
            assert shape.width.cm <= TEXT_WIDTH_CM and shape.height.cm <= CHART_MAX_HEIGHT_CM + 0.01


def test_charts_are_in_chinese_when_a_cjk_font_exists():
    font = charts.cjk_font()
    assert font is not None, "no CJK font: scripts/setup.sh installs fonts-noto-cjk"
    assert charts.label("负面", "negative") == "负面"


def test_a_font_list_cached_before_the_cjk_font_is_rebuilt(tmp_path, monkeypatch):
    """matplotlib's font list cached before fonts-noto-cjk was installed: `jingyu doctor`
    (reports.charts.rebuild_font_cache) adds the font and saves the list, so charts of every
    later process are in Chinese."""
    import json

    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    # the list as cached before: no entry from a CJK font file
    stale = [f for f in manager.ttflist if "CJK" not in f.fname]
    assert len(stale) < len(manager.ttflist), "no CJK font: scripts/setup.sh installs one"
    monkeypatch.setattr(manager, "ttflist", stale)
    monkeypatch.setattr(matplotlib, "get_cachedir", lambda: str(tmp_path))
    charts.cjk_font.cache_clear()
    try:
        assert charts._installed_cjk() is None
        font, cache = charts.rebuild_font_cache()
        assert font in charts.CJK_FAMILIES
        assert cache.parent == tmp_path
        saved = {entry["name"] for entry in json.loads(cache.read_text())["ttflist"]}
        assert font in saved
    finally:
        charts.cjk_font.cache_clear()
