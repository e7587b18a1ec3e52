"""Write a query result as CSV, Excel or Parquet (by the file's extension); spreadsheet cells
that a spreadsheet would run as a formula are defused."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from reports.document import clean
from warehouse.queries import QueryResult

TABLE_FORMATS = (".csv", ".xlsx", ".parquet")
# OWASP CSV injection: a cell starting with one of these is a formula to Excel and LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> Any:
    """A text cell that would start a formula gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str):
        value = clean(value)
        if value.startswith(FORMULA_START):
            return "'" + value
    elif isinstance(value, (list, dict)):
        return defuse(json.dumps(value, ensure_ascii=False))
    return value


def write_table(result: QueryResult, path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ValueError(f"cannot write a table as {path.name}: use one of "
                         f"{', '.join(TABLE_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        # utf-8-sig: Excel opens Chinese text correctly only with the byte-order mark.
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([defuse(c) for c in result.columns])
            writer.writerows([defuse(v) for v in row] for row in result.rows)
    elif suffix == ".xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Font

        book = Workbook()
        sheet = book.active
        sheet.title = result.name[:31]
        sheet.append([defuse(c) for c in result.columns])
        for row in result.rows:
            sheet.append([defuse(v) for v in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        if result.params is not None:
            notes = book.create_sheet("query")
            notes.append(["query", result.name])
            notes.append(["window", defuse(result.params.describe())])
        book.save(path)
    else:
        import pandas as pd

        # Parquet is typed data for programs, not a spreadsheet: values are kept as they are.
        frame = pd.DataFrame.from_records(
            [[json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
              for v in row] for row in result.rows], columns=result.columns)
        frame.to_parquet(path, index=False)
    return path


def search_table(result: Any, labels: Any) -> QueryResult:
    """Search hits (warehouse.search.SearchResult) as a table to hand on: Chinese headers,
    names beside ids, Beijing time, the full text (reports.blocks.Labels names the ids)."""
    from reports.blocks import POLARITY_ZH
    from warehouse.queries import local_text

    columns = ["帖子ID", "时间（北京时间）", "来源", "来源ID", "辖区", "辖区ID", "倾向", "涉警",
               "话题", "标题", "全文", "链接", "热点编号", "事件编号", "相关度"]
    rows = [(h.post_id, local_text(h.seen_at), h.source_name, h.source_id,
             labels.jurisdiction(h.jurisdiction), h.jurisdiction or "",
             POLARITY_ZH.get(h.polarity, h.polarity), "是" if h.police_related else "否",
             "、".join(labels.topic(t) for t in h.topics), h.title, h.text, h.url or "",
             h.story_id, "、".join(str(i) for i in h.incident_ids), h.score)
            for h in result.hits]
    return QueryResult(name="search", columns=columns, rows=rows)
