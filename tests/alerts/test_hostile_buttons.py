"""The hostile corpus (tests/hostile.py) through the one-tap button messages (issue 10): each title
opens an incident whose evidence carries the hostile links; the real outbox adds the signed
签收/查看 links (alerts.delivery.buttons) and the real channels post a DingTalk actionCard, a
WeCom template_card, a Feishu interactive card and an e-mail to local receivers that answer
like each platform. What arrives: no forged heading, link or mention; every button is one of
jingyu's signed links (it verifies, for this incident, recipient and action); every card text
field is one clean line within the platform's length; the only other links are the posts'
own http(s) links, labelled by jingyu. Reminders, escalations and resolved notices (a title
from a post, a note typed by a person) are held to the same."""
from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import yaml

from alerts.delivery.buttons import VIEW_LABEL, with_buttons
from alerts.delivery.deliver import deliver
from alerts.delivery.outbox import deliver_pending
from alerts.delivery.registry import build_channels
from alerts.detection.records import Evidence
from alerts.incidents.notices import ESCALATION, REMINDER, RESOLVED, render_incident_notice
from alerts.incidents.routing import Recipient, Route
from alerts.settings import parse_alert_settings
from tests.alerts.test_email_channel import smtp_server  # noqa: F401  (fixture)
from tests.alerts.test_robot_channels import (  # noqa: F401  (fixtures)
    DING_SECRET,
    FEISHU_SECRET,
    fake_clock,
    robot_server,
)
from tests.hostile import TITLES, URLS, assert_clean_terminal, assert_inert_markdown
from tests.tap_support import queue_incident, signer
from warehouse.incidents import IncidentStore
from warehouse.records import OutboxMessage
from warehouse.store import Warehouse

BASE = "https://jingyu.example.gov.cn"
CHANNELS = ["duty-ding", "duty-wecom", "duty-feishu", "duty-mail"]
ZHANG = Recipient("张三", "情指中心", "13800000011",
                  {"dingtalk": "13800000011", "wecom": "zhangsan", "feishu": "ou_zhangsan"})
CHEN = Recipient("陈静", "宣传处", None, {})
OUR_BUTTONS = {"签收（张三）", "签收（陈静）", VIEW_LABEL}
# WeCom template_card: the length WeCom allows each text field (characters).
WECOM_LIMITS = {("main_title", "title"): 26, ("main_title", "desc"): 30,
                ("emphasis_content", "title"): 10, ("emphasis_content", "desc"): 15}


def _settings(robots, mail_port: int):
    return parse_alert_settings(yaml.safe_load(f"""
console: {{base_url: "{BASE}"}}
channels:
  - {{name: duty-ding, kind: dingtalk, url: "{robots.dingtalk_url}",
     secret_env: JINGYU_TEST_DINGTALK_SECRET}}
  - {{name: duty-wecom, kind: wecom, url: "{robots.wecom_url}"}}
  - {{name: duty-feishu, kind: feishu, url: "{robots.feishu_url}",
     secret_env: JINGYU_TEST_FEISHU_SECRET}}
  - {{name: duty-mail, kind: email, host: 127.0.0.1, port: {mail_port}, security: none,
     sender: jingyu@gaj.example.gov.cn, to: [duty@gaj.example.gov.cn]}}
"""), "alerts.yaml")


def _evidence(number: int, title: str, at) -> tuple[Evidence, ...]:
    """The post itself and the hostile links, each under another hostile title."""
    urls = itertools.cycle([*URLS, f"https://weibo.example/p/{number}"])
    return tuple(Evidence(number * 100 + i, next(urls), t, "weibo<at id=all></at>", at)
                 for i, t in enumerate([title, *TITLES[:len(URLS)]]))


def _check_signed(url: str, links, now, incident: int) -> tuple[str, str]:
    """A button's URL is a link jingyu signed for this incident: (action, recipient)."""
    assert url.startswith(f"{BASE}/t/"), url
    link = links.read(url.rsplit("/t/", 1)[1], now)
    assert link.incident_id == incident
    return link.action, link.recipient


