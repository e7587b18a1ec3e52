"""Watching the watcher: from the run ledger and source health, find the 系统告警 (health
alerts) the operators hear of.

A dead feed, a blocked source or a stopped cycle is not public opinion: it has no I-IV level,
opens no incident, is on no duty board and starts no escalation timer. It goes to the
channels of alerts.yaml with `audience: operators` (AlertSettings.health_channels), once per
episode, and its recovery is said once (alerts.incidents.handling.watch).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts.delivery.deliver import DeliveryOutcome, deliver
from alerts.delivery.registry import build_channels
from alerts.delivery.render import render_health
from alerts.settings import AlertSettings
from collectors.failures import NAMES_ZH, FailureClass
from jingyu.timeutil import local_minute, to_utc
from warehouse.records import HEALTH_KIND, OutboxMessage, SourceYield

HEALTH = HEALTH_KIND
# alerts.level of a health alert: not one of the opinion levels 1-4 (alerts.levels).
HEALTH_LEVEL = 0
# Incidents of this kind were opened for health problems before they became 系统告警; the
# watchdog settles any still open (alerts.incidents.handling.watch).
WATCHDOG = "watchdog"
# Weibo answers 418 or 432 when it takes us for a robot; a captcha page says 验证码. (Rows
# stored before failures were classed carry only the message.)
_ANTI_BOT = re.compile(r"\bHTTP\s*(418|432)\b|captcha|验证码", re.IGNORECASE)
# A person must act at once on these: page on the first failure (once per episode).
_PAGE_AT_ONCE = (FailureClass.BLOCKED, FailureClass.CREDENTIALS)
_FIX_ZH = {
    FailureClass.HARD: "请核对地址或路由是否已变更",
    FailureClass.SOFT: "对方站点暂时故障，持续时请检查网络或代理",
    FailureClass.BLOCKED: "请降低频率、更换代理/IP，或更新 RSSHub 的 Cookie",
    FailureClass.CREDENTIALS: "请更新 Cookie 或令牌（如 RSSHub 的 WEIBO_COOKIES）并重启",
}
# What each health fingerprint is about: health:<subject>:<episode>.
SOURCE_PREFIX, CYCLES_PREFIX, WAREHOUSE_FINGERPRINT = (
    f"{HEALTH}:source:", f"{HEALTH}:cycles:", f"{HEALTH}:warehouse")


@dataclass(frozen=True)
class HealthAlert:
    """A 系统告警: something wrong with a source or the pipeline, for the operators.

    Stored in the alerts table (kind "health", level HEALTH_LEVEL) so that its notifications
    go through the outbox (exactly once), but never with an incident."""

    fingerprint: str                   # one per episode: the same outage is one alert
    title: str
    reason: str                        # what is wrong and what to do
    jurisdiction: str | None
    detected_at: datetime              # aware UTC
    kind: str = HEALTH
    level: int = HEALTH_LEVEL
    evidence: tuple = ()


@dataclass(frozen=True)
class WatchdogSettings:
    enabled: bool = True
    cycle_minutes: int = 20            # no successful monitoring cycle for this long: alert
    silent_hours: int = 3              # a usually busy source yielded nothing for this long ...
    usual_days: int = 5                # ... though it yielded in this window on >= 5 of 7 days
    failures: int = 3                  # consecutive failed fetches


@dataclass(frozen=True)
class LedgerFacts:
    """What the run ledger says: the last successful cycle and the first cycle ever."""

    last_success_at: datetime | None   # end of the newest run with status ok or partial
    first_run_at: datetime | None


def check_ledger(ledger: LedgerFacts, settings: WatchdogSettings, now: datetime
                 ) -> list[HealthAlert]:
    """Alert when no monitoring cycle has succeeded for cycle_minutes."""
    if not settings.enabled or ledger.first_run_at is None:
        return []   # never ran: nothing is being watched yet, and no outage to report
    allowed = timedelta(minutes=settings.cycle_minutes)
    since = ledger.last_success_at or ledger.first_run_at
    if now - since < allowed:
        return []
    last = local_minute(ledger.last_success_at) if ledger.last_success_at else "从未成功"
    minutes = int((now - since).total_seconds() // 60)
    return [HealthAlert(
        # One alert per outage: the next successful cycle changes the fingerprint.
        fingerprint=f"{CYCLES_PREFIX}{since.isoformat()}",
        title="监测中断：巡查周期未成功运行",
        reason=(f"已 {minutes} 分钟没有成功完成的监测周期（上次成功：{last}），"
                f"24小时巡查可能已中断，请检查 Prefect 服务、工作进程和数据库"),
        jurisdiction=None, detected_at=to_utc(now))]


def check_sources(sources: Sequence[SourceYield], settings: WatchdogSettings,
                  now: datetime) -> list[HealthAlert]:
    """Alert on sources that keep failing, are blocked as robots, or went quiet unusually."""
    if not settings.enabled:
        return []
    alerts = []
    for source in sources:
        failing = source.consecutive_failures > 0
        failure = FailureClass(source.failure_class) if source.failure_class else None
        if failure is None and failing and source.last_error \
                and _ANTI_BOT.search(source.last_error):
            failure = FailureClass.BLOCKED
        at_once = failing and failure in _PAGE_AT_ONCE
        if source.disabled_at is not None:
            alerts.append(_source_alert(
                source, f"disabled:{source.disabled_at.isoformat()}",
                f"信息源已停用：{source.name}",
                f"信息源 {source.id} 持续失败（{NAMES_ZH.get(failure, '失败') if failure else '失败'}，"
                f"自 {_when(source.failing_since)} 起），已自动停用，不再采集；"
                f"最近错误：{(source.last_error or '')[:160]}。修复后运行 "
                f"jingyu sources enable {source.id} 恢复采集",
                settings, now))
        if source.consecutive_failures >= settings.failures or at_once:
            since = source.last_success_at.isoformat() if source.last_success_at else "never"
            what = (NAMES_ZH[failure] if at_once and failure else
                    f"连续 {source.consecutive_failures} 次采集失败"
                    + (f"（{NAMES_ZH[failure]}）" if failure else ""))
            fix = _FIX_ZH[failure] if failure else "请检查 Cookie、代理或路由"
            alerts.append(_source_alert(
                source, f"failing:{since}", f"信息源失效：{source.name}",
                f"信息源 {source.id} {what}；最近错误：{(source.last_error or '')[:160]}；"
                f"上次成功：{_when(source.last_success_at)}。{fix}",
                settings, now))
        elif (source.new_in_window == 0 and source.usual_days >= settings.usual_days
              and source.consecutive_failures == 0):
            since = source.last_new_post_at.isoformat() if source.last_new_post_at else "never"
            alerts.append(_source_alert(
                source, f"silent:{since}", f"信息源异常沉默：{source.name}",
                f"信息源 {source.id} 近 {settings.silent_hours} 小时没有新信息，而过去 7 天中有 "
                f"{source.usual_days} 天这个时段都有；最后一条新信息：{_when(source.last_new_post_at)}。"
                f"采集虽未报错，可能已被限流、改版或返回空结果",
                settings, now))
    return alerts


def _source_alert(source: SourceYield, episode: str, title: str, reason: str,
                  settings: WatchdogSettings, now: datetime) -> HealthAlert:
    # Keyed by the episode (the last success / last new post), so one outage pages once.
    return HealthAlert(fingerprint=f"{SOURCE_PREFIX}{source.id}:{episode}", title=title,
                       reason=reason, jurisdiction=source.jurisdiction,
                       detected_at=to_utc(now))


def _when(value: datetime | None) -> str:
    return local_minute(value) if value else "从未"


def warehouse_down_alert(problem: str, now: datetime) -> HealthAlert:
    """The alert for a warehouse the watchdog cannot read: nothing else can be checked."""
    return HealthAlert(fingerprint=WAREHOUSE_FINGERPRINT, title="监测中断：数据库无法访问",
                       reason=f"看门狗无法读取数据库，监测周期、信息源状态和告警记录均无法确认："
                              f"{problem[:300]}",
                       jurisdiction=None, detected_at=to_utc(now))


def page_directly(alert: HealthAlert, settings: AlertSettings, operators: Sequence[Any] = ()
                  ) -> list[DeliveryOutcome]:
    """Send a health alert straight to the operators' channels, bypassing the outbox.

    For when the warehouse itself is down: there is no outbox to queue in, so this is
    at-most-once, and the next watchdog run pages again while the outage lasts. `operators`
    (routing.Recipient: 运维 on duty, from the roster file) are named and @-mentioned.
    """
    channels, fallback = settings.health_channels()
    payload = render_health(alert, 0, fallback=fallback, operators=operators)
    minute = to_utc(alert.detected_at).strftime("%Y%m%d%H%M")
    messages = [OutboxMessage(id=0, alert_id=0, channel=channel,
                              idempotency_key=f"{alert.fingerprint}@{minute}@{channel}",
                              payload=payload, attempts=0)
                for channel in channels]
    return deliver(messages, build_channels(settings))
