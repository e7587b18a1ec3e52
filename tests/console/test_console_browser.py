"""The console in a real headless Chromium: what duty officers see and do, at a desk and on
a phone. Screenshots go to test-artifacts/ (tests/browser.py)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.console.harness import BEIHU, LINJIANG_PCS, PASSWORD

DESK = {"width": 1366, "height": 768}


def log_in(page, base: str, name: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url                     # nothing before the login
    page.get_by_label("姓名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(base + "/")


def second_page(browser, viewport=DESK):
    context = browser.new_context(viewport=viewport, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_a_new_incident_appears_on_an_open_board_without_reload(console, page, screenshot):
    console.seed.incident("辅警推倒摊贩 阿姨受伤", LINJIANG_PCS)
    page.set_viewport_size(DESK)
    log_in(page, console.base, "张三")
    assert page.locator(".card").count() == 1
    marker = page.evaluate("window.__kept = 'same page'; window.__kept")
    new = console.seed.incident("派出所门口冲突 视频流传", LINJIANG_PCS)
    page.locator(f"#incident-{new}").wait_for(timeout=6_000)     # within 5 s of the change
    assert page.evaluate("window.__kept") == marker                # no reload happened
    assert page.locator(".card").count() == 2
    screenshot(page, "board-desk", full_page=False)
    page.get_by_role("link", name="巡查").click()
    assert page.locator("svg rect.bar.ok").count() >= 2          # the two cycles of the seeds
    screenshot(page, "patrol-desk", full_page=False)
    page.get_by_role("link", name="检索").click()
    page.get_by_label("关键词").fill("冲突")
    page.get_by_role("button", name="检索").click()
    assert page.locator(f"a[href='/incidents/{new}']").count() == 1
    screenshot(page, "search-desk", full_page=False)


def test_ack_and_track_show_on_a_second_officers_board_and_the_audit_says_who(
        console, page, browser, screenshot):
    incident = console.seed.incident("民警执法视频引发质疑", LINJIANG_PCS)
    page.set_viewport_size(DESK)
    log_in(page, console.base, "张三")
    context, other = second_page(browser)
    try:
        log_in(other, console.base, "李四")
        card = other.locator(f"#incident-{incident}")
        assert "待签收" in card.inner_text()

        page.locator(".cards").get_by_role("link", name=re.compile("民警执法视频")).click()
        page.get_by_role("button", name="签收").click()
        assert "已签收" in page.locator(".flash").inner_text()
        form = page.locator("form[action$='/track']")
        form.locator("select[name=track]").select_option("opinion")
        form.locator("select[name=step]").select_option("start")
        form.locator("input[name=unit]").fill("宣传处")
        form.get_by_role("button", name="记录").click()
        assert "三同步已记录" in page.locator(".flash").inner_text()

        # within 5 s, without a reload (the page's CSP refuses eval: wait with a locator)
        expect(card).to_contain_text("签收 张三", timeout=6_000)
        assert "宣传处" in card.inner_text()
        audit = page.locator("table.audit").inner_text()
        assert re.search(r"张三\s+签收", audit) and re.search(r"张三\s+启动", audit)
        screenshot(page, "incident-desk")
    finally:
        context.close()


def test_phone_board_and_incident(console, phone_page, screenshot):
    incident = console.seed.incident("辅警推人 路人拍下视频 <b>转发</b>", LINJIANG_PCS)
    console.seed.incident("北湖 交警查车 司机不满", BEIHU)
    log_in(phone_page, console.base, "张三")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the board is {width} px wide on a 375 px phone"
    screenshot(phone_page, "board-phone")
    phone_page.goto(f"{console.base}/incidents/{incident}")
    assert "<b>转发</b>" in phone_page.locator("h1").inner_text()      # shown, not obeyed
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone_page, "incident-phone")


def test_an_analyst_cannot_act(console, page):
    incident = console.seed.incident("交警查车 司机不满", LINJIANG_PCS)
    log_in(page, console.base, "钱分析")
    assert page.get_by_role("button", name="签收").count() == 0
    page.goto(f"{console.base}/incidents/{incident}")
    assert page.locator("h1").is_visible()
    assert page.get_by_role("button", name="签收").count() == 0
    assert page.locator("form[action$='/track']").count() == 0


def test_a_station_account_does_not_see_another_district(console, page):
    mine = console.seed.incident("临江派出所 出警慢", LINJIANG_PCS)
    theirs = console.seed.incident("北湖分局 辅警打人", BEIHU)
    log_in(page, console.base, "临江所民警")
    assert page.locator(f"#incident-{mine}").count() == 1
    assert page.locator(f"#incident-{theirs}").count() == 0
    assert "北湖" not in page.content()
    response = page.goto(f"{console.base}/incidents/{theirs}")
    assert response.status == 404 and "北湖" not in page.content()
