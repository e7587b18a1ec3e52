"""The console over HTTP, as a browser uses it: login, board, incident, actions, rights."""
from __future__ import annotations

import re
import time

import pytest

from tests.console.harness import (
    BEIHU,
    LINJIANG_PCS,
    PASSWORD,
    form_token,
    login,
    post_form,
)
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

HOSTILE = '<script>alert("x")</script>辅警推倒摊贩 <img src=x onerror=alert(1)>'


def state(running, incident_id):
    wh = Warehouse(running.url)
    try:
        store = IncidentStore(wh)
        return store.get(incident_id), store.events(incident_id)
    finally:
        wh.close()


def test_nothing_about_incidents_before_login(console):
    incident = console.seed.incident("辅警推倒摊贩 阿姨受伤", LINJIANG_PCS)
    s = console.session()
    for path in ("/", f"/incidents/{incident}", "/board/fragment"):
        response = s.get(console.base + path)
        assert response.url.startswith(console.base + "/login"), path
        assert "摊贩" not in response.text
    fetched = s.get(console.base + "/board/stamp", headers={"X-Requested-With": "fetch"})
    assert fetched.status_code == 401
    refused = s.post(console.base + f"/incidents/{incident}/ack", data={"csrf": "x"},
                     allow_redirects=False)
    assert refused.status_code in (303, 403)
    assert state(console, incident)[0].status == "new"


def test_board_shows_open_incidents_escaped_with_timers_and_tracks(console):
    incident = console.seed.incident(HOSTILE, LINJIANG_PCS)
    page = console.session("张三").get(console.base + "/")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text and "&lt;img src=x" in page.text
    assert "__FORM_TOKEN__" not in page.text          # the cached board got this session's token
    assert len(set(re.findall(r'name="csrf" value="([^"]+)"', page.text))) == 1
    assert f'href="/incidents/{incident}"' in page.text
    assert "临江派出所" in page.text and LINJIANG_PCS not in page.text
    for words in ("签收", "剩", "依法处理", "舆论引导", "社会面管控", "待签收"):
        assert words in page.text
    headers = page.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    assert "HttpOnly" in headers.get("Set-Cookie", "") or s_cookie_httponly(console)


def s_cookie_httponly(console) -> bool:
    s = console.session()
    response = s.get(console.base + "/login")
    return "httponly" in response.headers["Set-Cookie"].lower()


def test_wrong_password_is_refused_and_logins_are_rate_limited(console):
    s = console.session()
    assert login(s, console.base, "张三", "wrong-password").status_code == 401
    for _ in range(4):
        login(s, console.base, "张三", "wrong-password")
    limited = login(s, console.base, "张三", PASSWORD)      # even the right password, for now
    assert limited.status_code == 429 and "分钟后再试" in limited.text
    assert login(console.session(), console.base, "李四", PASSWORD).url.rstrip("/") == \
        console.base


def test_forms_need_the_session_token(console):
    incident = console.seed.incident("民警执法争议 视频流传", LINJIANG_PCS)
    s = console.session("张三")
    forged = s.post(console.base + f"/incidents/{incident}/ack", data={"csrf": "guess"})
    assert forged.status_code == 403
    assert state(console, incident)[0].status == "new"
    other = console.session("李四")      # another person's token is no good either
    token_page = other.get(console.base + f"/incidents/{incident}").text
    stolen = s.post(console.base + f"/incidents/{incident}/ack",
                    data={"csrf": form_token(token_page)})
    assert stolen.status_code == 403


def test_ack_and_track_are_recorded_as_the_person_and_show_on_another_board(serve,
                                                                            warehouse_url):
    console = serve(warehouse_url)          # SQLite file and PostgreSQL
    incident = console.seed.incident("派出所门口冲突 多人围观", LINJIANG_PCS)
    zhang, li = console.session("张三"), console.session("李四")
    page = f"/incidents/{incident}"
    done = post_form(zhang, console.base, f"{page}/ack", page=page, note="已通知属地")
    assert done.status_code == 200 and "已签收" in done.text
    post_form(zhang, console.base, f"{page}/track", page=page, track="opinion", step="start",
              unit="宣传处", note="准备通报")
    now, events = state(console, incident)
    assert now.status == "handling" and now.acknowledged_by == "张三"
    acted = [e for e in events if e.actor == "张三"]
    assert [e.action for e in acted] == ["acknowledged", "track_start"]
    assert all(e.detail.get("via") == "console" for e in acted)
    board = li.get(console.base + "/board/fragment", headers={"X-Requested-With": "fetch"})
    assert "签收 张三" in board.text and "宣传处" in board.text
    audit = li.get(console.base + page).text
    assert "张三" in audit and "已通知属地" in audit


