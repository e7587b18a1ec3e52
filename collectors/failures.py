"""Failures named: what kind of failure a fetch met, what the operator should do, and how a
source's schedule reacts (back off, page once, disable).

Four classes, after Media Cloud's rss-fetcher and what breaks in practice:
- hard: the source is gone or changed (404/410, DNS, parse errors, not a feed);
  retrying soon will not help, so it backs off, and after `disable_after` it is disabled.
- soft: the site is ill for now (5xx, timeouts, refused connections); retried as scheduled.
- blocked: the site refuses robots (HTTP 418/432/403, a WAF or captcha page, a login
  redirect, a 200 with an empty or challenge page, an RSSHub error item); the operator is
  paged once and polling backs off so the block is not deepened.
- credentials: a cookie or token expired (RSSHub "Cookies expired", "Invalid cookie");
  only a person can fix it: page once, back off.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class FailureClass(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    BLOCKED = "blocked"
    CREDENTIALS = "credentials"


ADVICE: dict[FailureClass, str] = {
    FailureClass.HARD: "check the address: the page is gone, moved or no longer a feed "
                       "(backing off; disabled if it lasts)",
    FailureClass.SOFT: "nothing to do unless it lasts: the site is down or slow for now",
    FailureClass.BLOCKED: "the site refuses robots: slow the source down, change the "
                          "proxy/IP, or refresh the RSSHub instance's cookies",
    FailureClass.CREDENTIALS: "renew the cookie or token (e.g. WEIBO_COOKIES of the RSSHub "
                              "instance) and restart it",
}

# The same advice in Chinese, for duty staff (the console's 巡查 page).
ADVICE_ZH: dict[FailureClass, str] = {
    FailureClass.HARD: "检查地址：页面已删除、迁移或不再是订阅源（已降低抓取频率，持续失败将自动停用）",
    FailureClass.SOFT: "暂不需处理：网站暂时故障或缓慢；若持续，请联系运维",
    FailureClass.BLOCKED: "网站拦截了抓取：降低该源抓取频率、更换代理/IP，或更新 RSSHub 实例的 Cookie"
                          "（已通知运维）",
    FailureClass.CREDENTIALS: "Cookie 或令牌已过期：请运维更新（如 RSSHub 的 WEIBO_COOKIES）并重启该实例",
}

# Names in Chinese for duty staff's messages.
NAMES_ZH: dict[FailureClass, str] = {
    FailureClass.HARD: "地址失效", FailureClass.SOFT: "暂时故障",
    FailureClass.BLOCKED: "被反爬拦截", FailureClass.CREDENTIALS: "Cookie/凭据过期",
}

# Weibo answers robots with 418 or 432; 403 is most often a WAF.
BLOCKED_STATUSES = frozenset({403, 418, 432})
HARD_STATUSES = frozenset({400, 404, 405, 410, 414, 451})
CREDENTIAL_STATUSES = frozenset({401, 407})

# An expired or missing cookie as RSSHub and the sites behind it word it.
_CREDENTIALS = re.compile(
    r"cookies?\s+(?:has\s+|have\s+|is\s+|are\s+)?expired|invalid\s+cookie|"
    r"please\s+update\s+\w*cookie|cookie\s+(?:is\s+)?(?:required|missing|invalid)|"
    r"ConfigNotFoundError|lack of relevant config|invalid or expired token|"
    r"token\s+(?:has\s+)?expired|登录(?:已)?(?:过期|失效)|cookie\s*(?:已)?(?:过期|失效)",
    re.IGNORECASE)
# A page that stands between us and the content: WAF, captcha, robot check, rate limit.
_CHALLENGE = re.compile(
    r"captcha|验证码|人机验证|安全验证|滑动验证|访问过于频繁|访问频繁|请求过于频繁|"
    r"access denied|are you a (?:human|robot)|verify you are human|checking your browser|"
    r"just a moment\.\.\.|cf-chl|challenge-platform|Request unsuccessful\. Incapsula|"
    r"web application firewall|\bWAF\b|请开启JavaScript|请启用JavaScript|"
    r"\bHTTP\s*(?:418|432)\b|\b(?:error|status)\s*(?:418|432)\b|with error 4(?:18|32)|"
    r"anti-?crawl|rate.?limit|too many requests|this route is empty|"
    r"用户名\s*\S{0,4}\s*密码|请先?登录|登录后(?:查看|继续)|(?:sign|log) ?in to continue",
    re.IGNORECASE)
# RSSHub's error page (v2 and later) and its old error item.
_RSSHUB_ERROR = re.compile(r"Looks like something went wrong|RSSHub 发生了一些意外|"
                           r"Error in /[\w/]+:|Helpful Information", re.IGNORECASE)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)


def visible_text(markup: str) -> str:
    """The words a reader would see in an HTML page (scripts, styles and tags removed)."""
    return " ".join(_TAGS.sub(" ", markup).split())


def class_of_status(status: int) -> FailureClass:
    """The class of an HTTP error status with nothing else known about the page."""
    if status in BLOCKED_STATUSES:
        return FailureClass.BLOCKED
    if status in CREDENTIAL_STATUSES:
        return FailureClass.CREDENTIALS
    if status == 429 or status >= 500:
        return FailureClass.SOFT
    return FailureClass.HARD


def class_of_page(text: str) -> FailureClass | None:
    """What an error or refusal page says about itself, or None when it says nothing known.

    Cookie errors first (an RSSHub cookie error often mentions the 432 that revealed it)."""
    sample = text[:20_000]
    if _CREDENTIALS.search(sample):
        return FailureClass.CREDENTIALS
    if _CHALLENGE.search(sample):
        return FailureClass.BLOCKED
    return None


def is_rsshub_error(text: str) -> bool:
    return bool(_RSSHUB_ERROR.search(text[:20_000]))


def class_of_transport(reason: str) -> FailureClass:
    """The class of a download that got no HTTP answer (DownloadError.reason)."""
    lowered = reason.lower()
    if any(word in lowered for word in _PERMANENT_TRANSPORT):
        return FailureClass.HARD
    return FailureClass.SOFT


# No answer for a reason that will not pass by itself: a name that does not resolve, a
# redirect we refuse, a body over the cap, an address that is no URL.
_PERMANENT_TRANSPORT = ("dns", "name not found", "redirect", "larger than", "invalid url",
                        "no connection adapters", "missingschema", "invalidschema",
                        "invalidurl", "locationparseerror")


_HTTP_STATUS = re.compile(r"\bHTTP\s*(\d{3})\b")


def class_of_message(error: str) -> FailureClass:
    """The class of a failure known only by its message (a FetchResult made before failures
    were classed, or by hand)."""
    said = class_of_page(error)
    if said is not None:
        return said
    status = _HTTP_STATUS.search(error)
    if status:
        return class_of_status(int(status.group(1)))
    return class_of_transport(error) if "cannot fetch" in error else FailureClass.HARD


@dataclass(frozen=True)
class FailurePolicy:
    """How a source's schedule reacts to failures."""

    max_backoff: timedelta = timedelta(hours=6)     # longest wait between tries while failing
    disable_after: timedelta = timedelta(hours=24)  # failing hard this long: disabled


