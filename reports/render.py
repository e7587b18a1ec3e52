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
        return {"text": clean(value.text), "url": safe_url(value.url), "num": False}
    if isinstance(value, float):
        return {"text": f"{value:g}", "url": None, "num": True}
    return {"text": clean(value), "url": None, "num": isinstance(value, int)}


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
                               "trace": clean(block.trace), "empty": clean(block.empty)})
        sections.append({"title": clean(section.title), "blocks": blocks})
    return _ENV.get_template("report.html.j2").render(doc={
        "title": clean(document.title), "subtitle": clean(document.subtitle),
        "sections": sections, "footnotes": [clean(n) for n in document.footnotes]})


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
                if block.trace:
                    lines += [f"<sub>{md_escape(block.trace)}</sub>", ""]
    if document.footnotes:
        lines += ["---", ""] + [md_escape(n) + "  " for n in document.footnotes]
    return "\n".join(lines).rstrip() + "\n"


# ---- Word ----------------------------------------------------------------------------------

def _east_asian(style: Any, font: str) -> None:
    from docx.oxml.ns import qn

    style.font.name = font
    rpr = style.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), font)


def to_docx(document: Document) -> bytes:
    """A Word document: every text is a plain run (nothing in post text is interpreted)."""
    from docx import Document as Word
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt, RGBColor

    word = Word()
    page = word.sections[0]
    page.orientation = WD_ORIENT.PORTRAIT
    page.page_width, page.page_height = Cm(21), Cm(29.7)
    for margin in ("left_margin", "right_margin"):
        setattr(page, margin, Cm(1.8))
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        _east_asian(word.styles[name], CJK_FONT)
    word.styles["Normal"].font.size = Pt(10.5)
    word.add_heading(clean(document.title), level=0)
    word.add_paragraph(clean(document.subtitle))
    for section in document.sections:
        word.add_heading(clean(section.title), level=1)
        for block in section.blocks:
            if isinstance(block, Paragraph):
                word.add_paragraph(clean(block.text))
            elif isinstance(block, Chart):
                word.add_picture(io.BytesIO(block.png), width=Cm(16.5))
                word.add_paragraph(clean(block.title)).runs[0].italic = True
            else:
                _docx_table(word, block)
                if block.trace:
                    run = word.add_paragraph().add_run(clean(block.trace))
                    run.font.size = Pt(7.5)
                    run.font.color.rgb = RGBColor(0x6E, 0x77, 0x81)
    if document.footnotes:
        word.add_paragraph("")
        for note in document.footnotes:
            run = word.add_paragraph().add_run(clean(note))
            run.font.size = Pt(8.5)
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _docx_table(word: Any, block: Table) -> None:
    from docx.shared import Pt

    if block.caption:
        word.add_paragraph().add_run(clean(block.caption)).bold = True
    if not block.rows:
        word.add_paragraph(clean(block.empty))
        return
    table = word.add_table(rows=1, cols=len(block.headers))
    table.style = "Table Grid"
    table.autofit = False
    widths = _column_widths(block)
    for cell, header in zip(table.rows[0].cells, block.headers):
        run = cell.paragraphs[0].add_run(clean(header))
        run.bold = True
        run.font.size = Pt(8.5)
    for row in block.rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            if isinstance(value, Link):
                text = clean(value.text)
                url = safe_url(value.url)
                run = cell.paragraphs[0].add_run(text)
                run.font.size = Pt(8.5)
                if url:
                    link = cell.add_paragraph().add_run(url)
                    link.font.size = Pt(7)
            else:
                run = cell.paragraphs[0].add_run(_cell(value)["text"])
                run.font.size = Pt(8.5)
    # Word reads the cell widths, LibreOffice the grid's: set both.
    for column, width in zip(table.columns, widths):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = width


def _column_widths(block: Table) -> list[Any]:
    """Columns as wide as their longest text (CJK counts double), within the 17.4 cm page."""
    from docx.shared import Cm

    def size(value: Any) -> int:
        text = clean(value.text if isinstance(value, Link) else _cell(value)["text"])
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    # at least four CJK characters wide, so short headers such as 签收用时 stay on one line
    weights = [max(8, min(50, max([size(block.headers[i])]
                                  + [size(row[i]) for row in block.rows]))) + 3
               for i in range(len(block.headers))]
    return [Cm(17.4 * w / sum(weights)) for w in weights]