def test_a_refused_change_says_why(console):
    incident = console.seed.incident("辅警推人 路人拍下", LINJIANG_PCS)
    s = console.session("张三")
    page = f"/incidents/{incident}"
    post_form(s, console.base, f"{page}/ack", page=page)
    again = s.post(console.base + f"{page}/ack", data={"csrf": _token(s, console, page)})
    assert "nothing to acknowledge" in again.text or "acknowledged by 张三" in again.text


def _token(s, console, page):
    return form_token(s.get(console.base + page).text)


def test_an_analyst_reads_but_cannot_act(console):
    incident = console.seed.incident("交警查车 司机不满", LINJIANG_PCS)
    s = console.session("钱分析")
    page = s.get(console.base + f"/incidents/{incident}")
    assert page.status_code == 200 and "交警查车" in page.text
    assert f'action="/incidents/{incident}/ack"' not in page.text
    refused = s.post(console.base + f"/incidents/{incident}/ack",
                     data={"csrf": _token(s, console, f"/incidents/{incident}")})
    assert refused.status_code == 403
    assert state(console, incident)[0].status == "new"


def test_only_the_leader_changes_the_level_and_closes(console):
    incident = console.seed.incident("执法视频引发质疑", LINJIANG_PCS)
    page = f"/incidents/{incident}"
    duty = console.session("张三")
    assert f'action="{page}/level"' not in duty.get(console.base + page).text
    refused = duty.post(console.base + f"{page}/level",
                        data={"csrf": _token(duty, console, page), "level": "1",
                              "reason": "扩散"})
    assert refused.status_code == 403
    leader = console.session("王建国")
    before = state(console, incident)[0].level
    target = 1 if before != 1 else 2
    post_form(leader, console.base, f"{page}/level", page=page, level=str(target),
              reason="多平台扩散")
    after, events = state(console, incident)
    assert after.level == target
    assert events[-1].actor == "王建国" and events[-1].detail["reason"] == "多平台扩散"
    post_form(leader, console.base, f"{page}/close", page=page, note="误报")
    assert state(console, incident)[0].status == "closed"


def test_a_station_account_sees_only_its_own_jurisdiction(serve, warehouse_url):
    console = serve(warehouse_url)          # SQLite file and PostgreSQL
    mine = console.seed.incident("临江派出所民警 出警慢", LINJIANG_PCS)
    theirs = console.seed.incident("北湖分局 辅警打人", BEIHU)
    s = console.session("临江所民警")
    board = s.get(console.base + "/").text
    assert f"/incidents/{mine}" in board and f"/incidents/{theirs}" not in board
    assert "北湖" not in board
    hidden = s.get(console.base + f"/incidents/{theirs}")
    assert hidden.status_code == 404 and "北湖" not in hidden.text
    refused = s.post(console.base + f"/incidents/{theirs}/ack",
                     data={"csrf": _token(s, console, "/")})
    assert refused.status_code == 403
    assert state(console, theirs)[0].status == "new"
    whole = console.session("张三").get(console.base + "/").text
    assert f"/incidents/{theirs}" in whole


def test_logout_and_disabled_accounts_end_the_session(console):
    from flows.cli import main

    s = console.session("张三")
    assert s.get(console.base + "/").url.rstrip("/") == console.base
    post_form(s, console.base, "/logout")
    assert s.get(console.base + "/").url.startswith(console.base + "/login")
    li = console.session("李四")
    assert main(["users", "disable", "李四", "--database", console.url]) == 0
    # The console reads accounts again at most every 5 s (console.auth.AccountCache).
    deadline = time.monotonic() + 6
    while not li.get(console.base + "/").url.startswith(console.base + "/login"):
        assert time.monotonic() < deadline, "a disabled account kept its session"
        time.sleep(0.5)
    assert login(console.session(), console.base, "李四", PASSWORD).status_code == 401


def test_an_idle_session_logs_out(serve, sqlite_url):
    running = serve(sqlite_url, idle_minutes=0.03)
    s = running.session("张三")
    time.sleep(2.5)
    again = s.get(running.base + "/")
    assert again.url.startswith(running.base + "/login") and "长时间未操作" in again.text


