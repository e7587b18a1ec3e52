"""The hostile corpus (tests/hostile.py) through the real renderer and every channel, against
local receivers that answer like each platform: what arrives is inert in that platform's syntax
(no forged heading, no link labelled by a post, no mention of everyone, no terminal escape)."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from alerts.delivery.channels import ConsoleChannel
from alerts.delivery.email import EmailChannel
from alerts.delivery.render import render_notification
from alerts.delivery.robots import DingTalkChannel, FeishuChannel, WeComChannel
from alerts.detection.records import Alert, Evidence
from tests.alerts.test_email_channel import smtp_server  # noqa: F401  (fixture)
from tests.alerts.test_robot_channels import (  # noqa: F401  (fixtures)
    DING_SECRET,
    FEISHU_SECRET,
    fake_clock,
    robot_server,
)
from tests.hostile import (
    FORGED_HEADING,
    LINK_BREAKOUT,
    TITLES,
    URLS,
    assert_clean_terminal,
    assert_inert_markdown,
)
from warehouse.records import OutboxMessage

NOW = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


def hostile_alert(number: int, title: str) -> Alert:
    """A sensitive-item alert whose title, reason, evidence titles, links and source come from
    the corpus (the evidence cycles through every hostile URL and one good one)."""
    urls = itertools.cycle([*URLS, "https://weibo.example/p/ok"])
    evidence = tuple(Evidence(post_id=number * 10 + i, url=next(urls), title=t,
                              source_id="weibo<at id=all></at>", published_at=NOW)
                     for i, t in enumerate([title, *TITLES[:len(URLS)]]))
    return Alert(fingerprint=f"item:{number}", kind="sensitive_item", level=1 + number % 4,
                 title=title, reason=f"敏感信息：{title}", evidence=evidence,
                 jurisdiction="青川\n### 伪造辖区", detected_at=NOW)


def messages(channel: str) -> list[OutboxMessage]:
    return [OutboxMessage(id=n, alert_id=100 + n, channel=channel,
                          idempotency_key=f"item:{n}#v1@{channel}",
                          payload=render_notification(hostile_alert(n, title), 100 + n),
                          attempts=0)
            for n, title in enumerate(TITLES, start=1)]


def test_the_payload_itself_is_inert():
    for message in messages("any"):
        payload = message.payload
        assert "\n" not in payload["title"]
        assert_clean_terminal(payload["title"])
        assert_clean_terminal(payload["text"])
        assert_inert_markdown(payload["markdown"], headings=1)
        # the plain text keeps every line jingyu writes, and no line a post forged
        assert not any(line.startswith(("###", "【I级 红色预警】伪造"))
                       for line in payload["text"].splitlines())
        # only http(s) links, with their markup characters percent-encoded
        for line in payload["text"].splitlines():
            if "://" in line and line.startswith("   "):
                assert line.strip().startswith(("http://", "https://"))


def test_a_link_cannot_end_early_or_change_its_target():
    alert = hostile_alert(1, "普通标题")
    payload = render_notification(alert, 1)
    assert "(https://x.example/1%29%5B" in payload["markdown"]
    assert "javascript" not in payload["markdown"].lower()
    assert "data:text" not in payload["markdown"] and "file:" not in payload["markdown"]
    assert LINK_BREAKOUT not in payload["markdown"]


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu"])
@pytest.mark.parametrize("digest", [False, True], ids=["one-by-one", "digests"])
def test_every_robot_receives_inert_markdown(robot_server, fake_clock, kind, digest):  # noqa: F811
    channel = {
        "dingtalk": lambda: DingTalkChannel("duty", robot_server.dingtalk_url,
                                            secret=DING_SECRET),
        "wecom": lambda: WeComChannel("duty", robot_server.wecom_url),
        "feishu": lambda: FeishuChannel("duty", robot_server.feishu_url,
                                        secret=FEISHU_SECRET),
    }[kind]()
    batch = messages(kind)
    if digest:
        batch = batch * 5        # more than any robot's budget of a minute: digests
        sent = channel.send_batch(batch)
    else:
        sent = []
        for message in batch:
            sent += channel.send_batch([message])
            fake_clock.now += 5          # within every platform's rate
    assert all(result is None for result in sent), sent
    if digest:
        assert 0 < len(robot_server.accepted) < len(batch)
    else:
        assert len(robot_server.accepted) == len(batch)
    for received in robot_server.accepted:
        assert received.mentioned == []          # the platform notified nobody
        if kind == "dingtalk":
            body = received.body["markdown"]
            assert "\n" not in body["title"]
            assert_clean_terminal(body["title"])
            assert_inert_markdown(body["text"], headings=1)
            assert received.body.get("at", {}).get("isAtAll", False) is False
        elif kind == "wecom":
            assert_inert_markdown(received.body["markdown"]["content"], headings=1)
        else:
            card = received.body["card"]
            title = card["header"]["title"]
            assert title["tag"] == "plain_text" and "\n" not in title["content"]
            assert_clean_terminal(title["content"])
            [element] = card["elements"]
            assert element["tag"] == "markdown"
            # the card header shows the title; the markdown has no heading of its own
            assert_inert_markdown(element["content"], headings=0)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.hrefs += [value or "" for name, value in attrs if name == "href"]


def test_email_html_and_text_are_inert(smtp_server):  # noqa: F811
    mail_channel = EmailChannel("duty-mail", "127.0.0.1", "jingyu@gaj.example.gov.cn",
                                ["duty@gaj.example.gov.cn"], port=smtp_server.port,
                                security="none", timeout_seconds=5)
    batch = messages("duty-mail")
    assert mail_channel.send_batch(batch) == [None] * len(batch)
    assert len(smtp_server.mails) == len(batch)
    for _, _, mail in smtp_server.mails:
        assert "\n" not in mail["Subject"]
        assert_clean_terminal(mail["Subject"])
        assert_clean_terminal(mail.get_body(("plain",)).get_content().replace("\n", " "))
        parser = _Tags()
        parser.feed(mail.get_body(("html",)).get_content())
        assert set(parser.tags) <= {"html", "head", "meta", "title", "body", "h3", "p", "ul",
                                    "ol", "li", "strong", "a"}, parser.tags
        assert parser.tags.count("h3") == 1
        assert parser.hrefs and all(
            urlsplit(href).scheme in ("http", "https")
            and urlsplit(href).hostname != "evil.example" for href in parser.hrefs)


def test_console_channel_prints_no_escape_sequence(capsys):
    console = ConsoleChannel("console")
    for message in messages("console"):
        console.send(message)
    out = capsys.readouterr().out
    assert_clean_terminal(out.replace("\n", " "))
    assert not any(line.startswith("### ") for line in out.splitlines())
    assert FORGED_HEADING.splitlines()[1] not in out.splitlines()
