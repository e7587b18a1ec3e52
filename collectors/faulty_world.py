"""A local world of faulty sources, as real sites and RSSHub fail: for tests and benchmarks.

Each fault is a route for FeedReplayServer and the failure class the base collector must
name for it (None: not a failure). The pages follow what sites answer in practice: Weibo's
432/418, a WAF's 403 page, captcha and login pages, RSSHub's error page and its old error item.
"""
from __future__ import annotations

from dataclasses import dataclass

from collectors.replay import Route

RSS = "application/rss+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"


def rss(items: list[tuple[str, str]], title: str = "route") -> bytes:
    """A small RSS 2.0 feed of (title, description) items."""
    entries = "".join(
        f"<item><title>{t}</title><description>{d}</description>"
        f"<guid>{title}-{n}</guid><link>http://example.org/{title}/{n}</link></item>"
        for n, (t, d) in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title>{entries}</channel></rss>").encode()


RSSHUB_COOKIE_PAGE = (
    "<html><head><title>Error</title></head><body><h1>Looks like something went wrong</h1>"
    "<p>Helpful Information</p><p>Error Message:</p><pre>Error: Cookies expired. Please "
    "update WEIBO_COOKIES</pre><p>Route: /weibo/user/:uid/:routeParams?</p></body></html>")
RSSHUB_FETCH_PAGE = (
    "<html><body><h1>Looks like something went wrong</h1><p>Helpful Information</p>"
    "<pre>FetchError: [GET] \"https://m.weibo.cn/api/container/getIndex\": &lt;no response&gt; "
    "fetch failed</pre></body></html>")
WAF_PAGE = ("<html><head><title>403 Forbidden</title></head><body><h1>访问被拒绝</h1>"
            "<p>您的请求被 Web 应用防火墙 (WAF) 拦截。Access denied. 事件ID: 7f3a</p></body></html>")
CAPTCHA_PAGE = ("<html><head><title>安全验证</title></head><body><div id='captcha'>"
                "请完成下方验证码以继续访问</div><script>var t=1;</script></body></html>")
LOGIN_PAGE = "<html><body><form action='/passport/login'>用户名 密码 登录</form></body></html>"
JS_CHALLENGE = ("<html><head><title>Just a moment...</title><script src='/cdn-cgi/"
                "challenge-platform/h/b/orchestrate/jsch/v1'></script></head><body></body></html>")
BROKEN_HTML = "<html><body>" + "<div>栏目改版中，新版页面即将上线".replace("，", "<p>") * 30


@dataclass(frozen=True)
class Fault:
    path: str
    route: Route
    expected: str | None          # collectors.failures.FailureClass value, None: no failure
    what: str


FAULTS: tuple[Fault, ...] = (
    Fault("/ok", Route(rss([("警情通报", "某路段交通事故已处置")], "ok")), None, "a working feed"),
    Fault("/gone", Route(b"<html><body>404 Not Found</body></html>", HTML, status=404), "hard",
          "a removed page"),
    Fault("/changed", Route(BROKEN_HTML.encode(), HTML), "hard", "a route that became a long page"),
    Fault("/weibo-432", Route(b"", HTML, status=432), "blocked", "Weibo's anti-bot 432"),
    Fault("/weibo-418", Route(b"I'm a teapot", "text/plain", status=418), "blocked",
          "Weibo's anti-bot 418"),
    Fault("/waf", Route(WAF_PAGE.encode(), HTML, status=403), "blocked", "a WAF's 403 page"),
    Fault("/captcha", Route(CAPTCHA_PAGE.encode(), HTML), "blocked", "a 200 captcha page"),
    Fault("/js-challenge", Route(JS_CHALLENGE.encode(), HTML), "blocked",
          "a 200 JavaScript challenge"),
    Fault("/empty", Route(b"", HTML), "blocked", "a 200 with an empty page"),
    Fault("/login-redirect", Route(b"", HTML, status=302,
                                   headers={"Location": "/passport/login?r=weibo"}),
          "blocked", "a redirect to a login page"),
    Fault("/passport/login", Route(LOGIN_PAGE.encode(), HTML), "blocked", "the login page itself"),
    Fault("/rsshub-cookie", Route(RSSHUB_COOKIE_PAGE.encode(), HTML, status=503), "credentials",
          "RSSHub: cookies expired"),
    Fault("/rsshub-fetch", Route(RSSHUB_FETCH_PAGE.encode(), HTML, status=503), "soft",
          "RSSHub: upstream fetch failed"),
    Fault("/rsshub-item", Route(rss([("RSSHub 发生了一些意外",
                                      "Looks like something went wrong: Error: this route is "
                                      "empty, please check the original site")], "err")),
          "blocked", "an old RSSHub error item"),
    Fault("/rsshub-item-cookie", Route(rss([("Looks like something went wrong",
                                             "Error: Invalid cookie")], "err2")),
          "credentials", "an old RSSHub error item about the cookie"),
    Fault("/down", Route(b"<html><body>502 Bad Gateway</body></html>", HTML, status=502), "soft",
          "a server error"),
    Fault("/slow", Route(rss([("迟到", "迟到")], "slow"), delay_s=3.0), "soft",
          "a server slower than the read timeout"),
    Fault("/unauthorized", Route(b"", HTML, status=401), "credentials", "HTTP 401"),
)