@dataclass(frozen=True)
class HealthChange:
    """What one fetch does to a source's failure state."""

    failure_class: FailureClass | None
    failing_since: datetime | None
    backoff_until: datetime | None
    disable: bool = False
    note: str | None = None                          # for the run ledger


def after_fetch(failure: FailureClass | None, *, failing_since: datetime | None,
                consecutive_failures: int, poll_minutes: int, now: datetime,
                policy: FailurePolicy = FailurePolicy()) -> HealthChange:
    """The source's failure state after a fetch that failed with `failure` (None: succeeded).

    `consecutive_failures` counts the failures before this one. Hard, blocked and credential
    failures wait twice the poll interval, then four times, ... up to max_backoff; soft failures keep
    the schedule (the client already retried). A source failing hard for disable_after is
    disabled.
    """
    if failure is None:
        return HealthChange(None, None, None)
    since = failing_since or now
    backoff_until = None
    if failure is not FailureClass.SOFT:
        wait = timedelta(minutes=poll_minutes) * 2 ** min(consecutive_failures + 1, 16)
        backoff_until = now + min(wait, policy.max_backoff)
    if failure is FailureClass.HARD and now - since >= policy.disable_after:
        hours = policy.disable_after.total_seconds() / 3600
        return HealthChange(failure, since, None, disable=True,
                            note=f"disabled after failing hard for {hours:g} h "
                                 f"(since {since.isoformat(timespec='minutes')})")
    return HealthChange(failure, since, backoff_until)
