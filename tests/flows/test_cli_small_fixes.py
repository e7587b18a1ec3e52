"""Small CLI defects of issue 11: an unknown --jurisdiction, a statement in the future,
"超 0 分钟"."""
from __future__ import annotations

from datetime import timedelta

import pytest

from flows.cli import main
from flows.present import _minutes


@pytest.mark.parametrize("argv", [
    ["query", "volume"], ["search", "袭警"], ["report", "daily", "--date", "2026-11-30"]])
def test_an_unknown_jurisdiction_is_said_with_the_nearest_ids(argv, sqlite_url, capsys):
    code = main([*argv, "--jurisdiction", "qingchun", "--database", sqlite_url])
    err = capsys.readouterr().err
    assert code == 2
    assert "'qingchun' is not an id in jurisdictions.yaml" in err
    assert "did you mean qingchuan" in err


def test_a_place_name_or_last_part_suggests_its_id(sqlite_url, capsys):
    assert main(["query", "volume", "--jurisdiction", "临江区", "--database", sqlite_url]) == 2
    assert "did you mean qingchuan.linjiang" in capsys.readouterr().err
    assert main(["query", "volume", "--jurisdiction", "linjiang", "--database", sqlite_url]) == 2
    assert "qingchuan.linjiang" in capsys.readouterr().err


def test_a_known_jurisdiction_still_filters(sqlite_url, capsys):
    assert main(["query", "volume", "--jurisdiction", "qingchuan.linjiang",
                 "--database", sqlite_url]) == 0


def test_a_statement_in_the_future_is_refused(sqlite_url, capsys):
    code = main(["alerts", "statement", "1", "--by", "张三", "--at", "2099-01-01 08:00",
                 "--database", sqlite_url])
    assert code == 2
    assert "in the future" in capsys.readouterr().err


def test_a_timer_just_past_is_not_late_by_zero_minutes():
    assert _minutes(timedelta(seconds=20)) == "不到 1 分钟"
    assert _minutes(timedelta(minutes=5, seconds=3)) == "5 分钟"
    assert _minutes(timedelta(minutes=75)) == "1 小时 15 分"
