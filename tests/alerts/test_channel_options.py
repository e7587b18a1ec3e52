"""Channel options typed per kind (alerts.channel_options): each kind parses into its own
model, a field of another kind or a misspelt one names the kind's fields, `jingyu run` stops
with exit 2 on it, and docs/channels.md is generated from the models."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from alerts.channel_options import (
    CHANNEL_OPTIONS,
    ConsoleOptions,
    DingTalkOptions,
    EmailOptions,
    JsonlOptions,
    WebhookOptions,
    WeComOptions,
)
from alerts.channel_reference import channels_reference
from alerts.delivery.registry import CHANNEL_FACTORIES
from alerts.settings import parse_alert_settings
from flows.cli import main
from jingyu.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def parse(entries: str):
    return parse_alert_settings(yaml.safe_load(f"channels: [{entries}]"), "alerts.yaml")


def refused(entry: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(entry)
    return caught.value


def test_each_kind_parses_into_its_own_model():
    console, log, hook, ding, wecom, mail = parse(
        "{name: c, kind: console}, {name: l, kind: jsonl, path: a.jsonl},"
        "{name: h, kind: webhook, url: 'http://127.0.0.1:9/x', timeout_seconds: 3},"
        "{name: d, kind: dingtalk, url_env: D_URL, secret_env: D_SEC, min_level: 2},"
        "{name: w, kind: wecom, url_env: W_URL},"
        "{name: m, kind: email, host: smtp.x, sender: a@b.cn, to: c@d.cn, security: ssl}"
    ).channels
    assert [type(c) for c in (console, log, hook, ding, wecom, mail)] == [
        ConsoleOptions, JsonlOptions, WebhookOptions, DingTalkOptions, WeComOptions,
        EmailOptions]
    assert hook.timeout_seconds == 3.0 and isinstance(hook.timeout_seconds, float)
    assert (ding.secret_env, ding.min_level) == ("D_SEC", 2)
    assert not hasattr(wecom, "secret_env") and not hasattr(console, "url")
    assert (mail.port, mail.to) == (465, ("c@d.cn",))       # port from security, one address
    # What the startup check resolves: each kind names only its own secrets.
    assert [what for what, _, _ in ding.secrets()] == ["webhook URL", "signing secret"]
    assert [what for what, _, _ in wecom.secrets()] == ["webhook URL"]
    assert console.secrets() == [] and [w for w, _, _ in mail.secrets()] == ["SMTP password"]
    with pytest.raises(ValueError):                          # frozen
        ding.min_level = 1


def test_a_field_of_another_kind_names_the_kinds_own_fields():
    error = refused("{name: a, kind: wecom, url_env: X, secret_env: Y}")
    assert error.field == "channels[0].secret_env"
    assert error.problem == "does not apply to kind wecom (only to dingtalk, feishu)"
    assert error.fix == ("remove 'secret_env:' or set 'kind: dingtalk'; kind wecom takes: "
                         "name, kind, min_level, enabled, audience, url, url_env, url_block, "
                         "timeout_seconds")
    error = refused("{name: a, kind: console, timeout_seconds: 5}")
    assert (error.field, error.problem) == (
        "channels[0].timeout_seconds",
        "does not apply to kind console (only to webhook, dingtalk, wecom, feishu, email)")
    assert error.fix.endswith("kind console takes: name, kind, min_level, enabled, audience")


def test_a_misspelt_field_is_refused_with_the_closest_one():
    error = refused("{name: a, kind: dingtalk, url_env: X, secert_env: Y}")
    assert (error.field, error.problem) == ("channels[0].secert_env",
                                            "unknown field for kind dingtalk")
    assert error.fix.startswith("did you mean 'secret_env'? kind dingtalk takes: name, kind")
    assert str(error).startswith("alerts.yaml: channels[0].secert_env: unknown field for kind "
                                 "dingtalk (fix: did you mean 'secret_env'?")


@pytest.mark.parametrize("entry, field, problem", [
    ("{name: a, kind: webhook, url: 'http://h', timeout_seconds: yes}",
     "channels[0].timeout_seconds", "must be"),
    ("{name: a, kind: email, host: h, sender: a@b, to: [c@d], port: '25'}",
     "channels[0].port", "must be int"),
    ("{name: no, kind: console}", "channels[0].name", "must be str, got bool False"),
    ("{name: a, kind: console, enabled: 'off please'}", "channels[0].enabled", "must be bool"),
    ("{name: a, kind: webhook, url_env: 'https://oapi.x/robot?t=1'}", "channels[0].url_env",
     "not an environment variable name"),
    ("{name: a, kind: email, host: h, sender: a@b, to: [c@d], username: u, "
     "password_env: P, security: none}", "channels[0].security", "unencrypted"),
])
def test_wrong_values_name_the_field_and_a_fix(entry, field, problem):
    error = refused(entry)
    assert error.field == field and problem in error.problem and error.fix


def test_every_kind_has_options_and_a_channel_class():
    assert set(CHANNEL_OPTIONS) == set(CHANNEL_FACTORIES)


def test_jingyu_run_stops_with_exit_2_on_a_field_of_another_kind(tmp_path, capsys):
    config = tmp_path / "config"
    config.mkdir()
    shutil.copyfile(ROOT / "config" / "sources.yaml", config / "sources.yaml")
    (config / "alerts.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "duty-wecom", "kind": "wecom", "url_env": "JINGYU_WECOM_URL",
         "secret_env": "JINGYU_WECOM_SECRET"}]}), encoding="utf-8")
    code = main(["run", "--config", str(config), "--database", f"sqlite:///{tmp_path}/w.db"])
    err = capsys.readouterr().err
    assert code == 2
    assert (f"{config / 'alerts.yaml'}: channels[0].secret_env: does not apply to kind wecom "
            "(only to dingtalk, feishu)") in err
    assert "kind wecom takes: name, kind, min_level, enabled, audience, url, url_env" in err
    assert not (tmp_path / "w.db").exists()


def test_docs_channels_reference_is_generated_from_the_schemas():
    assert (ROOT / "docs" / "channels.md").read_text(encoding="utf-8") == channels_reference(), \
        "run: python -m alerts.channel_reference > docs/channels.md"
    for kind, model in CHANNEL_OPTIONS.items():
        assert f"## kind: {kind}" in channels_reference()
        for name in model.model_fields:
            assert f"| `{name}` |" in channels_reference()
