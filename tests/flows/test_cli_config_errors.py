"""Configuration that is not there, or not what it seems, is an error (issue 10): a missing
--config directory or sources.yaml never falls back to the shipped internet sources, unknown
top-level keys are refused, a missing roster is said loudly, and a silence longer than a day
needs --long."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
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


def test_a_routing_yaml_silence_longer_than_a_day_needs_long_true(tmp_path, capsys):
    """The same maximum for silences written into routing.yaml: without `long: true`, one
    ending more than 24 hours from now stops `jingyu run` with exit 2, naming the file, the
    field and the fix; with it (or ending sooner), the configuration loads."""
    from datetime import timedelta

    from jingyu.config import ConfigError
    from jingyu.timeutil import shanghai, utcnow

    config = tmp_path / "config"
    config.mkdir()
    for name in ("sources.yaml", "roster.yaml", "alerts.yaml"):
        shutil.copyfile(CONFIG / name, config / name)
    routing = yaml.safe_load((CONFIG / "routing.yaml").read_text(encoding="utf-8"))

    def silence(hours: float, **extra) -> None:
        until = shanghai(utcnow() + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")
        entry = {"match": "spike:police_negative", "until": until, "reason": "演练", **extra}
        (config / "routing.yaml").write_text(yaml.safe_dump(
            {**routing, "silences": [entry]}, allow_unicode=True), encoding="utf-8")

    silence(72)
    code, err = _run(tmp_path, config, capsys)
    assert code == 2, err
    assert "routing.yaml" in err and "silences[0].until" in err and "long: true" in err
    assert not (tmp_path / "w.db").exists()
    silence(72, long="yes")
    with pytest.raises(ConfigError) as caught:
        load_cycle_settings(config)
    assert caught.value.field == "silences[0].long"
    silence(72, long=True)
    assert load_cycle_settings(config).routing.silences[0].match == "spike:police_negative"
    silence(20)
    assert len(load_cycle_settings(config).routing.silences) == 1
