"""Render a report Document as HTML (Jinja2, autoescaped), Markdown (escaped) or Word (plain
runs); the format is chosen by the output file's extension."""
from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape

from reports.document import Chart, Document, Link, Paragraph, Table, clean, safe_url

FORMATS = (".html", ".md", ".docx")
CJK_FONT = "Noto Sans CJK SC"


def write(document: Document, path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot write a report as {path.name}: use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        path.write_text(to_html(document), encoding="utf-8")
    elif suffix == ".md":
        path.write_text(to_markdown(document), encoding="utf-8")
    else:
        path.write_bytes(to_docx(document))
    return path


def _cell(value: Any) -> dict[str, Any]:
    if isinstance(value, Link):
        return {"text": clean(value.text), "url": safe_url(value.url), "num": False,
                "nowrap": False}
    text = f"{value:g}" if isinstance(value, float) else clean(value)
    return {"text": text, "url": None, "num": isinstance(value, (int, float)),
            "nowrap": _unbreakable(text)}


def _unbreakable(text: str) -> bool:
    """A short text (待签收, 新出现) or an ASCII one such as a date and time: one line."""
    units = _units(text)
    return units <= SHORT_UNITS or (text.isascii() and units <= NO_BREAK_UNITS)


# ---- HTML ----------------------------------------------------------------------------------

_ENV = Environment(loader=PackageLoader("reports", "templates"),
                   autoescape=select_autoescape(["html", "j2"], default=True))


def to_html(document: Document) -> str:
    sections = []
    for section in document.sections:
        blocks = []
        for block in section.blocks:
            if isinstance(block, Paragraph):
                blocks.append({"kind": "paragraph", "text": clean(block.text)})
            elif isinstance(block, Chart):
                blocks.append({"kind": "chart", "title": clean(block.title),
                               "alt": clean(block.alt),
                               "png": base64.b64encode(block.png).decode("ascii")})
            else:
                blocks.append({"kind": "table", "caption": clean(block.caption),
                               "headers": [clean(h) for h in block.headers],
                               "rows": [[_cell(c) for c in row] for row in block.rows],
                               "empty": clean(block.empty)})
        sections.append({"title": clean(section.title), "blocks": blocks})
    return _ENV.get_template("report.html.j2").render(doc={
        "title": clean(document.title), "subtitle": clean(document.subtitle),
        "sections": sections})


# ---- Markdown ------------------------------------------------------------------------------

_MD_INLINE = re.compile(r"([\\`*_{}\[\]#!|~])")
_MD_LINE_START = re.compile(r"^(\s*)([-+>]|\d+\.)")


def md_escape(value: object) -> str:
    """Inline Markdown text: HTML escaped (renderers pass HTML through), emphasis, code, link,
    heading and table marks backslashed, newlines folded, no list or quote at its start."""
    text = html.escape(clean(value), quote=False).replace("\n", " ").replace("\r", " ")
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\."
                                                     if m.group(2).endswith(".")
                                                     else "\\" + m.group(2)), text)


def _md_url(url: str) -> str:
    return quote(url, safe=":/?#@!$&'*+,;=%~").replace("'", "%27")


def _md_cell(value: Any) -> str:
    if isinstance(value, Link):
        url = safe_url(value.url)
        return f"[{md_escape(value.text)}](<{_md_url(url)}>)" if url else md_escape(value.text)
    if isinstance(value, float):
        return f"{value:g}"
    return md_escape(value)


def to_markdown(document: Document, charts: bool = False) -> str:
    """Markdown with tables; charts become their descriptions (the numbers in words)."""
    lines = [f"# {md_escape(document.title)}", "", md_escape(document.subtitle), ""]
    for section in document.sections:
        lines += [f"## {md_escape(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                lines += [md_escape(block.text), ""]
            elif isinstance(block, Chart):
                lines += [f"*{md_escape(block.title)}*: {md_escape(block.alt)}", ""]
            else:
                if block.caption:
                    lines += [f"**{md_escape(block.caption)}**", ""]
                if block.rows:
                    lines.append("| " + " | ".join(md_escape(h) for h in block.headers) + " |")
                    lines.append("|" + "---|" * len(block.headers))
                    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |"
                              for row in block.rows]
                else:
                    lines.append(md_escape(block.empty))
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ---- Word ----------------------------------------------------------------------------------