@pytest.mark.postgres
def test_console_round_trip_on_postgresql(serve, postgres_url):
    running = serve(postgres_url)
    incident = running.seed.incident("辅警推倒摊贩 视频流传", LINJIANG_PCS)
    s = running.session("张三")
    page = f"/incidents/{incident}"
    assert "辅警推倒摊贩" in s.get(running.base + "/").text
    post_form(s, running.base, f"{page}/ack", page=page)
    after, events = state(running, incident)
    assert after.acknowledged_by == "张三" and events[-1].detail["via"] == "console"


def test_patrol_shows_the_ledger_sources_duty_and_the_handover(console):
    console.seed.incident("辅警推倒摊贩 阿姨受伤", LINJIANG_PCS)   # one cycle in the ledger
    s = console.session("张三")
    page = s.get(console.base + "/patrol")
    assert page.status_code == 200
    assert "巡查覆盖" in page.text and 'class="bar ok"' in page.text
    assert 'class="bar gap"' in page.text            # the hours before the seeded cycle
    assert "微博" in page.text and "值班" in page.text
    handover = s.get(console.base + "/patrol/handover")
    assert handover.status_code == 200 and "交接班记录" in handover.text
    assert "script-src" not in handover.headers["Content-Security-Policy"]
    assert "default-src 'none'" in handover.headers["Content-Security-Policy"]


def test_incident_report_is_the_same_document_as_the_cli(console):
    incident = console.seed.incident(HOSTILE, LINJIANG_PCS)
    s = console.session("张三")
    report = s.get(console.base + f"/incidents/{incident}/report")
    assert report.status_code == 200 and "专报" in report.text
    assert "<script>alert" not in report.text
    theirs = console.seed.incident("北湖分局 辅警打人", BEIHU)
    station = console.session("临江所民警")
    assert station.get(console.base + f"/incidents/{theirs}/report").status_code == 404


def test_search_finds_posts_links_incidents_and_keeps_to_the_jurisdiction(console):
    mine = console.seed.incident("临江 辅警推倒摊贩 <i>阿姨</i>", LINJIANG_PCS)
    theirs = console.seed.incident("北湖 辅警推倒摊贩 路人围观", BEIHU)
    s = console.session("钱分析")
    page = s.get(console.base + "/search", params={"q": "推倒摊贩"})
    assert page.status_code == 200 and "共 2 条" in page.text
    assert f'href="/incidents/{mine}"' in page.text and f'href="/incidents/{theirs}"' in page.text
    assert "<i>阿姨</i>" not in page.text and "&lt;i&gt;" in page.text
    assert "<mark>推倒摊贩</mark>" in page.text
    station = console.session("临江所民警")
    scoped = station.get(console.base + "/search",
                         params={"q": "推倒摊贩", "jurisdiction": BEIHU})   # not its own
    assert "共 1 条" in scoped.text and "北湖" not in scoped.text.split("检索</button>")[1]
    bad = s.get(console.base + "/search", params={"q": "NOT 辅警"})
    assert bad.status_code == 400 and 'class="error"' in bad.text


def test_health_alerts_show_on_the_patrol_page_not_the_board(console):
    """A dead source is a 系统告警 for the operators: on 巡查 beside source health, not among
    duty staff's incidents on the board."""
    from alerts.incidents.handling import Desk, watch
    from collectors.records import FETCH_ERROR, FetchResult, SourceCursor
    from jingyu.timeutil import utcnow
    from warehouse.store import Warehouse

    console.seed.incident("辅警推倒摊贩 阿姨受伤", LINJIANG_PCS)
    wh = Warehouse(console.url)
    run = wh.start_run(utcnow())
    source_id = wh.source_health(utcnow())[0]["id"]
    for _ in range(3):
        wh.store_fetch(run, FetchResult(source_id=source_id, status=FETCH_ERROR,
                                        cursor=SourceCursor(), error="HTTP 500 <b>x</b>",
                                        http_status=500), [], utcnow())
    wh.finish_run(run, utcnow(), alerts_new=0, notifications_sent=0, errors=[])
    from flows.settings import load_desk
    desk: Desk = load_desk(console.config)
    [raised] = watch(wh, desk, utcnow()).raised
    wh.close()
    s = console.session("张三")
    patrol = s.get(console.base + "/patrol").text
    assert "系统告警（运维）" in patrol and "信息源失效：微博" in patrol and "未恢复" in patrol
    assert "<b>x</b>" not in patrol and "&lt;b&gt;x&lt;/b&gt;" in patrol
    board = s.get(console.base + "/").text
    assert "辅警推倒摊贩" in board and "信息源失效" not in board and "系统告警" not in board
