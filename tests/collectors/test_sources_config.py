"""sources.yaml: a good file loads; each broken one names the file, the field and the fix."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.sources import load_sources, parse_sources
from jingyu.config import ConfigError

GOOD_SOURCES = """\
sources:
  - id: weibo.pingan-jiangcheng
    name: 平安江城 官方微博
    kind: feed
    url: https://rsshub.example.org/weibo/user/5550001
    tags: [official, weibo]
    jurisdiction: jiangcheng
    poll_minutes: 3
  - id: news_fazhi
    name: 法治频道
    kind: feed
    url: http://news.example.cn/fazhi/rss.xml
    enabled: false
  - id: export-yuqingtong
    name: 舆情通 导出
    kind: file
    url: exports/yuqingtong.csv
    options:
      format: csv
      encoding: gb18030
      columns: {text: 正文, title: 标题, url: 链接, published_at: 发布时间}
"""


def test_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD_SOURCES, encoding="utf-8")

    weibo, news, export = load_sources(path)

    assert weibo.id == "weibo.pingan-jiangcheng"
    assert weibo.kind == "feed"
    assert weibo.tags == ("official", "weibo")
    assert weibo.official
    assert weibo.jurisdiction == "jiangcheng"
    assert weibo.poll_minutes == 3
    assert weibo.enabled
    assert (news.enabled, news.poll_minutes, news.tags, news.jurisdiction) == (False, 5, (), None)
    assert export.kind == "file"
    assert export.options.columns.text == "正文"
    assert export.options.encoding == "gb18030"


def _good() -> dict[str, Any]:
    return yaml.safe_load(GOOD_SOURCES)


def _broken(change: str) -> dict[str, Any]:
    """The good config with one edit applied; `change` names the case."""
    data = _good()
    feed, _, export = data["sources"]
    options = export["options"]
    edits = {
        "missing url": lambda: feed.pop("url"),
        "name not text": lambda: feed.update(name=["平安江城"]),
        "bad id": lambda: feed.update(id="Weibo PingAn"),
        "duplicate id": lambda: export.update(id="news_fazhi"),
        "unknown kind": lambda: feed.update(kind="weibo"),
        "feed url not http": lambda: feed.update(url="rsshub.example.org/weibo/user/1"),
        "poll zero": lambda: feed.update(poll_minutes=0),
        "poll not int": lambda: feed.update(poll_minutes="5"),
        "poll bool": lambda: feed.update(poll_minutes=True),
        "enabled not bool": lambda: feed.update(enabled="yes"),
        "tags not list": lambda: feed.update(tags="official"),
        "tag not text": lambda: feed.update(tags=["official", 3]),
        "typo field": lambda: feed.update(poll_minute=5),
        "file without format": lambda: options.pop("format"),
        "file format unknown": lambda: options.update(format="xlsx"),
        "file without columns": lambda: options.pop("columns"),
        "file without text column": lambda: options["columns"].pop("text"),
        "file unknown column": lambda: options["columns"].update(likes="点赞数"),
        "file empty column name": lambda: options["columns"].update(title=""),
        "file unknown encoding": lambda: options.update(encoding="gbk2312"),
    }
    edits[change]()
    return data


@pytest.mark.parametrize(("change", "field", "says", "fix"), [
    ("missing url", "sources[0].url", "is required", "feed URL"),
    ("name not text", "sources[0].name", "must be str, got list", ""),
    ("bad id", "sources[0].id", "invalid id 'Weibo PingAn'", "lower-case letters"),
    ("duplicate id", "sources[2].id", "already used by sources[1]", "its own id"),
    ("unknown kind", "sources[0].kind", "unknown kind 'weibo'", "feed, file"),
    ("feed url not http", "sources[0].url", "not an http(s) URL", "https://"),
    ("poll zero", "sources[0].poll_minutes", "must be positive, got 0", "poll_minutes: 5"),
    ("poll not int", "sources[0].poll_minutes", "must be int, got str", ""),
    ("poll bool", "sources[0].poll_minutes", "must be int, got bool", ""),
    ("enabled not bool", "sources[0].enabled", "must be bool, got str", ""),
    ("tags not list", "sources[0].tags", "must be list, got str", ""),
    ("tag not text", "sources[0].tags[1]", "must be str, got int 3", "[official]"),
    ("typo field", "sources[0].poll_minute", "unknown field", "poll_minutes"),
    ("file without format", "sources[2].options.format", "is required", "csv or jsonl"),
    ("file format unknown", "sources[2].options.format", "unknown format 'xlsx'", "csv or jsonl"),
    ("file without columns", "sources[2].options.columns", "is required", "columns: {text:"),
    ("file without text column", "sources[2].options.columns.text", "is required", "post text"),
    ("file unknown column", "sources[2].options.columns.likes", "unknown field", "published_at"),
    ("file empty column name", "sources[2].options.columns.title", "must name a column", ""),
    ("file unknown encoding", "sources[2].options.encoding", "unknown encoding 'gbk2312'",
     "gb18030"),
])
def test_broken_source_is_reported_precisely(change: str, field: str, says: str,
                                             fix: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_sources(_broken(change), "config/sources.yaml")

    error = raised.value
    assert error.file == "config/sources.yaml"
    assert error.field == field
    assert says in error.problem
    assert fix in error.fix
    assert str(error).startswith(f"config/sources.yaml: {field}: ")


@pytest.mark.parametrize(("data", "field"), [
    (None, "(top level)"),
    (["- id: a"], "(top level)"),
    ({"source": []}, "source"),               # a misspelt key is named itself
    ({"sources": {"id": "a"}}, "sources"),
    ({"sources": ["weibo-pingan"]}, "sources[0]"),
])
def test_wrong_shape_is_reported(data: Any, field: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_sources(data, "sources.yaml")

    assert raised.value.field == field
    assert raised.value.fix


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "sources.yaml"

    with pytest.raises(ConfigError) as raised:
        load_sources(missing)

    assert raised.value.file == str(missing)
    assert raised.value.problem == "file not found"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: a\n    name: [unclosed\n", encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_sources(path)

    assert raised.value.field.startswith("line ")