PAGE_WIDTH_CM = 21.0
PAGE_HEIGHT_CM = 29.7
MARGIN_CM = 1.8
TEXT_WIDTH_CM = PAGE_WIDTH_CM - 2 * MARGIN_CM
CHART_MAX_HEIGHT_CM = 12.0
KEEP_TOGETHER_ROWS = 12     # a table this short is not split across pages
CELL_PT = 8.5
# One text unit is half a CJK character at CELL_PT (an ASCII character is about one unit);
# a cell adds its left and right margins (0.19 cm each in the Table Grid style) and a little
# room, else LibreOffice breaks a two-character header such as 序号 in two.
UNIT_CM = CELL_PT / 2 * 2.54 / 72
CELL_PADDING_CM = 0.5
SHORT_UNITS = 10            # a cell this short (5 CJK characters) stays on one line
NO_BREAK_UNITS = 20         # so does an ASCII text (a date and time) or word up to this long
DESIRED_MAX_UNITS = 60      # beyond this a column wraps rather than widening further


def _east_asian(style: Any, font: str) -> None:
    from docx.oxml.ns import qn

    style.font.name = font
    rpr = style.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), font)


def _keep_with_next(paragraph: Any) -> Any:
    paragraph.paragraph_format.keep_with_next = True
    return paragraph


def to_docx(document: Document) -> bytes:
    """A Word document for A4: every text is a plain run (nothing in post text is
    interpreted); headings and captions stay with what follows, table header rows repeat on
    every page and rows do not split, columns are as wide as their content needs."""
    from docx import Document as Word
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt, RGBColor

    word = Word()
    page = word.sections[0]
    page.orientation = WD_ORIENT.PORTRAIT
    page.page_width, page.page_height = Cm(PAGE_WIDTH_CM), Cm(PAGE_HEIGHT_CM)
    for margin in ("left_margin", "right_margin"):
        setattr(page, margin, Cm(MARGIN_CM))
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        _east_asian(word.styles[name], CJK_FONT)
    word.styles["Normal"].font.size = Pt(10.5)
    word.add_heading(clean(document.title), level=0)
    subtitle = word.add_paragraph().add_run(clean(document.subtitle))
    subtitle.font.color.rgb = RGBColor(0x57, 0x60, 0x6A)
    for section in document.sections:
        _keep_with_next(word.add_heading(clean(section.title), level=1))
        for block in section.blocks:
            if isinstance(block, Paragraph):
                word.add_paragraph(clean(block.text))
            elif isinstance(block, Chart):
                _docx_chart(word, block)
            else:
                _docx_table(word, block)
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _docx_chart(word: Any, chart: Chart) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    width, height = _png_size(chart.png)
    size = {"width": Cm(TEXT_WIDTH_CM - 0.5)}
    if height / width * (TEXT_WIDTH_CM - 0.5) > CHART_MAX_HEIGHT_CM:
        size = {"height": Cm(CHART_MAX_HEIGHT_CM)}
    picture = _keep_with_next(word.add_paragraph())
    picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture.add_run().add_picture(io.BytesIO(chart.png), **size)
    caption = word.add_paragraph()
    caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = caption.add_run(clean(chart.title))
    run.font.size = Pt(9)
    run.bold = True


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels, from the PNG header."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _docx_table(word: Any, block: Table) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    if block.caption:
        caption = _keep_with_next(word.add_paragraph())
        caption.paragraph_format.space_before = Pt(10)   # apart from a table just above
        caption.add_run(clean(block.caption)).bold = True
    if not block.rows:
        word.add_paragraph(clean(block.empty))
        return
    table = word.add_table(rows=1, cols=len(block.headers))
    table.style = "Table Grid"
    table.autofit = False
    widths = column_widths(block)
    for cell, header in zip(table.rows[0].cells, block.headers):
        run = _keep_with_next(cell.paragraphs[0]).add_run(clean(header))
        run.bold = True
        run.font.size = Pt(CELL_PT)
    for row in block.rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            if isinstance(value, Link):
                run = cell.paragraphs[0].add_run(clean(value.text))
                run.font.size = Pt(CELL_PT)
                url = safe_url(value.url)
                if url:
                    link = cell.add_paragraph().add_run(url)
                    link.font.size = Pt(7)
            else:
                run = cell.paragraphs[0].add_run(_cell(value)["text"])
                run.font.size = Pt(CELL_PT)
    keep_together = len(block.rows) <= KEEP_TOGETHER_ROWS
    for n, row in enumerate(table.rows):
        if keep_together and n < len(block.rows):   # every row but the last keeps with the next
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    _keep_with_next(paragraph)
        properties = row._tr.get_or_add_trPr()
        no_split = OxmlElement("w:cantSplit")
        properties.append(no_split)
        if n == 0:                       # the header row repeats on every page
            header = OxmlElement("w:tblHeader")
            header.set(qn("w:val"), "true")
            properties.append(header)
    # Word reads the cell widths, LibreOffice the grid's: set both.
    for column, width in zip(table.columns, widths):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = width


