"""The hostile corpus (tests/hostile.py) and HTML attacks through the duty console in a real
headless Chromium (issue 10): board, incident pages, the console's 专报, search results, the
patrol page and the one-tap confirm page. Posts whose titles try to run script (an onerror
image, a closing </script>, an svg onload) and whose links are javascript:, data: or file:
are opened by the real pipeline; on every page no script of theirs runs (a window flag they
would set stays unset, Chromium reports no blocked inline script), no element of theirs
exists, every link is http(s) or the console's own, and no bidi override, zero-width or
control character is left in the page. Screenshots go to test-artifacts/."""
from __future__ import annotations

import itertools
import json
from urllib.parse import urlsplit

import pytest

from alerts.delivery.outbox import deliver_pending
from console.links import links_for
from flows.settings import load_desk
from jingyu.timeutil import utcnow
from tests.console.harness import LINJIANG_PCS, PASSWORD
from tests.hostile import BIDI, INVISIBLE, TITLES, URLS, ZERO_WIDTH
from warehouse.store import Warehouse

# Each would set window.__pwned if the page let it run.
SCRIPTED = (
    '<img src=x onerror="window.__pwned=1">民警执法',
    '</script><script>window.__pwned=2</script>辅警执法',
    '"><svg onload="window.__pwned=3">派出所门口',
    "<iframe src=\"javascript:parent.__pwned=4\"></iframe>交警查车",
    "<a href=\"javascript:window.__pwned=5\">点我</a>特警巡逻",
)
PAGE_TITLES = (*SCRIPTED, *TITLES)
HOSTILE_LINKS = (*URLS, "javascript:window.__pwned=6", " javascript:window.__pwned=7",
                 "JAVASCRIPT:window.__pwned=8")


def _log_in(page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("姓名").fill("张三")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(base + "/")


class Watch:
    """What Chromium says while the pages load: console messages and uncaught errors."""

    def __init__(self, page) -> None:
        self.messages: list[str] = []
        page.on("console", lambda message: self.messages.append(message.text))
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))

    def blocked_scripts(self) -> list[str]:
        # A script the page's CSP refused would mean post text became markup.
        return [m for m in self.messages if "Content Security Policy" in m or "pageerror" in m]


def _inert(page, base: str, watch: Watch, where: str) -> str:
    """The page as loaded is inert; returns its visible text."""
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned === undefined"), f"{where}: a post's script ran"
    for selector in ("img[src=x]", "[onerror]", "[onload]", "iframe", "svg[onload]",
                     "script:not([src])"):
        assert page.locator(selector).count() == 0, f"{where}: {selector} came from a post"
    for script in page.locator("script[src]").all():
        assert script.get_attribute("src").startswith("/static/"), where
    for href in page.evaluate("[...document.querySelectorAll('[href]')]"
                              ".map(e => e.getAttribute('href'))"):
        parts = urlsplit(href.strip())
        assert parts.scheme in ("http", "https", "") and not href.lower().lstrip().startswith(
            ("javascript", "data", "file")), f"{where}: live link {href!r}"
        if parts.scheme:
            assert parts.hostname and parts.hostname != "evil.example", f"{where}: {href!r}"
    html = page.content()
    found = INVISIBLE.findall(html.replace("\r", ""))
    assert not found, f"{where}: invisible/control characters in the page: {found!r}"
    assert watch.blocked_scripts() == [], f"{where}: {watch.blocked_scripts()}"
    return page.locator("body").inner_text()


@pytest.fixture
def hostile_console(console):
    """The console with one incident per hostile title, each post linked to a hostile URL,
    and their notifications delivered with signed links (notifications.jsonl)."""
    links = itertools.cycle([*HOSTILE_LINKS, None])
    incidents = {title: console.seed.incident(title, LINJIANG_PCS, link=next(links))
                 for title in PAGE_TITLES}
    now = utcnow()
    warehouse = Warehouse(console.url)
    try:
        desk = load_desk(console.config)
        assert deliver_pending(warehouse, desk.settings, now,
                               links_for(warehouse, console.base, 2, None, now))["sent"] >= 1
    finally:
        warehouse.close()
    return console, incidents


def test_hostile_titles_and_links_are_inert_on_every_console_page(hostile_console, page,
                                                                  screenshot):
    console, incidents = hostile_console
    watch = Watch(page)
    _log_in(page, console.base)

    board = _inert(page, console.base, watch, "board")
    assert "警民冲突" in board and "民警打人" in board     # the hidden text, plain to see
    assert "<img src=x" in board and "</script>" in board   # shown as the text it is
    screenshot(page, "board", full_page=False)

    for title, number in incidents.items():
        page.goto(f"{console.base}/incidents/{number}")
        text = _inert(page, console.base, watch, f"incident {number}")
        assert f"#{number}" in text
    page.goto(f"{console.base}/incidents/{incidents[SCRIPTED[0]]}")
    screenshot(page, "incident")
    page.goto(f"{console.base}/incidents/{incidents[BIDI]}")
    assert "警民冲突" in _inert(page, console.base, watch, "bidi incident")
    screenshot(page, "incident-bidi", full_page=False)

    page.goto(f"{console.base}/incidents/{incidents[SCRIPTED[1]]}/report")
    _inert(page, console.base, watch, "专报")
    screenshot(page, "report", full_page=False)

    for query in ("执法", "民警", "警"):
        page.goto(f"{console.base}/search?q={query}")
        results = _inert(page, console.base, watch, f"search {query}")
        assert "事件 #" in results or "条" in results
    screenshot(page, "search", full_page=False)

    page.goto(f"{console.base}/patrol")
    _inert(page, console.base, watch, "patrol")
    screenshot(page, "patrol", full_page=False)

    # The live board: a new hostile incident arrives by the board's own refresh (innerHTML).
    page.goto(console.base + "/")
    new = console.seed.incident('<img src=x onerror="window.__pwned=9">刑警到场' + ZERO_WIDTH,
                                LINJIANG_PCS, link="javascript:window.__pwned=10")
    page.locator(f"#incident-{new}").wait_for(timeout=8_000)
    assert "刑警到场" in _inert(page, console.base, watch, "board after refresh")


def test_the_tap_page_of_a_hostile_incident_is_inert(hostile_console, phone_page, screenshot):
    console, incidents = hostile_console
    watch = Watch(phone_page)
    records = [json.loads(line) for line in
               (console.config.parent / "notifications.jsonl").read_text().splitlines()]
    tapped = 0
    shown = {SCRIPTED[0]: "民警执法", SCRIPTED[2]: "派出所门口", BIDI: "警民冲突",
             ZERO_WIDTH: "民警打人"}
    for title, visible in shown.items():
        [record] = [r for r in records if r["alert_id"] == incidents[title]]
        acks = [b for b in record["payload"]["buttons"] if b["action"] == "ack"]
        assert acks, record["payload"]["buttons"]
        phone_page.goto(acks[0]["url"])
        text = _inert(phone_page, console.base, watch, f"tap {incidents[title]}")
        assert visible in text
        if tapped == 0:
            screenshot(phone_page, "tap-confirm")
            phone_page.get_by_role("button", name="确认签收").tap()
            phone_page.wait_for_selector(".result.ok")
            _inert(phone_page, console.base, watch, "tap acknowledged")
            screenshot(phone_page, "tap-acknowledged")
        tapped += 1
    assert tapped == 4
