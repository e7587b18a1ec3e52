"""kind: file — CSV and JSON Lines exports through a column mapping, bad rows, encodings, reuse."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from collectors import fetch
from collectors.http import PoliteClient
from collectors.records import (FETCH_ERROR, FETCH_NOT_MODIFIED, FETCH_OK, FetchResult,
                                SourceConfig, SourceCursor)

UTC = timezone.utc
# Column names as a Chinese monitoring platform exports them.
CSV_COLUMNS = {"text": "正文", "title": "标题", "url": "原文链接", "id": "信息ID",
               "author": "作者", "published_at": "发布时间"}
CSV_EXPORT = """\
信息ID,标题,正文,原文链接,作者,发布时间,情感
9001,网传某地交警暴力执法,"视频显示交警与司机发生肢体冲突，
网友质疑执法方式",https://weibo.com/1/A1,路人甲,2026-11-20 08:30:00,负面
9002,民警雪夜救助迷路老人,民警在零下十度的雪夜找到走失老人,https://weibo.com/2/B2,,2026/11/20 06:05,正面
9003,空正文,,https://weibo.com/3/C3,乙,2026-11-20 07:00:00,中性
,派出所开展防诈宣传,社区民警讲解养老诈骗套路,,丙,不详,中性
"""


def import_file(source: SourceConfig, cursor: SourceCursor) -> FetchResult:
    """The base collector on a file source (which needs no HTTP client)."""
    with PoliteClient() as client:
        return fetch(source, cursor, client)


def _source(path: Path, file_format: str, columns: dict[str, str],
            **options: Any) -> SourceConfig:
    return SourceConfig(id="export-yuqingtong", name="舆情通 导出", kind="file",
                        url=str(path),
                        options={"format": file_format, "columns": columns, **options})


def test_csv_rows_become_posts_and_bad_rows_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(CSV_EXPORT, encoding="utf-8-sig")      # with the BOM Excel writes

    result = import_file(_source(path, "csv", CSV_COLUMNS), SourceCursor())

    assert result.status == FETCH_OK
    by_title = {post.title: post for post in result.posts}
    assert sorted(by_title) == ["民警雪夜救助迷路老人", "派出所开展防诈宣传", "网传某地交警暴力执法"]
    dispute = by_title["网传某地交警暴力执法"]
    assert dispute.external_id == "9001"
    assert dispute.body == "视频显示交警与司机发生肢体冲突，\n网友质疑执法方式"
    assert dispute.url == "https://weibo.com/1/A1"
    assert dispute.author == "路人甲"
    assert dispute.published_at == datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    assert by_title["民警雪夜救助迷路老人"].author is None
    assert by_title["民警雪夜救助迷路老人"].published_at == datetime(2026, 11, 19, 22, 5,
                                                                   tzinfo=UTC)
    undated = by_title["派出所开展防诈宣传"]
    assert undated.external_id.startswith("sha1:")    # no id column value
    assert undated.published_at is None               # "不详"
    assert result.error == f"1 bad row in {path}: line 5: missing text (column '正文')"


def test_jsonl_rows_become_posts_and_bad_lines_are_reported(tmp_path: Path) -> None:
    rows = [
        json.dumps({"mid": 5001, "content": "交警路口护学岗，风雨无阻", "nick": "江城日报",
                    "time": 1763598600}, ensure_ascii=False),
        "{not json",
        json.dumps({"mid": 5002, "content": "  "}),
        "",
        json.dumps(["a list"]),
        json.dumps({"mid": 5003, "content": "警方通报一起袭警案件", "time": "2026-11-20T09:00:00+08:00"},
                   ensure_ascii=False),
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    columns = {"text": "content", "id": "mid", "author": "nick", "published_at": "time"}

    result = import_file(_source(path, "jsonl", columns), SourceCursor())

    assert result.status == FETCH_OK
    assert [post.external_id for post in result.posts] == ["5003", "5001"]   # newest first
    first = result.posts[1]
    assert first.author == "江城日报"
    assert first.published_at == datetime(2025, 11, 20, 0, 30, tzinfo=UTC)  # epoch seconds
    assert result.error == (
        f"3 bad rows in {path}: line 2: invalid JSON (Expecting property name enclosed in "
        "double quotes); line 3: missing text (column 'content'); "
        "line 5: not a JSON object but list")
    assert result.cursor.seen_ids == ("5003", "5001")


def test_gb18030_export(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(CSV_EXPORT.replace("路人甲", "刘䶮").encode("gb18030"))

    result = import_file(_source(path, "csv", CSV_COLUMNS, encoding="gb18030"), SourceCursor())

    assert result.status == FETCH_OK
    assert "刘䶮" in {post.author for post in result.posts}


def test_wrong_encoding_is_an_error_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(CSV_EXPORT.encode("gb18030"))

    result = import_file(_source(path, "csv", CSV_COLUMNS), SourceCursor())

    assert result.status == FETCH_ERROR
    assert result.error.startswith(f"export-yuqingtong: {path} is not utf-8-sig text")
    assert "options.encoding" in result.error and "gb18030" in result.error


def test_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(CSV_EXPORT, encoding="utf-8")
    source = _source(path, "csv", CSV_COLUMNS)
    first = import_file(source, SourceCursor(extra={"kept": "for other stages"}))

    again = import_file(source, first.cursor)

    assert again.status == FETCH_NOT_MODIFIED
    assert again.posts == ()
    assert again.cursor == first.cursor
    assert first.cursor.extra["kept"] == "for other stages"


def test_changed_file_yields_only_new_rows(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(CSV_EXPORT, encoding="utf-8")
    source = _source(path, "csv", CSV_COLUMNS)
    first = import_file(source, SourceCursor())
    path.write_text(CSV_EXPORT + "9004,新增,夜间巡逻查获酒驾,,,2026-11-20 23:00,中性\n",
                    encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)

    second = import_file(source, first.cursor)

    assert second.status == FETCH_OK
    assert [post.external_id for post in second.posts] == ["9004"]


def test_every_row_bad_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text('{"text": ""}\n{"text": null}\n', encoding="utf-8")

    result = import_file(_source(path, "jsonl", {"text": "text"}), SourceCursor(etag="kept"))

    assert result.status == FETCH_ERROR
    assert result.error == (f"export-yuqingtong: no usable row; 2 bad rows in {path}: "
                            "line 1: missing text (column 'text'); "
                            "line 2: missing text (column 'text')")
    assert result.cursor == SourceCursor(etag="kept")


def test_mapped_column_missing_from_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(CSV_EXPORT, encoding="utf-8")
    columns = {**CSV_COLUMNS, "text": "内容"}

    result = import_file(_source(path, "csv", columns), SourceCursor())

    assert result.status == FETCH_ERROR
    assert "mapped column(s) '内容' not in the CSV header" in result.error
    assert "fix options.columns" in result.error


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "exports" / "absent.csv"

    result = import_file(_source(path, "csv", CSV_COLUMNS), SourceCursor())

    assert result.status == FETCH_ERROR
    assert result.error == f"export-yuqingtong: export file not found: {path}"
