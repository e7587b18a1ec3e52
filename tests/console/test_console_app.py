"""The console application as one piece: the one-tap pages are mounted beside the logged-in
pages, and the admin's accounts page does what `jingyu users` does."""
from __future__ import annotations

import re

from console.links import ACK, links_for
from jingyu.timeutil import utcnow
from tests.console.harness import LINJIANG_PCS, PASSWORD, form_token, login, post_form
from warehouse.accounts import AccountStore
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse


def test_a_one_tap_link_acknowledges_through_the_console_app(console):
    incident = console.seed.incident("辅警推倒摊贩 阿姨受伤", LINJIANG_PCS)
    wh = Warehouse(console.url)
    try:
        signer = links_for(wh, console.base, 2, None, utcnow())
        assert signer is not None
        url = signer.url(incident, "赵敏", ACK, utcnow())
    finally:
        wh.close()
    s = console.session()                               # no login: the link is the credential
    page = s.get(url)
    assert page.status_code == 200 and "辅警推倒摊贩" in page.text
    token = url.rsplit("/", 1)[1]
    done = s.post(f"{console.base}/t/{token}", data=dict(re.findall(
        r'name="([^"]+)" value="([^"]*)"', page.text)))
    assert done.status_code == 200
    wh = Warehouse(console.url)
    try:
        state = IncidentStore(wh).get(incident)
    finally:
        wh.close()
    assert state.status == "acknowledged" and state.acknowledged_by == "赵敏"
    # the console's own pages still want a login
    assert s.get(console.base + f"/incidents/{incident}").url.startswith(console.base + "/login")


def test_the_admin_adds_and_disables_accounts_others_cannot(console):
    admin = console.session("孙管理")
    page = admin.get(console.base + "/accounts")
    assert page.status_code == 200 and "张三" in page.text
    post_form(admin, console.base, "/accounts", page="/accounts", action="add", name="周新",
              role="analyst", jurisdiction="qingchuan.beihu", password="new-person-pass")
    assert login(console.session(), console.base, "周新", "new-person-pass").url.rstrip("/") \
        == console.base
    refused = post_form(admin, console.base, "/accounts", page="/accounts", action="add",
                        name="短密码", role="duty", jurisdiction="", password="short")
    assert "at least 8" in refused.text
    post_form(admin, console.base, "/accounts", page="/accounts", action="disable", name="李四")
    assert login(console.session(), console.base, "李四", PASSWORD).status_code == 401
    wh = Warehouse(console.url)
    try:
        store = AccountStore(wh)
        assert store.get("周新").jurisdiction == "qingchuan.beihu"
        assert store.get("李四").disabled
    finally:
        wh.close()
    duty = console.session("张三")
    assert duty.get(console.base + "/accounts").status_code == 403
    forged = duty.post(console.base + "/accounts",
                       data={"csrf": form_token(duty.get(console.base + "/").text),
                             "action": "disable", "name": "王建国"})
    assert forged.status_code == 403