def _check_post_link(url: str) -> None:
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.hostname != "evil.example", url
    assert not any(c in url for c in " \n()<>[]\"'"), url


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        if tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_data(self, data) -> None:
        if self._href is not None:
            self.links.append((data, self._href))
            self._href = None


def _without(markdown: str, mention_line: str) -> str:
    """The markdown without jingyu's own mention line (the routed recipient's handle), which
    must be its last line, as jingyu wrote it."""
    assert markdown.endswith(mention_line), markdown[-80:]
    return markdown.removesuffix(mention_line)


def _check_robot(received, links, now, incident: int,
                 deadline: dict | None = {"title": "15 分钟", "desc": "内签收"}) -> None:
    """One platform's message about one incident, as the receiver accepted it."""
    body = received.body
    assert received.mentioned in ([], ["13800000011"], ["zhangsan"], ["ou_zhangsan"])
    if received.platform == "dingtalk":
        assert body["msgtype"] == "actionCard"
        card = body["actionCard"]
        assert "\n" not in card["title"]
        assert_clean_terminal(card["title"])
        assert_inert_markdown(_without(card["text"], "\n\n提醒 @13800000011"), headings=1)
        assert body["at"]["isAtAll"] is False
        buttons = [(b["title"], b["actionURL"]) for b in card["btns"]]
    elif received.platform == "wecom":
        assert body["msgtype"] == "template_card"
        card = body["template_card"]
        for (field, key), limit in WECOM_LIMITS.items():
            if field in card:
                value = card[field][key]
                assert len(value) <= limit and "\n" not in value, (field, key, value)
                assert_clean_terminal(value)
        sub = card["sub_title_text"]
        assert len(sub) <= 112 and "\n" not in sub
        assert_clean_terminal(sub)
        assert "<@" not in sub and "<at" not in sub
        assert card.get("emphasis_content") == deadline     # jingyu's deadline, not a post's
        for row in card.get("horizontal_content_list", []):
            assert row["keyname"].startswith("原文") and len(row["keyname"]) <= 5
            assert len(row["value"]) <= 26 and "\n" not in row["value"]
            assert_clean_terminal(row["value"])
            _check_post_link(row["url"])
        assert all(len(j["title"]) <= 13 for j in card["jump_list"])
        buttons = [(j["title"], j["url"]) for j in card["jump_list"]]
        assert _check_signed(card["card_action"]["url"], links, now, incident)[0] == "view"
    else:
        card = body["card"]
        title = card["header"]["title"]
        assert title["tag"] == "plain_text" and "\n" not in title["content"]
        assert_clean_terminal(title["content"])
        markdown, action = card["elements"]
        assert markdown["tag"] == "markdown" and action["tag"] == "action"
        assert_inert_markdown(_without(markdown["content"], "\n\n提醒 <at id=ou_zhangsan></at>"),
                              headings=0)
        assert all(b["text"]["tag"] == "plain_text" for b in action["actions"])
        buttons = [(b["text"]["content"], b["url"]) for b in action["actions"]]
    assert {label for label, _ in buttons} == OUR_BUTTONS, buttons
    said = {label: _check_signed(url, links, now, incident) for label, url in buttons}
    assert said == {"签收（张三）": ("ack", "张三"), "签收（陈静）": ("ack", "陈静"),
                    VIEW_LABEL: ("view", "张三")}


