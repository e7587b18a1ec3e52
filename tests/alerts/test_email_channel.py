"""Email channel against a real SMTP server on 127.0.0.1 (aiosmtpd)."""
from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.delivery.channel_secrets import check_channel_secrets
from alerts.delivery.channels import DeliveryError
from alerts.delivery.registry import build_channels
from alerts.delivery.deliver import deliver
from alerts.delivery.email import IDEMPOTENCY_HEADER, EmailChannel, markdown_to_html, message_id
from alerts.settings import parse_alert_settings
from warehouse.records import OutboxMessage

PASSWORD = "smtp-pa55word-for-tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Mailbox:
    port: int
    mails: list[tuple[str, list[str], email.message.EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.box.mails.append((envelope.mail_from, list(envelope.rcpt_tos), mail))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"jingyu"
              and auth_data.password == PASSWORD.encode())
        if ok:
            box.logins.append("jingyu")
        return AuthResult(success=ok, handled=False)

    controller = Controller(Handler(box), hostname="127.0.0.1", port=box.port,
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


PAYLOAD: dict[str, Any] = {
    "title": "【II级 橙色预警】网友称<script>alert(1)</script>民警 & 辅警打人",
    "text": "【II级 橙色预警】网友称<script>alert(1)</script>民警 & 辅警打人\n辖区：青川\n"
            "告警编号：7",
    "markdown": ("### 【II级 橙色预警】网友称<script>alert(1)</script>民警 & 辅警打人\n\n"
                 "相关帖子 24 小时内转发 <b>3000</b> 次\n\n"
                 "- **辖区**：青川\n- **告警编号**：7\n\n"
                 "1. [现场视频\"><img src=x onerror=alert(1)>](https://weibo.com/p/1?a=1&b=2)"
                 " — weibo\n2. [恶意链接](javascript:alert(1)) — forum"),
    "level": 2, "alert": {"id": 7}}


def message(message_id: int = 1, key: str = "item:abc#v1@duty-mail") -> OutboxMessage:
    return OutboxMessage(id=message_id, alert_id=7, channel="duty-mail", idempotency_key=key,
                         payload=PAYLOAD, attempts=0)


def channel(box: Mailbox, **kwargs) -> EmailChannel:
    kwargs.setdefault("security", "none")
    kwargs.setdefault("allow_plaintext_login", True)      # the test server has no TLS
    return EmailChannel("duty-mail", "127.0.0.1", "jingyu@gaj.example.gov.cn",
                        ["duty@gaj.example.gov.cn", "leader@gaj.example.gov.cn"],
                        port=box.port, timeout_seconds=5, **kwargs)


def test_mail_arrives_with_subject_text_html_and_idempotency_header(smtp_server):
    channel(smtp_server).send(message())

    [(sender, recipients, mail)] = smtp_server.mails
    assert sender == "jingyu@gaj.example.gov.cn"
    assert recipients == ["duty@gaj.example.gov.cn", "leader@gaj.example.gov.cn"]
    assert mail["Subject"] == PAYLOAD["title"]
    assert mail[IDEMPOTENCY_HEADER] == "item:abc#v1@duty-mail"
    assert mail["Message-ID"] == message_id("item:abc#v1@duty-mail", "jingyu@gaj.example.gov.cn")
    assert mail.get_body(("plain",)).get_content().startswith("【II级 橙色预警】网友称")
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>" not in html and "<img" not in html
    assert '<a href="https://weibo.com/p/1?a=1&amp;b=2">' in html
    assert 'href="javascript' not in html and "[恶意链接](javascript:alert(1))" in html
    assert "<strong>辖区</strong>" in html


def test_the_same_notification_always_gets_the_same_message_id(smtp_server):
    mail = channel(smtp_server)
    mail.send(message(1))
    mail.send(message(1))             # a redelivery after a crash
    mail.send(message(2, key="item:abc#v2@duty-mail"))
    ids = [m["Message-ID"] for _, _, m in smtp_server.mails]
    assert ids[0] == ids[1] != ids[2]


def test_login_with_password_from_the_environment(smtp_server, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_SMTP_PASSWORD", PASSWORD)
    channel(smtp_server, username="jingyu", password_env="JINGYU_TEST_SMTP_PASSWORD"
            ).send(message())
    assert smtp_server.logins == ["jingyu"]
    assert len(smtp_server.mails) == 1


def test_wrong_password_is_a_delivery_error_that_does_not_show_it(smtp_server):
    with pytest.raises(DeliveryError) as caught:
        channel(smtp_server, username="jingyu", password="wrong-" + PASSWORD).send(message())
    assert "login as 'jingyu' refused" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert smtp_server.mails == []


def test_missing_password_env_is_reported_at_send_time_and_by_the_startup_check(
        smtp_server, monkeypatch):
    monkeypatch.delenv("JINGYU_TEST_SMTP_PASSWORD", raising=False)
    settings = parse_alert_settings(yaml.safe_load(f"""
channels:
  - name: duty-mail
    kind: email
    host: 127.0.0.1
    port: {smtp_server.port}
    security: none
    allow_plaintext_login: true
    username: jingyu
    password_env: JINGYU_TEST_SMTP_PASSWORD
    sender: jingyu@gaj.example.gov.cn
    to: [duty@gaj.example.gov.cn]
"""), "alerts.yaml")

    assert check_channel_secrets(settings) == [
        "channel 'duty-mail' (email): secret env JINGYU_TEST_SMTP_PASSWORD is not set "
        "(the SMTP password of this channel)"]
    with pytest.raises(DeliveryError, match="secret env JINGYU_TEST_SMTP_PASSWORD is not set"):
        build_channels(settings)["duty-mail"].send(message())

    monkeypatch.setenv("JINGYU_TEST_SMTP_PASSWORD", PASSWORD)
    build_channels(settings)["duty-mail"].send(message())
    assert len(smtp_server.mails) == 1


def test_smtp_server_down_is_a_delivery_error_kept_for_retry():
    down = EmailChannel("duty-mail", "127.0.0.1", "jingyu@gaj.example.gov.cn",
                        ["duty@gaj.example.gov.cn"], port=free_port(), security="none",
                        timeout_seconds=2)
    with pytest.raises(DeliveryError, match="smtp 127.0.0.1"):
        down.send(message())

    [outcome] = deliver([message()], {"duty-mail": down})
    assert not outcome.delivered
    assert "ConnectionRefusedError" in outcome.error


def test_every_recipient_refused_is_a_delivery_error(smtp_server):
    refused = EmailChannel("duty-mail", "127.0.0.1", "jingyu@gaj.example.gov.cn",
                           ["refuse-me@gaj.example.gov.cn"], port=smtp_server.port,
                           security="none", timeout_seconds=5)
    with pytest.raises(DeliveryError, match="every recipient refused"):
        refused.send(message())


def test_some_recipients_refused_still_counts_as_delivered(smtp_server, caplog):
    partly = EmailChannel("duty-mail", "127.0.0.1", "jingyu@gaj.example.gov.cn",
                          ["duty@gaj.example.gov.cn", "refuse-me@gaj.example.gov.cn"],
                          port=smtp_server.port, security="none", timeout_seconds=5)
    partly.send(message())              # a retry would duplicate it for duty@
    assert len(smtp_server.mails) == 1
    assert "refuse-me@gaj.example.gov.cn" in caplog.text


def test_starttls_against_a_server_without_tls_is_a_delivery_error(smtp_server):
    with pytest.raises(DeliveryError, match="STARTTLS|starttls"):
        channel(smtp_server, security="starttls").send(message())


def test_markdown_to_html_escapes_everything_it_does_not_render():
    html = markdown_to_html("### a <i>b</i>\n\n- **x** & y\n1. [l](https://e.org/?q=\"x\")\n"
                            "2. [bad](data:text/html,1)\ntext", "t<")
    assert "<h3>a &lt;i&gt;b&lt;/i&gt;</h3>" in html
    assert "<ul>\n<li><strong>x</strong> &amp; y</li>\n</ul>" in html
    assert '<a href="https://e.org/?q=&quot;x&quot;">l</a>' in html
    assert "[bad](data:text/html,1)" in html
    assert "<p>text</p>" in html and "<title>t&lt;</title>" in html


def test_the_mail_carries_the_same_signed_links_as_the_robots_buttons(smtp_server, now):
    from alerts.delivery.buttons import with_buttons
    from tests.tap_support import signer

    links = signer("https://jingyu.example.gov.cn")
    payload = with_buttons({**PAYLOAD, "recipients": [{"name": "张三"}, {"name": "陈静"}]}, 7,
                           links, now, awaiting_ack=True)
    channel(smtp_server).send(OutboxMessage(id=1, alert_id=7, channel="duty-mail",
                                            idempotency_key="k", payload=payload, attempts=0))

    [(_, _, mail)] = smtp_server.mails
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    urls = [b["url"] for b in payload["buttons"]]
    assert len(urls) == 3
    for button in payload["buttons"]:
        assert f"{button['label']}：{button['url']}" in text
        assert f'<a href="{button["url"]}">{button["label"]}</a>' in html
    assert [links.read(u.rsplit("/t/", 1)[1], now).action for u in urls] == ["ack", "ack",
                                                                                "view"]
