"""Write a query result as CSV, Excel or Parquet (by the file's extension).

Excel is for people: Chinese headers, names instead of ids, real dates and times (Beijing),
percentages, fitted column widths, a frozen header row, autofilter, links, the full text, and
a 来源 sheet saying what the rows are. CSV is for programs and Excel users alike: UTF-8 with a
byte-order mark, the original column names, ids with their names beside them. Parquet keeps
the values as they are. Spreadsheet cells that would run as a formula are defused."""
from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jingyu.display import spreadsheet_cell as defuse
from reports.blocks import POLARITY_ZH, STATUS_ZH, Labels, level_short
from reports.document import safe_url
from warehouse.queries import QUERIES, QueryResult, local_text

TABLE_FORMATS = (".csv", ".xlsx", ".parquet")
EXCEL_MAX_WIDTH = 60
EXCEL_TEXT_WIDTH = 80          # a full text column: wide, wrapped


@dataclass(frozen=True)
class Column:
    """How a result column reads in Excel."""

    header: str
    kind: str = "text"   # text | int | number | percent | minutes | time | day | url | longtext
    #                      | yesno | polarity | status | level | jurisdiction | topic | source
    #                      | topics


# Result columns of the named queries and of search, by name; a column not listed keeps its
# name and its value (e.g. from --sql).
COLUMNS: dict[str, Column] = {
    "hour": Column("时段（北京时间）", "time"), "day": Column("日期", "day"),
    "topic": Column("话题", "topic"), "jurisdiction": Column("辖区", "jurisdiction"),
    "source": Column("来源", "source"), "source_id": Column("来源", "source"),
    "polarity": Column("倾向", "polarity"), "posts": Column("条数", "int"),
    "negative": Column("负面条数", "int"), "negative_share": Column("负面占比", "percent"),
    "police_related": Column("涉警条数", "int"),
    "police_stance": Column("对警态度", "polarity"),
    "story_key": Column("热点编号", "int"), "posts_before": Column("上期条数", "int"),
    "growth": Column("较上期变化", "int"), "sources": Column("来源数", "int"),
    "first_seen_at": Column("首次出现", "time"), "last_seen_at": Column("最近出现", "time"),
    "first_post_id": Column("首条帖子ID", "int"), "title": Column("标题"),
    "url": Column("链接", "url"), "post_id": Column("帖子ID", "int"),
    "seen_at": Column("发布时间（北京时间）", "time"), "sentiment": Column("情感值", "number"),
    "content_hash": Column("内容指纹"), "text": Column("全文", "longtext"),
    "alert_id": Column("告警编号", "int"), "level": Column("级别", "level"),
    "kind": Column("类型"), "first_detected_at": Column("首次发现", "time"),
    "last_detected_at": Column("最近发现", "time"), "alert_status": Column("告警状态"),
    "incident_status": Column("事件状态", "status"), "acknowledged_at": Column("签收时间", "time"),
    "acknowledged_by": Column("签收人"), "incident_id": Column("事件编号", "int"),
    "status": Column("状态", "status"), "sensitive": Column("敏感", "yesno"),
    "opened_at": Column("首次发现", "time"), "ack_min": Column("签收用时（分钟）", "minutes"),
    "statement_min": Column("首次官方发声（分钟）", "minutes"),
    "progress_min": Column("进展通报（分钟）", "minutes"),
    "legal_start_min": Column("依法处理启动（分钟）", "minutes"),
    "opinion_start_min": Column("舆论引导启动（分钟）", "minutes"),
    "control_start_min": Column("社会面管控启动（分钟）", "minutes"),
    "resolved_min": Column("处置完成（分钟）", "minutes"),
    "official_post_id": Column("官方发声帖子ID", "int"), "name": Column("信息源"),
    "enabled": Column("启用", "yesno"), "attempts": Column("采集次数", "int"),
    "failed": Column("失败", "int"), "consecutive_failures": Column("连续失败", "int"),
    "last_success_at": Column("最近成功", "time"), "last_error": Column("最近错误"),
    "cycles": Column("巡查轮次", "int"), "ok": Column("正常", "int"),
    "partial": Column("部分失败", "int"), "posts_new": Column("新帖", "int"),
    "negative_new": Column("其中负面", "int"), "alerts_new": Column("新告警", "int"),
    "topics": Column("话题", "topics"), "story_id": Column("热点编号", "int"),
    "incident_ids": Column("事件编号"), "score": Column("相关度", "number"),
    "event_id": Column("事件编号（event_id）", "int"),
    "negative_police": Column("对警负面条数", "int"),
    "negative_police_p": Column("对警负面概率均值", "percent"),
    "stories": Column("热点数", "int"), "official_at": Column("官方发声", "time"),
    "rank": Column("排名", "int"), "event_title": Column("事件标题"),
    "event_jurisdiction": Column("事件辖区", "jurisdiction"),
    "event_posts": Column("事件条数", "int"), "event_posts_before": Column("事件上期条数", "int"),
    "event_growth": Column("事件较上期变化", "int"),
    "event_negative_police": Column("事件对警负面条数", "int"),
    "event_stories": Column("事件内热点数", "int"), "text_start": Column("正文开头"),
}
# The same name meaning something else in one query.
QUERY_COLUMNS: dict[str, dict[str, Column]] = {
    "posts": {"police_related": Column("涉警", "yesno")},
    "search": {"police_related": Column("涉警", "yesno")},
}
NAMED = {"jurisdiction": "jurisdiction", "topic": "topic", "source": "source"}