def test_the_corpus_through_every_button_message(robot_server, fake_clock, smtp_server,  # noqa: F811
                                                 tmp_path, now, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    monkeypatch.setenv("JINGYU_TEST_FEISHU_SECRET", FEISHU_SECRET)
    settings = _settings(robot_server, smtp_server.port)
    links = signer(BASE)
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    incidents: list[int] = []
    try:
        for number, title in enumerate(TITLES, start=1):
            at = now + timedelta(seconds=10 * number)
            incidents.append(queue_incident(
                warehouse, at, number, CHANNELS, (ZHANG, CHEN), title=title,
                level=1 + number % 4, jurisdiction="青川\n### 伪造辖区",
                evidence=_evidence(number, title, at)))
            report = deliver_pending(warehouse, settings, at, links)
            assert report == {"sent": 4, "failed": 0, "errors": []}, report
            fake_clock.now += 10                 # within every robot's rate: no digests
    finally:
        warehouse.close()

    by_platform: dict[str, list] = {}
    for received in robot_server.accepted:
        by_platform.setdefault(received.platform, []).append(received)
    assert {k: len(v) for k, v in by_platform.items()} == {
        "dingtalk": len(TITLES), "wecom": len(TITLES), "feishu": len(TITLES)}
    for platform, posts in by_platform.items():
        for incident, received in zip(incidents, posts):
            _check_robot(received, links, now, incident)

    assert len(smtp_server.mails) == len(TITLES)
    for incident, (_, _, mail) in zip(incidents, smtp_server.mails):
        assert "\n" not in mail["Subject"]
        assert_clean_terminal(mail["Subject"])
        text = mail.get_body(("plain",)).get_content()
        assert_clean_terminal(text.replace("\n", " "))
        assert not any(line.startswith("###") for line in text.splitlines())
        page = _Html()
        page.feed(mail.get_body(("html",)).get_content())
        assert set(page.tags) <= {"html", "head", "meta", "title", "body", "h3", "p", "ul",
                                  "ol", "li", "strong", "a"}, page.tags
        assert page.tags.count("h3") == 1
        buttons = [(label, href) for label, href in page.links if label != "原文"]
        assert {label for label, _ in buttons} == OUR_BUTTONS
        for label, href in buttons:
            _check_signed(href, links, now, incident)
        for _, href in page.links:
            if not href.startswith(f"{BASE}/t/"):
                _check_post_link(href)


@pytest.mark.parametrize("notice", [REMINDER, ESCALATION, RESOLVED])
def test_incident_notices_with_buttons_are_inert(robot_server, fake_clock, tmp_path, now,  # noqa: F811
                                                 monkeypatch, notice):
    """Reminders, escalations and resolved notices carry the incident's title (a post's) and
    a resolution note typed by a person: inert in every robot, the buttons jingyu's."""
    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    monkeypatch.setenv("JINGYU_TEST_FEISHU_SECRET", FEISHU_SECRET)
    settings = _settings(robot_server, 25)
    channels = {name: channel for name, channel in build_channels(settings).items()
                if name != "duty-mail"}
    links = signer(BASE)
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        incident_id = queue_incident(warehouse, now, 1, [], (ZHANG, CHEN))
        stored = IncidentStore(warehouse).by_ids([incident_id])[incident_id]
    finally:
        warehouse.close()
    route = Route(channels=tuple(channels), recipients=(ZHANG, CHEN), sensitive=True,
                  rules=("test",))
    for number, title in enumerate(TITLES, start=1):
        incident = replace(stored, title=title, jurisdiction="青川\n### 伪造辖区")
        note = f"张三 标记为已处置：{title}"
        payload = render_incident_notice(incident, notice, [note], route)
        assert "\n" not in payload["title"]
        assert_clean_terminal(payload["title"])
        assert_clean_terminal(payload["text"].replace("\n", " "))
        assert len(payload["text"].splitlines()) == len(payload["markdown"].splitlines()) - 1
        assert_inert_markdown(payload["markdown"], headings=1)
        payload = with_buttons(payload, incident_id, links, now, awaiting_ack=True)
        batch = [OutboxMessage(id=number, alert_id=incident_id, channel=name,
                               idempotency_key=f"{notice}:{number}@{name}", payload=payload,
                               attempts=0) for name in channels]
        outcomes = deliver(batch, channels)
        assert all(o.delivered for o in outcomes), [o.error for o in outcomes]
        fake_clock.now += 10
    assert len(robot_server.accepted) == 3 * len(TITLES)
    for received in robot_server.accepted:
        _check_robot(received, links, now, incident_id, deadline=None)
