"""Configuration that is not there, or not what it seems, is an error (issue 10): a missing
--config directory or sources.yaml never falls back to the shipped internet sources, unknown
top-level keys are refused, a missing roster is said loudly, and a silence longer than a day
needs --long."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import yaml

from flows.cli import main
from flows.settings import load_cycle_settings

CONFIG = Path(__file__).resolve().parents[2] / "config"


def _run(tmp_path, config: Path, capsys) -> tuple[int, str]:
    code = main(["run", "--config", str(config), "--database", f"sqlite:///{tmp_path}/w.db"])
    return code, capsys.readouterr().err


def test_a_missing_config_directory_exits_2_and_runs_nothing(tmp_path, capsys):
    code, err = _run(tmp_path, tmp_path / "no-such-dir", capsys)
    assert code == 2 and "no-such-dir" in err and "no such configuration directory" in err
    assert not (tmp_path / "w.db").exists()


def test_a_missing_sources_yaml_is_not_replaced_by_the_shipped_one(tmp_path, capsys):
    config = tmp_path / "config"
    config.mkdir()
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "sources.yaml" in err and "file not found" in err
    assert not (tmp_path / "w.db").exists()


def test_unknown_top_level_keys_in_sources_yaml_are_errors(tmp_path, capsys):
    config = tmp_path / "config"
    config.mkdir()
    shipped = yaml.safe_load((CONFIG / "sources.yaml").read_text(encoding="utf-8"))
    (config / "sources.yaml").write_text(yaml.safe_dump({**shipped, "sourcse": []},
                                                        allow_unicode=True), encoding="utf-8")
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "sources.yaml" in err and "sourcse" in err


def test_a_missing_roster_is_said_loudly(tmp_path, caplog):
    config = tmp_path / "config"
    config.mkdir()
    shutil.copyfile(CONFIG / "sources.yaml", config / "sources.yaml")
    with caplog.at_level(logging.WARNING):
        load_cycle_settings(config)
    assert any("NO DUTY ROSTER" in r.getMessage() and "roster.yaml" in r.getMessage()
               for r in caplog.records if r.levelno >= logging.WARNING)


def test_a_silence_longer_than_a_day_needs_long(tmp_path, sqlite_url, capsys):
    config = tmp_path / "config"
    config.mkdir()
    for name in ("routing.yaml", "roster.yaml"):
        shutil.copyfile(CONFIG / name, config / name)
    base = ["alerts", "silence", "--match", "spike:police_negative", "--by", "张三",
            "--config", str(config), "--database", sqlite_url]
    assert main([*base, "--until", "3d"]) == 1
    assert "--long" in capsys.readouterr().err
    assert main([*base, "--until", "3d", "--long"]) == 0
    assert main([*base, "--until", "2h"]) == 0
