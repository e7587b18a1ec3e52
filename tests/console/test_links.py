"""Signed one-tap links (console.links) and where their address is configured (alerts.yaml)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from alerts.settings import parse_alert_settings
from console.links import LinkRefused, LinkSigner, link_secret
from jingyu.config import ConfigError
from tests.tap_support import LINK_SECRET, signer

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=timezone.utc)


def token_of(url: str) -> str:
    return url.rsplit("/t/", 1)[1]


def test_a_link_names_one_incident_one_recipient_one_action_and_expires():
    links = signer("https://jingyu.example.gov.cn/")
    url = links.url(12, "张三", "ack", NOW)
    assert url.startswith("https://jingyu.example.gov.cn/t/")
    link = links.read(token_of(url), NOW + timedelta(minutes=119))
    assert (link.incident_id, link.recipient, link.action) == (12, "张三", "ack")
    assert link.expires_at == NOW + timedelta(hours=2)
    with pytest.raises(LinkRefused) as refused:
        links.read(token_of(url), NOW + timedelta(hours=2))
    assert refused.value.reason == "expired"


def test_each_link_has_its_own_id():
    links = signer()
    ids = {links.read(token_of(links.url(12, "张三", "ack", NOW)), NOW).link_id
           for _ in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize("change", ["payload", "signature", "truncate"])
def test_a_tampered_link_is_refused(change):
    links = signer()
    token = token_of(links.url(12, "张三", "ack", NOW))
    body, signature = token.rsplit(".", 1)
    other = token_of(links.url(13, "李四", "ack", NOW)).rsplit(".", 1)[0]
    forged = {"payload": f"{other}.{signature}",
              "signature": f"{body}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}"
                           f"{signature[-1]}",
              "truncate": body}[change]
    with pytest.raises(LinkRefused) as refused:
        links.read(forged, NOW)
    assert refused.value.reason == "tampered"


def test_a_link_signed_with_another_key_is_refused():
    theirs = LinkSigner("another-deployment-key-0123456789abcdefghijkl")
    with pytest.raises(LinkRefused):
        signer().read(token_of(theirs.url(12, "张三", "ack", NOW)), NOW)


def test_an_ack_link_must_name_a_recipient_and_keys_must_be_long():
    with pytest.raises(ValueError):
        signer().url(12, "", "ack", NOW)
    with pytest.raises(ValueError):
        LinkSigner("short")


def test_the_key_comes_from_the_environment_else_the_warehouse(monkeypatch):
    monkeypatch.delenv("JINGYU_LINK_SECRET", raising=False)
    assert link_secret(lambda: "from-the-warehouse") == "from-the-warehouse"
    monkeypatch.setenv("JINGYU_LINK_SECRET", LINK_SECRET)
    assert link_secret(lambda: "from-the-warehouse") == LINK_SECRET
    monkeypatch.setenv("OUR_KEY", "too-short")
    with pytest.raises(ValueError, match="OUR_KEY"):
        link_secret(lambda: "x", "OUR_KEY")


def test_console_section_of_alerts_yaml():
    settings = parse_alert_settings(yaml.safe_load("""
console: {base_url: "https://jingyu.example.gov.cn/", link_hours: 1.5}
"""), "alerts.yaml")
    assert settings.console.base_url == "https://jingyu.example.gov.cn"
    assert settings.console.link_hours == 1.5
    assert parse_alert_settings({}, "alerts.yaml").console.base_url is None


@pytest.mark.parametrize("section, field", [
    ("{base_url: 'jingyu.example.gov.cn'}", "console.base_url"),
    ("{base_url: 'https://jingyu.example.gov.cn/?a=1'}", "console.base_url"),
    ("{base_url: 'javascript:alert(1)'}", "console.base_url"),
    ("{link_hours: 0}", "console.link_hours"),
    ("{link_hours: 48}", "console.link_hours"),
    ("{secret_env: 'SEC-abc!'}", "console.secret_env"),
    ("{base_uri: 'https://x'}", "console.base_uri"),
])
def test_bad_console_settings_name_file_field_and_fix(section, field):
    with pytest.raises(ConfigError) as error:
        parse_alert_settings(yaml.safe_load(f"console: {section}"), "config/alerts.yaml")
    assert error.value.field == field and error.value.fix
    assert str(error.value).startswith(f"config/alerts.yaml: {field}: ")