def _column(result: QueryResult, name: str) -> Column:
    return QUERY_COLUMNS.get(result.name, {}).get(name) or COLUMNS.get(name) or Column(name)


def _name_of(kind: str, labels: Labels) -> Callable[[Any], str]:
    if kind == "jurisdiction":
        return lambda v: labels.jurisdiction(v) if v else ""
    if kind == "topic":
        return lambda v: labels.topic(v) if v else ""
    if kind == "source":
        return lambda v: labels.source(v) if v else ""
    return lambda v: ", ".join(labels.topic(t) for t in _list(v))          # topics


def _list(value: Any) -> list:
    if isinstance(value, str):
        return json.loads(value) if value.startswith("[") else [value]
    return list(value or [])


def provenance(result: QueryResult, labels: Labels, generated_at: datetime, warehouse: str,
               extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """What the rows are: the 来源 sheet of an Excel export."""
    rows = [("查询", result.name)]
    if result.name in QUERIES:
        rows.append(("说明", QUERIES[result.name].description))
    if result.params is not None:
        params = result.params
        rows.append(("统计时段（北京时间）",
                     f"{local_text(params.since)} 至 {local_text(params.until)}"))
        for key, title in (("jurisdiction", "辖区（含下级）"), ("topic", "话题"),
                           ("source", "来源"), ("polarity", "倾向"),
                           ("stance", "对警态度")):
            value = getattr(params, key)
            if value:
                named = {"jurisdiction": labels.jurisdiction, "topic": labels.topic,
                         "source": labels.source}.get(key, lambda v: POLARITY_ZH.get(v, v))
                rows.append((title, f"{named(value)}（{value}）"))
    rows += list(extra)
    rows += [("行数", str(len(result.rows))), ("生成时间（北京时间）", local_text(generated_at)),
             ("数据仓库", warehouse)]
    if result.sql and result.name == "sql":
        rows.append(("SQL", result.sql))
    return rows


def write_table(result: QueryResult, path: str | Path, *, labels: Labels | None = None,
                notes: Sequence[tuple[str, str]] = ()) -> Path:
    """`notes` are the 来源 sheet's rows (see provenance) in Excel."""
    labels = labels or Labels()
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ValueError(f"cannot write a table as {path.name}: use one of "
                         f"{', '.join(TABLE_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        _write_csv(result, path, labels)
    elif suffix == ".xlsx":
        _write_excel(result, path, labels, notes)
    else:
        import pandas as pd

        # Parquet is typed data for programs, not a spreadsheet: values are kept as they are.
        frame = pd.DataFrame.from_records(
            [[json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict, tuple)) else v
              for v in row] for row in result.rows], columns=result.columns)
        frame.to_parquet(path, index=False)
    return path


def _write_csv(result: QueryResult, path: Path, labels: Labels) -> None:
    # ids stay, their names follow in a column of their own
    named = [(i, name, _name_of(_column(result, name).kind, labels))
             for i, name in enumerate(result.columns)
             if _column(result, name).kind in ("jurisdiction", "topic", "source", "topics")]
    header = list(result.columns)
    for offset, (i, name, _) in enumerate(named):
        header.insert(i + 1 + offset, f"{name.removesuffix('_id')}_name")
    # utf-8-sig: Excel opens Chinese text correctly only with the byte-order mark.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([defuse(c) for c in header])
        for row in result.rows:
            cells = list(row)
            for offset, (i, _, name_of) in enumerate(named):
                cells.insert(i + 1 + offset, name_of(row[i]))
            writer.writerow([defuse(v) for v in cells])


