"""巡查 in a real headless Chromium: each failing source shows its failure's class, what to do
and what jingyu does about it (backing off, disabled), from the run ledger's source health;
a well source shows none, and an error's text from a stranger's server stays text."""
from __future__ import annotations

from datetime import timedelta

from collectors.failures import ADVICE_ZH, NAMES_ZH, FailureClass, FailurePolicy
from collectors.records import FETCH_ERROR, FETCH_OK, FetchResult, SourceConfig, SourceCursor
from jingyu.timeutil import utcnow
from tests.console.test_console_browser import log_in
from warehouse.store import Warehouse

HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'
SOURCES = {   # id: (name, failure, error)
    "rsshub-weibo": ("RSSHub 微博", FailureClass.BLOCKED,
                     "HTTP 418 from http://127.0.0.1:1200/weibo/user/1 (a robot check)"),
    "rsshub-zhihu": ("RSSHub 知乎", FailureClass.CREDENTIALS,
                     "RSSHub: Cookies expired " + HOSTILE),
    "county-news": ("县政府新闻", FailureClass.HARD, "HTTP 404 from http://127.0.0.1:9/news"),
    "city-daily": ("晚报", FailureClass.SOFT, "timed out after 20 s"),
    "well": ("正常的源", None, None),
}


def test_patrol_shows_each_sources_failure_class_and_advice(console, page, screenshot):
    now = utcnow()
    wh = Warehouse(console.url)
    try:
        wh.sync_sources([SourceConfig(id=sid, name=name, kind="feed",
                                      url=f"http://127.0.0.1:9/{sid}")
                         for sid, (name, _, _) in SOURCES.items()])
        # Two cycles: the county site fails hard for longer than the policy allows.
        policy = FailurePolicy(disable_after=timedelta(minutes=30))
        for at in (now - timedelta(hours=1), now - timedelta(minutes=5)):
            run = wh.start_run(at)
            for sid, (_, failure, error) in SOURCES.items():
                result = (FetchResult(source_id=sid, status=FETCH_OK, cursor=SourceCursor())
                          if failure is None else
                          FetchResult(source_id=sid, status=FETCH_ERROR, cursor=SourceCursor(),
                                      error=error, failure=failure.value))
                wh.store_fetch(run, result, [], at, failures=policy)
            wh.finish_run(run, at + timedelta(seconds=20), alerts_new=0,
                          notifications_sent=0, errors=())
    finally:
        wh.close()

    log_in(page, console.base, "张三")
    page.goto(console.base + "/patrol")
    rows = {sid: page.locator("table.sources tbody tr", has_text=name)
            for sid, (name, _, _) in SOURCES.items()}
    for sid, (_, failure, _) in SOURCES.items():
        cell = rows[sid].locator("td.failure")
        if failure is None:
            assert cell.inner_text().strip() == "—"
            continue
        text = cell.inner_text()
        assert NAMES_ZH[failure] in text and ADVICE_ZH[failure] in text, sid
        assert cell.locator(f".fclass.fc-{failure.value}").count() == 1
    # What jingyu does about it: the blocked source backs off; the hard one is disabled.
    assert "暂停抓取至" in rows["rsshub-weibo"].locator("td.failure").inner_text()
    assert "已自动停用" in rows["county-news"].locator("td.failure").inner_text()
    assert "已自动停用" not in rows["city-daily"].locator("td.failure").inner_text()
    # The server's words are shown as text.
    assert HOSTILE in rows["rsshub-zhihu"].inner_text()
    assert page.locator("table.sources img").count() == 0 and page.title() != "pwned"
    page.locator("table.sources").scroll_into_view_if_needed()
    screenshot(page, "patrol-failures")
