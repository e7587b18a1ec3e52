"""Merging and splitting incidents from the incident page (issue 13), in a real headless
Chromium over the real console: the same alerts.incidents.actions the CLI calls, recorded as
the person logged in, refused with Chinese messages, and not offered to those who may not
act. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re

from sqlalchemy import text

from tests.console.test_console_browser import log_in
from tests.console.harness import BEIHU, LINJIANG_PCS, post_form
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse


def _state(url: str, incident_id: int):
    wh = Warehouse(url)
    try:
        store = IncidentStore(wh)
        return store.get(incident_id), store.events(incident_id)
    finally:
        wh.close()


def _urls(url: str) -> dict[int, str]:
    wh = Warehouse(url)
    try:
        with wh.engine.connect() as conn:
            return dict(conn.execute(text("SELECT id, url FROM posts")).all())
    finally:
        wh.close()


def test_merge_then_split_from_the_incident_page(console, page, screenshot):
    first = console.seed.incident("滨河路夜市 辅警推倒摊主", LINJIANG_PCS)
    second = console.seed.incident("夜市摊主被推倒 视频流传", LINJIANG_PCS)
    third = console.seed.incident("滨河路 摊主受伤 围观者拍下", LINJIANG_PCS)
    assert first < second < third
    log_in(page, console.base, "张三")

    # merge from the later one's page: the earlier number carries on, the browser goes there
    page.goto(f"{console.base}/incidents/{third}")
    merge = page.locator("#merge-form")
    merge.get_by_label("另一事件编号").fill(str(first))
    merge.get_by_label("合并原因").fill("同一件事")
    merge.get_by_role("button", name="与该事件合并").click()
    page.wait_for_url(f"{console.base}/incidents/{first}")
    assert f"#{third} 并入 #{first}" in page.locator(".flash").inner_text()
    # and once more, from the earlier one's page
    merge = page.locator("#merge-form")
    merge.get_by_label("另一事件编号").fill(str(second))
    merge.get_by_role("button", name="与该事件合并").click()
    page.wait_for_url(f"{console.base}/incidents/{first}")
    audit = page.locator("table.audit").inner_text()
    assert len(re.findall(r"张三\s+合并（并入他案）", audit)) == 2, audit
    kept, events = _state(console.url, first)
    assert [e.actor for e in events if e.action == "merged_in"] == ["张三", "张三"]
    assert {e.detail["from"] for e in events if e.action == "merged_in"} == {second, third}
    assert all(e.detail.get("via") == "console" for e in events if e.action == "merged_in")
    boxes = page.locator("input[name=post][form=split-form]")
    assert boxes.count() == 3                      # the three incidents' posts, all here
    screenshot(page, "merged")

    # the merged-away incident says where it went and links there
    gone, gone_events = _state(console.url, third)
    assert gone.merged_into == first and gone.status == "closed"
    page.goto(f"{console.base}/incidents/{third}")
    note = page.locator("p.merged")
    assert f"已并入 #{first}" in note.inner_text()
    note.get_by_role("link", name=f"#{first}").click()
    page.wait_for_url(f"{console.base}/incidents/{first}")
    assert [e.actor for e in gone_events if e.action == "merged_into"] == ["张三"]

    # refusals, in Chinese, nothing changed
    for typed, said in ((str(first), "不能与自身合并"), ("9999", "没有编号为 9999 的事件"),
                        (str(third), f"#{third} 已并入 #{first}"), ("十二", "请填写另一事件的编号")):
        merge = page.locator("#merge-form")
        merge.get_by_label("另一事件编号").fill(typed)
        merge.get_by_role("button", name="与该事件合并").click()
        page.wait_for_url(f"{console.base}/incidents/{first}")
        flash = page.locator(".flash.error")
        assert said in flash.inner_text(), (typed, flash.inner_text())
    page.locator("#split-form").get_by_role("button", name="拆分所选帖子为新事件").click()
    assert "请先勾选要拆分出去的帖子" in page.locator(".flash.error").inner_text()
    screenshot(page, "refused")

    # split two posts off: a new incident with those two, recorded as 张三
    boxes = page.locator("input[name=post][form=split-form]")
    chosen = [int(boxes.nth(i).get_attribute("value")) for i in (0, 1)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("#split-form").get_by_label("拆分原因").fill("另一件事")
    page.locator("#split-form").get_by_role("button", name="拆分所选帖子为新事件").click()
    flash = page.locator(".flash.ok")
    assert "已拆分：2 条帖子成为新事件" in flash.inner_text()
    new_id = int(re.search(r"#(\d+)", flash.inner_text()).group(1))
    assert page.locator("input[name=post][form=split-form]").count() == 1
    assert page.locator("ol.evidence li").count() == 1       # the two left with their split
    assert re.search(r"张三\s+拆分出新事件", page.locator("table.audit").inner_text())
    screenshot(page, "split")
    flash.get_by_role("link", name=f"#{new_id}").click()
    page.wait_for_url(f"{console.base}/incidents/{new_id}")
    assert re.search(r"张三\s+拆分自", page.locator("table.audit").inner_text())
    shown = {int(v) for v in page.locator("input[name=post][form=split-form]")
             .evaluate_all("els => els.map(e => e.value)")}
    assert shown == set(chosen)
    new, new_events = _state(console.url, new_id)
    split_from = [e for e in new_events if e.action == "split_from"]
    assert [(e.actor, sorted(e.detail["posts"]), e.detail["from"]) for e in split_from] == [
        ("张三", sorted(chosen), first)]
    screenshot(page, "new")
    # the 专报 reads the same posts: the two split off are in the new incident's, not the first's
    urls = _urls(console.url)
    kept_post = next(p for p in urls if p not in chosen)
    page.goto(f"{console.base}/incidents/{first}/report")
    report = page.content()
    assert urls[kept_post] in report and not [p for p in chosen if urls[p] in report]
    page.goto(f"{console.base}/incidents/{new_id}/report")
    report = page.content()
    assert all(urls[p] in report for p in chosen) and urls[kept_post] not in report


def test_who_may_not_act_sees_no_form_and_is_refused(console, page):
    mine = console.seed.incident("临江 辅警执法 起争执", LINJIANG_PCS)
    other = console.seed.incident("临江 同一执法 视频", LINJIANG_PCS)
    theirs = console.seed.incident("北湖 交警 查车 不满", BEIHU)

    log_in(page, console.base, "钱分析")                     # analyst: reads, does not act
    page.goto(f"{console.base}/incidents/{other}")
    assert page.locator("h1").is_visible()
    assert page.locator("#merge-form").count() == 0 and page.locator("#split-form").count() == 0
    assert page.locator("input[name=post]").count() == 0
    analyst = console.session("钱分析")
    page_path = f"/incidents/{other}"
    refused = post_form(analyst, console.base, f"/incidents/{other}/merge", page_path,
                        other=str(mine))
    assert refused.status_code == 403 and "无权操作" in refused.text
    refused = post_form(analyst, console.base, f"/incidents/{other}/split", page_path,
                        post="1")
    assert refused.status_code == 403
    assert _state(console.url, other)[0].merged_into is None

    # a station account may not merge with another district's incident, nor learn it exists
    station = console.session("临江所民警")
    response = post_form(station, console.base, f"/incidents/{other}/merge", page_path,
                         other=str(theirs))
    assert response.status_code == 200 and "没有编号为" in response.text
    assert "北湖" not in response.text
    assert _state(console.url, theirs)[0].merged_into is None
    # a form without the page's token is refused
    forged = station.post(f"{console.base}/incidents/{other}/merge",
                          data={"csrf": "forged", "other": str(mine)})
    assert forged.status_code == 403 and "表单已过期" in forged.text
    assert _state(console.url, other)[0].merged_into is None