def _excel_value(kind: str, value: Any, labels: Labels) -> tuple[Any, str | None]:
    """(cell value, number format) of one value for Excel."""
    if value is None:
        return None, None
    if kind in ("time", "day") and isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return defuse(value), None
        return parsed, "yyyy-mm-dd" if kind == "day" else "yyyy-mm-dd hh:mm"
    if isinstance(value, datetime):          # --sql: naive UTC, as stored
        return value.replace(tzinfo=None), "yyyy-mm-dd hh:mm:ss"
    if kind == "percent":
        return value, "0.0%"
    if kind == "number":
        return value, "0.000"
    if kind == "minutes":
        return value, "0.0"
    if kind == "yesno":
        return ("是" if value else "否"), None
    if kind == "polarity":
        return POLARITY_ZH.get(value, defuse(value)), None
    if kind == "status":
        return STATUS_ZH.get(value, defuse(value)), None
    if kind == "level" and isinstance(value, int):
        return level_short(value), None
    if kind in ("jurisdiction", "topic", "source", "topics"):
        return defuse(_name_of(kind, labels)(value)), None
    if isinstance(value, (list, tuple)):
        return defuse("、".join(str(v) for v in value)), None
    return defuse(value), None


def _width(value: Any) -> int:
    text = value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _write_excel(result: QueryResult, path: Path, labels: Labels,
                 notes: Sequence[tuple[str, str]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "数据"
    columns = [_column(result, name) for name in result.columns]
    sheet.append([defuse(c.header) for c in columns])
    widths = [_width(c.header) for c in columns]
    for r, row in enumerate(result.rows, start=2):
        for c, (column, value) in enumerate(zip(columns, row), start=1):
            cell_value, number_format = _excel_value(column.kind, value, labels)
            cell = sheet.cell(row=r, column=c, value=cell_value)
            if number_format:
                cell.number_format = number_format
            url = safe_url(value) if column.kind == "url" and isinstance(value, str) else None
            if url:
                cell.hyperlink = url
                cell.style = "Hyperlink"
            if column.kind == "longtext":
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            if cell_value is not None:
                widths[c - 1] = max(widths[c - 1], _width(cell_value))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="F2F4F7")
    for c, (column, width) in enumerate(zip(columns, widths), start=1):
        wide = EXCEL_TEXT_WIDTH if column.kind == "longtext" else EXCEL_MAX_WIDTH
        sheet.column_dimensions[get_column_letter(c)].width = min(width + 2, wide)
    sheet.freeze_panes = "A2"
    if result.columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(result.rows) + 1}"
    about = book.create_sheet("来源")
    for key, value in notes:
        about.append([defuse(key), defuse(value)])
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 100
    book.save(path)


def search_rows(result: Any) -> QueryResult:
    """Search hits (warehouse.search.SearchResult) as a table: ids, Beijing times, full text."""
    columns = ["post_id", "seen_at", "source_id", "jurisdiction", "polarity", "police_related",
               "topics", "title", "text", "url", "story_id", "event_id", "incident_ids", "score"]
    rows = [(h.post_id, local_text(h.seen_at), h.source_id, h.jurisdiction, h.polarity,
             int(h.police_related), list(h.topics), h.title, h.text, h.url, h.story_id,
             h.event_id, list(h.incident_ids), h.score) for h in result.hits]
    return QueryResult(name="search", columns=columns, rows=rows)


def search_provenance(result: Any, labels: Labels) -> list[tuple[str, str]]:
    """The 来源 rows that say which search the hits answer."""
    query = result.query
    rows = [("检索式", query.text),
            ("排序", "相关度（最近 10000 条匹配中）" if query.order == "relevance"
             else "时间（新到旧）"),
            ("匹配总数", result.total_text)]
    if query.since or query.until:
        rows.append(("时段（北京时间）", f"{local_text(query.since) or '不限'} 至 "
                                       f"{local_text(query.until) or '不限'}"))
    for key, title, named in (("jurisdiction", "辖区（含下级）", labels.jurisdiction),
                              ("topic", "话题", labels.topic), ("source", "来源", labels.source),
                              ("polarity", "倾向", lambda v: POLARITY_ZH.get(v, v))):
        value = getattr(query, key)
        if value:
            rows.append((title, f"{named(value)}（{value}）"))
    return rows