def _units(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _floor(text: str) -> int:
    """The narrowest a cell may be, in units: short texts (状态 待签收, III级黄色, a count) and
    ASCII up to NO_BREAK_UNITS (a date and time, a number) stay on one line; longer text
    wraps, but never inside an ASCII word."""
    if _unbreakable(text):
        return _units(text)
    pieces = [p for p in re.split(r"[\s，。；、：:/（）()]", text) if p.isascii()]
    return max([SHORT_UNITS] + [min(_units(p), NO_BREAK_UNITS) for p in pieces])


def _header_units(header: str) -> int:
    """A header's narrowest width: one line up to SHORT_UNITS (序号, 首次出现), else two."""
    units = _units(header)
    return units if units <= SHORT_UNITS else min(SHORT_UNITS, -(-units // 2))


def column_widths(block: Table) -> list[Any]:
    """Column widths that fill the A4 text width: each column at least as wide as its header
    and its cells need to avoid breaking a short text or a word (see _floor), the rest of
    the page shared by how much more each column's longest text would take on one line.
    When those needs exceed the page (ten columns), the long texts give way first: a header
    or cell of up to SHORT_UNITS (序号, 新出现) keeps its one line, a longer header takes two,
    dates and long ASCII words wrap, and the rest of the page goes to the columns with long
    texts."""
    from docx.shared import Cm

    floors, wants, musts = [], [], []
    for i, header in enumerate(block.headers):
        column = [clean(c.text if isinstance(c, Link) else _cell(c)["text"])
                  for c in (row[i] for row in block.rows)]
        floor = max([min(_units(clean(header)), SHORT_UNITS)] + [_floor(t) for t in column])
        want = max([floor, _units(clean(header))]
                   + [min(_units(text), DESIRED_MAX_UNITS) for text in column])
        must = min(floor, max([_header_units(clean(header))]
                              + [_units(t) for t in column if _units(t) <= SHORT_UNITS]))
        floors.append(floor * UNIT_CM + CELL_PADDING_CM)
        wants.append(want * UNIT_CM + CELL_PADDING_CM)
        musts.append(must * UNIT_CM + CELL_PADDING_CM)
    if sum(floors) > TEXT_WIDTH_CM:
        if sum(musts) >= TEXT_WIDTH_CM:
            return [Cm(TEXT_WIDTH_CM * m / sum(musts)) for m in musts]
        # what is left after the musts goes where the texts are long (a post's title)
        spare = TEXT_WIDTH_CM - sum(musts)
        extra = [w - m for w, m in zip(wants, musts)]
        return [Cm(m + spare * e / sum(extra)) for m, e in zip(musts, extra)]
    spare = TEXT_WIDTH_CM - sum(floors)
    extra = [w - f for w, f in zip(wants, floors)]
    if sum(extra) <= spare:
        # everything fits on one line: hand out what is left in proportion to the widths
        total = sum(wants)
        return [Cm(TEXT_WIDTH_CM * w / total) for w in wants]
    return [Cm(f + spare * e / sum(extra)) for f, e in zip(floors, extra)]
