"""Chat-group robots duty staff read on their phones: DingTalk, WeCom (企业微信) and Feishu/Lark.

Each robot is a webhook URL whose token is in the URL (so the URL is a secret), optionally
signed with a second secret. The platforms limit how fast one robot may post (DingTalk and WeCom
20 messages a minute, Feishu 100 a minute and 5 a second); a robot that exceeds the limit is
throttled (DingTalk: for 10 minutes). So every robot channel here keeps a client-side budget
and, when more messages are due in one cycle than the budget allows, combines them into digests
("N 条预警"), most severe first. What cannot be sent now is reported as RateLimited: it stays
pending in the outbox and goes out on a later cycle; it is never counted as delivered before.

The budget is the robot's, not the process's: the monitor flow, the watchdog flow and
`jingyu alerts ...` commands run in different processes and may post through the same robot.
Each post (a digest is one post; a post the platform refused still used budget) is claimed in
the warehouse's robot_posts before it is made (alerts.delivery.outbox attaches the ledger, see
Channel.share_budget): the claim reads the other processes' posts and blocks and records this
one in one step that no other process can interleave, so two passes at once never both spend
the last post. At the start of a pass the same reading plans how many digests are needed.

Each robot @-mentions the routed recipients (payload["recipients"], see
alerts.incidents.routing.Recipient.document) who have a handle for its kind; a digest mentions
the union of its alerts' recipients once. The mentions are the last line of the message and room
is kept for them before the text is cut to the byte limit, so truncation never removes them.

Protocol facts (checked against the platforms' public documentation):
- DingTalk custom robot: POST {"msgtype": "markdown", "markdown": {title, text}} to
  oapi.dingtalk.com/robot/send?access_token=…; with 加签, add query parameters timestamp (ms,
  within 1 hour of DingTalk's clock) and sign = urlEncode(base64(HmacSHA256(key=secret,
  msg=f"{timestamp}\\n{secret}"))). Answer {"errcode": 0} = sent; 130101 "send too fast, exceed
  20 times per minute"; 310000 e.g. "sign not match" / keywords / IP whitelist.
  @-mention: body "at": {"atMobiles": [...], "atUserIds": [...], "isAtAll": false}, AND the
  markdown text must contain "@<mobile>" (or "@<userId>") for each, or nobody is notified.
  Handle: roster handles.dingtalk (a mobile, or a DingTalk userId); without one, the roster
  phone, since DingTalk @-mentions by the mobile an account is registered with (a number that
  is not in the group is shown masked and notifies nobody; it does no harm).
- WeCom group robot: POST {"msgtype": "markdown", "markdown": {"content"}} to
  qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…; content at most 4096 bytes of UTF-8;
  errcode 0 = sent; 45009 = "api freq out of limit" (20 messages a minute per robot).
  @-mention: "<@userid>" inside the markdown content (mentioned_list and
  mentioned_mobile_list belong to the text type and are ignored for markdown). Handle: roster
  handles.wecom (the WeCom userid; no phone fallback, the markdown type has none).
- Feishu custom bot: POST to open.feishu.cn/open-apis/bot/v2/hook/<token>; with 签名校验 the
  JSON body carries timestamp (seconds) and sign = base64(HmacSHA256(key=f"{timestamp}\\n{secret}",
  msg=b"")) — key and message are the reverse of DingTalk's. Answer code 0 (older answers:
  StatusCode 0); 19021 = sign mismatch or stale timestamp; 11232 = frequency limit; HTTP 429
  (or 400 with code 99991400) with an x-ogw-ratelimit-reset header = rate limited.
  @-mention: we send an interactive card, whose markdown element takes the card syntax
  "<at id=ou_xxx></at>" (open_id, or user_id; a custom bot cannot @ by email). The
  '<at user_id="ou_xxx">name</at>' form belongs to the text and post types, not to cards.
  Handle: roster handles.feishu.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import requests

from alerts.delivery.buttons import ACK, Button, buttons_of
from alerts.delivery.channel_secrets import (
    MissingSecret,
    install_log_redaction,
    redact_text,
    redact_url,
    resolve_secret,
)
from alerts.delivery.channels import (
    Channel,
    DeliveryError,
    DeliveryReceipts,
    NotHeld,
    PostLedger,
    PostRecord,
    RateLimited,
    SendResult,
)
from alerts.levels import LEVELS
from alerts.channel_options import RobotOptions, SignedRobotOptions
from jingyu.display import chat_markdown, excerpt, one_line, safe_link
from warehouse.records import OutboxMessage

logger = logging.getLogger(__name__)

# urllib3 logs every request line, query string included, at DEBUG: hide tokens and signs.
install_log_redaction()

# The clocks the limiters and signatures use; tests replace them (no sleeping in tests).
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep
wallclock: Callable[[], float] = time.time

Windows = tuple[tuple[int, float], ...]            # (at most N messages, per P seconds), ...

# How far back a pass reads other processes' posts: far enough for every window and for a
# platform block (DingTalk: 10 minutes); longer blocks are kept by the messages' retry times.
LEDGER_HORIZON_SECONDS = 3600.0


def _now() -> float:
    return clock()


class SlidingWindowLimiter:
    """At most `limit` sends in any `period` seconds, for every (limit, period) window.

    Counts what was actually posted (a post the platform refused still used its budget), and
    can be blocked outright when the platform says we are throttled. Posts other processes
    made through the same robot are added with seed(), as the warehouse reports them.
    """

    def __init__(self, windows: Windows, now: Callable[[], float] | None = None) -> None:
        if not windows:
            raise ValueError("a limiter needs at least one (limit, period) window")
        self.windows = tuple(sorted(windows, key=lambda w: w[1]))
        self._now = now or _now
        self._sent: deque[float] = deque()
        self._others: list[float] = []       # other processes' posts, on this limiter's clock
        self._blocked_until = float("-inf")
        self._lock = threading.Lock()
        # Names this limiter's posts in the warehouse, so that reading them back does not
        # count them twice (they are in _sent already).
        self.origin = uuid.uuid4().hex[:16]

    def _prune(self, now: float) -> None:
        horizon = now - self.windows[-1][1]
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()
        self._others = [t for t in self._others if t > horizon]

    def _in_window(self, now: float, period: float) -> list[float]:
        return sorted(t for t in (*self._sent, *self._others) if t > now - period)

    def available(self, ignore_shorter_than: float = 0.0) -> int:
        """How many more posts fit now, counting only windows longer than the given period
        (short windows such as Feishu's 5 a second are waited out, not planned around)."""
        with self._lock:
            now = self._now()
            if now < self._blocked_until:
                return 0
            self._prune(now)
            return min((limit - len(self._in_window(now, period))
                        for limit, period in self.windows if period > ignore_shorter_than),
                       default=min(limit for limit, _ in self.windows))

    def wait_time(self) -> float:
        """Seconds until one more post is allowed (0.0: now)."""
        with self._lock:
            now = self._now()
            self._prune(now)
            wait = max(0.0, self._blocked_until - now)
            for limit, period in self.windows:
                recent = self._in_window(now, period)
                if len(recent) >= limit:
                    # The oldest post that must leave the window before one more fits.
                    wait = max(wait, recent[len(recent) - limit] + period - now)
            return wait

    def record(self) -> None:
        """Count one post against every window."""
        with self._lock:
            self._sent.append(self._now())

    def block_for(self, seconds: float) -> None:
        """The platform throttled us: send nothing for this long."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._now() + seconds)

    def seed(self, ages: Iterable[float], blocked_for: float = 0.0) -> None:
        """Other processes' posts through the same robot, `ages` seconds ago, and a block the
        platform imposed on one of them that has `blocked_for` seconds left.

        Replaces the previous reading (the warehouse still holds those posts while they
        matter); this limiter's own posts are never part of it.
        """
        with self._lock:
            now = self._now()
            self._others = sorted(now - max(0.0, age) for age in ages)
            if blocked_for > 0:
                self._blocked_until = max(self._blocked_until, now + blocked_for)

    def blocked_for(self) -> float:
        """Seconds the platform's block has left (0.0: none)."""
        with self._lock:
            return max(0.0, self._blocked_until - self._now())

    def describe(self) -> str:
        return ", ".join(f"{limit}/{_period(period)}" for limit, period in self.windows)


def _period(seconds: float) -> str:
    return {1.0: "s", 60.0: "min", 3600.0: "h"}.get(seconds, f"{seconds:g}s")


_shared_limiters: dict[tuple[str, str], SlidingWindowLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(kind: str, name: str, windows: Windows) -> SlidingWindowLimiter:
    """The limiter of one configured robot, kept across cycles in this process: the pipeline
    builds its channels afresh every cycle, the platform's budget does not reset with them."""
    with _shared_lock:
        limiter = _shared_limiters.get((kind, name))
        if limiter is None or limiter.windows != tuple(sorted(windows, key=lambda w: w[1])):
            limiter = _shared_limiters[(kind, name)] = SlidingWindowLimiter(windows)
        return limiter


def reset_shared_limiters() -> None:
    """Forget every robot's budget (tests; a new process starts empty anyway)."""
    with _shared_lock:
        _shared_limiters.clear()


# ---- signatures ------------------------------------------------------------------------------

def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """DingTalk 加签: base64(HmacSHA256(key=secret, msg=timestamp + "\\n" + secret)).

    Returned un-escaped; it is URL-encoded once when put in the query string.
    """
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(timestamp_s: str, secret: str) -> str:
    """Feishu 签名校验: base64(HmacSHA256(key=timestamp + "\\n" + secret, msg=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode("utf-8"), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# ---- text helpers ----------------------------------------------------------------------------

TRUNCATED = "\n\n…（内容过长，已截断，详见系统）"


def truncate_utf8(text: str, max_bytes: int, marker: str = TRUNCATED) -> str:
    """`text` cut to at most max_bytes of UTF-8, never inside a character, marked if cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max(0, max_bytes - len(marker.encode("utf-8")))
    # errors="ignore" drops the partial character a byte cut may leave at the end.
    return data[:room].decode("utf-8", errors="ignore") + (marker if room else "")


def _level(message: OutboxMessage) -> int | None:
    """The message's warning level; None for a 系统告警 (source and pipeline health), which
    has none."""
    if message.payload.get("kind") == "health":
        return None
    level = message.payload.get("level")
    return level if isinstance(level, int) and level in LEVELS else 4


def _rank(message: OutboxMessage) -> int:
    """Order of sending: most severe first; a 系统告警 after every opinion alert."""
    level = _level(message)
    return len(LEVELS) + 1 if level is None else level


def _short_badge(level: int | None) -> str:
    if level is None:
        return "系统告警"
    info = LEVELS[level]
    return f"{info['roman']}级 {info['colour_zh']}"


def _evidence_links(payload: Mapping[str, Any], limit: int = 3) -> tuple[tuple[str, str], ...]:
    alert = payload.get("alert") if isinstance(payload.get("alert"), Mapping) else {}
    evidence = alert.get("evidence") if isinstance(alert.get("evidence"), list) else []
    found = []
    for item in evidence:
        link = safe_link(item.get("url")) if isinstance(item, Mapping) else None
        if link:
            found.append((one_line(item.get("title") or "原文"), link))
    return tuple(found[:limit])


# What a platform accepts as a handle inside markup: a roster typo such as "lisi>" must not
# break the message (or mention someone else).
_HANDLE = re.compile(r"^[\w.@+\-]{1,100}$")
_MOBILE = re.compile(r"^\+?\d[\d-]{4,19}$")


@dataclass(frozen=True)
class Mention:
    """Someone a robot @-mentions: the handle the platform knows them by, and their name."""

    handle: str
    name: str


def _text(value: Any) -> str | None:
    # YAML may have read a mobile as a number.
    return (str(value).strip() or None) if value is not None else None


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass(frozen=True)
class Post:
    """One robot message: what it says and which outbox messages it carries."""

    title: str
    markdown: str                        # the mention line included, within the byte limit
    level: int | None                    # the most severe level it carries (None: 系统告警 only)
    indexes: tuple[int, ...]             # positions in the batch
    mentions: tuple[Mention, ...] = ()   # who the markdown @-mentions, in order
    buttons: tuple[Button, ...] = ()     # 签收/查看 (alerts.delivery.buttons); digests have none
    evidence: tuple[tuple[str, str], ...] = ()   # (title, http(s) url) of the first posts


@dataclass(frozen=True)
class _Target:
    url: str
    secret: str | None


class _Unreachable(DeliveryError):
    """No answer at all (connection refused, timeout): trying the next post is pointless."""


# ---- the channel -------------------------------------------------------------------------------

class RobotChannel(Channel):
    """A chat-group robot behind a webhook URL, with a client-side rate budget and digests."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    windows: ClassVar[Windows] = ((20, 60.0),)
    max_markdown_bytes: ClassVar[int] = 4096
    throttle_seconds: ClassVar[float] = 60.0   # wait after the platform says "too fast"
    digest_size: ClassVar[int] = 10            # alerts per digest, unless the budget is short
    mention_label: ClassVar[str] = "提醒"       # starts the line of @-mentions
    block_signal: ClassVar[str] = "too fast"   # how the platform says it blocked the robot

    def __init__(self, name: str, url: str | None = None, *, url_env: str | None = None,
                 url_block: str | None = None, secret: str | None = None,
                 secret_env: str | None = None, secret_block: str | None = None,
                 timeout_seconds: float = 10.0, limiter: SlidingWindowLimiter | None = None,
                 max_wait_seconds: float = 2.0) -> None:
        super().__init__(name)
        self._url, self._url_env, self._url_block = url, url_env, url_block
        self._secret, self._secret_env, self._secret_block = secret, secret_env, secret_block
        self.timeout_seconds = timeout_seconds
        self.limiter = limiter or SlidingWindowLimiter(self.windows)
        # Waits this short (Feishu's 5 a second) are slept through within the cycle.
        self.max_wait_seconds = max_wait_seconds
        self._known_secrets: list[str] = []
        self._ledger: PostLedger | None = None

    # -- where to post ---------------------------------------------------------------------

    def _where(self) -> str:
        if self._url:
            return redact_url(self._url)
        if self._url_env:
            return f"URL from ${self._url_env}"
        return f"URL from Prefect block {self._url_block!r}"

    @property
    def prefix(self) -> str:
        return f"{self.kind} {self.name} ({self._where()})"

    def _target(self) -> _Target:
        url = resolve_secret("webhook URL", env=self._url_env, block=self._url_block,
                             literal=self._url)
        if not url:
            raise MissingSecret("no webhook URL configured")
        secret = resolve_secret("signing secret", env=self._secret_env,
                                block=self._secret_block, literal=self._secret)
        self._known_secrets = [s for s in (url, secret) if s]
        return _Target(url=url, secret=secret)

    def _redact(self, text: str) -> str:
        return redact_text(text, self._known_secrets)

    # -- the budget shared with other processes -------------------------------------------

    def share_budget(self, ledger: PostLedger) -> None:
        self._ledger = ledger

    def _seed_budget(self) -> None:
        """Count what other processes posted through this robot (and a block the platform
        put on it) before planning this pass; without a ledger, this process's count only."""
        if self._ledger is None:
            return
        wall_now = wallclock()
        try:
            records = self._ledger.posts_since(self.name,
                                               _utc(wall_now - LEDGER_HORIZON_SECONDS))
        except Exception as exc:
            # The budget is a courtesy to the platform; paging duty staff comes first.
            logger.warning("%s %s: cannot read the shared rate budget, counting this "
                           "process's posts only: %s", self.kind, self.name,
                           self._redact(str(exc)))
            return
        self._seed_from(records, wall_now)

    def _seed_from(self, records: Sequence[PostRecord], wall_now: float) -> None:
        others = [r for r in records if r.by != self.limiter.origin]
        longest = self.limiter.windows[-1][1]
        ages = [wall_now - r.at.timestamp() for r in others]
        blocked_for = max((r.blocked_until.timestamp() - wall_now for r in others
                           if r.blocked_until is not None), default=0.0)
        self.limiter.seed([age for age in ages if age < longest], blocked_for)

    def _claim(self, posted_at: float) -> float:
        """Take one post from the budget: 0.0 if taken (counted here and in the ledger),
        else the seconds until one is free. With a ledger the check and the record are one
        step for all processes, so two passes at once cannot both spend the last post."""
        def decide(records: list[PostRecord]) -> float:
            self._seed_from(records, posted_at)
            return self.limiter.wait_time()

        wait: float | None = None
        if self._ledger is not None:
            record = PostRecord(at=_utc(posted_at), by=self.limiter.origin)
            try:
                wait = self._ledger.claim_post(
                    self.name, record, _utc(posted_at - LEDGER_HORIZON_SECONDS), decide)
            except Exception as exc:
                logger.warning("%s %s: cannot use the shared rate budget, counting this "
                               "process's posts only: %s", self.kind, self.name,
                               self._redact(str(exc)))
        if wait is None:
            wait = self.limiter.wait_time()
        if wait <= 0:
            self.limiter.record()
        return wait

    def _record_block(self, posted_at: float, blocked_for: float) -> None:
        if self._ledger is None:
            return
        record = PostRecord(at=_utc(posted_at), by=self.limiter.origin,
                            blocked_until=_utc(wallclock() + blocked_for))
        try:
            self._ledger.record_block(self.name, record)
        except Exception as exc:
            logger.warning("%s %s: cannot record the platform's block in the shared rate "
                           "budget: %s", self.kind, self.name, self._redact(str(exc)))

    # -- Channel interface ----------------------------------------------------------------

    def send(self, message: OutboxMessage) -> None:
        [result] = self.send_batch([message])
        if result is not None:
            raise result

    def send_batch(self, messages: Sequence[OutboxMessage],
                   receipts: DeliveryReceipts | None = None) -> list[SendResult]:
        """Post each message on its own while the budget allows; otherwise digests, most
        severe first, as many as the budget allows; the rest RateLimited (kept for later).
        `receipts` hears of each post's messages before and right after it."""
        if not messages:
            return []
        try:
            target = self._target()
        except MissingSecret as exc:
            error = DeliveryError(f"{self.prefix}: {exc}")
            return [error] * len(messages)
        self._seed_budget()
        budget = self.limiter.available(ignore_shorter_than=self.max_wait_seconds)
        if budget <= 0:
            return [self._held_back(self.limiter.wait_time())] * len(messages)
        if len(messages) <= budget:
            posts = [self._single(message, index) for index, message in enumerate(messages)]
        else:
            # Spread the messages over the posts the budget allows (as far as the size limit
            # lets a digest grow), so that as little as possible waits for a later cycle.
            per_post = max(self.digest_size, math.ceil(len(messages) / budget))
            posts = self._digests(messages, per_post)
            logger.info("%s %s: %d messages due, budget %d: combined into %d digest(s)",
                        self.kind, self.name, len(messages), budget, len(posts))
        results: list[SendResult] = [None] * len(messages)
        stop: DeliveryError | None = None
        for post in posts:
            carried = [messages[index] for index in post.indexes]
            if stop is None and receipts is not None and not receipts.hold(carried):
                result: SendResult = NotHeld(f"{self.prefix}: another delivery pass sends "
                                             f"these now")
            else:
                result = stop or self._post_within_budget(target, post)
                if result is None and receipts is not None:
                    receipts.delivered(carried)
            if isinstance(result, _Unreachable) and stop is None:
                stop = DeliveryError(f"{self.prefix}: not tried, the robot did not answer the "
                                     f"previous post: {result}")
            for index in post.indexes:
                results[index] = result
            if result is None:
                logger.info("%s %s: posted %s (%d alert(s))", self.kind, self.name,
                            "digest" if len(post.indexes) > 1 else "message",
                            len(post.indexes))
        return results

    def _post_within_budget(self, target: _Target, post: Post) -> SendResult:
        posted_at = wallclock()
        wait = self._claim(posted_at)
        if 0 < wait <= self.max_wait_seconds:
            sleep(wait)
            posted_at = wallclock()
            wait = self._claim(posted_at)
        if wait > 0:
            return self._held_back(wait)
        # Claimed before posting: a post the platform refuses still used the robot's budget.
        try:
            self._post(target, post)
        except RateLimited as exc:
            blocked_for = exc.retry_after or self.throttle_seconds
            self.limiter.block_for(blocked_for)
            self._record_block(posted_at, blocked_for)
            return exc
        except DeliveryError as exc:
            return exc
        return None

    def _held_back(self, wait: float) -> RateLimited:
        """Not posted for `wait` s: the platform's block on the robot (it said too fast, in
        this process or another), or else jingyu's own budget for it — said as such, since
        the operator's remedy differs (a block means posts went out too fast somewhere)."""
        if self.limiter.blocked_for() > 0:
            return RateLimited(f"{self.prefix}: {self.label} has blocked this robot for "
                               f"posting too fast ({self.block_signal}); jingyu waits the "
                               f"block out, next post possible in {wait:.0f} s",
                               retry_after=wait)
        return RateLimited(f"{self.prefix}: held back by jingyu's own rate limit "
                           f"({self.limiter.describe()}); next post possible in "
                           f"{wait:.0f} s", retry_after=wait)

    # -- who to @-mention -------------------------------------------------------------------

    def handle_of(self, recipient: Mapping[str, Any]) -> str | None:
        """The recipient's handle on this platform (roster handles.<kind>), if any."""
        handles = recipient.get("handles")
        handle = handles.get(self.kind) if isinstance(handles, Mapping) else None
        return _text(handle)

    def mention_token(self, mention: Mention) -> str:
        """How the platform's markdown writes an @-mention."""
        raise NotImplementedError

    def _mentions(self, messages: Iterable[OutboxMessage], warn: bool = True
                  ) -> tuple[Mention, ...]:
        """The recipients of these messages who have a handle here, each once, in order.
        (`warn`: log who cannot be mentioned; not while trying digest sizes.)"""
        found: dict[str, Mention] = {}
        for message in messages:
            recipients = message.payload.get("recipients")
            for recipient in recipients if isinstance(recipients, list) else ():
                if not isinstance(recipient, Mapping):
                    continue
                handle = self.handle_of(recipient)
                if handle is None:
                    continue
                if not _HANDLE.match(handle):
                    if warn:
                        logger.warning("%s %s: not mentioning %s, handle %r is not one %s "
                                       "accepts", self.kind, self.name,
                                       recipient.get("name"), handle, self.label)
                    continue
                found.setdefault(handle, Mention(handle, str(recipient.get("name") or handle)))
        mentions = tuple(found.values())
        # A roster mistake (a whole unit on one alert) must not crowd out the alert itself.
        while mentions and (len(self._mention_line(mentions).encode("utf-8"))
                            > self.max_markdown_bytes // 4):
            mentions = mentions[:-1]
        if warn and len(mentions) < len(found):
            logger.warning("%s %s: %d recipients, only the first %d fit in one message",
                           self.kind, self.name, len(found), len(mentions))
        return mentions

    def _mention_line(self, mentions: Sequence[Mention]) -> str:
        if not mentions:
            return ""
        return "\n\n" + " ".join([self.mention_label,
                                   *(self.mention_token(m) for m in mentions)])

    def _with_mentions(self, markdown: str, mentions: Sequence[Mention],
                       truncate: bool = True) -> str:
        """The markdown, cut to leave room for the mention line, then the mention line: the
        mentions are what makes phones ring, so they are never what gets cut."""
        line = self._mention_line(mentions)
        if truncate:
            markdown = truncate_utf8(markdown,
                                     self.max_markdown_bytes - len(line.encode("utf-8")))
        return markdown + line

    # -- what to post -----------------------------------------------------------------------

    def _single(self, message: OutboxMessage, index: int) -> Post:
        payload = message.payload
        title = one_line(payload.get("title") or "预警")
        # The payload's markdown escapes post text already (alerts.delivery.render); a
        # payload with only text gets every line escaped here.
        markdown = payload.get("markdown") or "\n\n".join(
            chat_markdown(line) for line in str(payload.get("text") or title).splitlines())
        mentions = self._mentions([message])
        return Post(title=title, markdown=self._with_mentions(str(markdown), mentions),
                    level=_level(message), indexes=(index,), mentions=mentions,
                    buttons=tuple(buttons_of(payload)), evidence=_evidence_links(payload))

    def _digests(self, messages: Sequence[OutboxMessage], per_post: int) -> list[Post]:
        """Messages packed into digests of at most per_post alerts and max_markdown_bytes,
        most severe (then oldest) first, so what waits for a later cycle is the least severe."""
        order = sorted(range(len(messages)), key=lambda i: (_rank(messages[i]), i))
        posts: list[Post] = []
        group: list[tuple[int, str]] = []

        def flush() -> None:
            if group:
                posts.append(self._digest(messages, group))
                group.clear()

        for index in order:
            line = self._digest_line(messages[index])
            candidate = group + [(index, line)]
            if group and (len(candidate) > per_post
                          or len(self._digest(messages, candidate, truncate=False)
                                 .markdown.encode("utf-8")) > self.max_markdown_bytes):
                flush()
            group.append((index, line))
        flush()
        return posts

    @staticmethod
    def _digest_line(message: OutboxMessage) -> str:
        payload = message.payload
        title = chat_markdown(payload.get("title") or "预警")
        alert = payload.get("alert") if isinstance(payload.get("alert"), Mapping) else {}
        evidence = alert.get("evidence") or []
        link = safe_link(evidence[0].get("url")) if evidence and isinstance(
            evidence[0], Mapping) else None
        line = title + (f" — [原文]({link})" if link else "")
        return line + f" · 告警编号 {message.alert_id}"

    def _digest(self, messages: Sequence[OutboxMessage], group: list[tuple[int, str]],
                truncate: bool = True) -> Post:
        levels = [level for index, _ in group
                  if (level := _level(messages[index])) is not None]
        level = min(levels, default=None)
        title = (f"{len(group)} 条预警（最高 {_short_badge(level)}）" if level is not None
                 else f"{len(group)} 条系统告警")
        lines = [f"### 【警舆】{title}", ""]
        lines += [f"{number}. {line}" for number, (_, line) in enumerate(group, start=1)]
        lines += ["", "> 同一时段预警较多，已合并发送；详情见系统。"]
        # Everyone any of these alerts is routed to, mentioned once. Packing keeps a digest
        # within the limit unless one line alone exceeds it.
        mentions = self._mentions((messages[index] for index, _ in group), warn=truncate)
        markdown = self._with_mentions("\n".join(lines), mentions, truncate)
        return Post(title=title, markdown=markdown, level=level,
                    indexes=tuple(index for index, _ in group), mentions=mentions)

    # -- HTTP -----------------------------------------------------------------------------

    def _post(self, target: _Target, post: Post) -> None:
        raise NotImplementedError

    # A platform answers a post with a small JSON object (~100 bytes). Whatever a receiver
    # sends back is read up to this size and within the channel's timeout as a whole, so
    # that an endless or dripping answer cannot hold a delivery pass or fill memory.
    MAX_REPLY_BYTES: ClassVar[int] = 64 * 1024

    def _request(self, url: str, body: dict[str, Any],
                 params: Mapping[str, str] | None = None) -> tuple[requests.Response, Any]:
        """POST JSON; the answer and its parsed JSON (None if not JSON). Errors are redacted,
        and quote the answer short (jingyu.display.excerpt)."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            with requests.post(url, params=params, data=data, stream=True,
                               headers={"Content-Type": "application/json; charset=utf-8"},
                               timeout=self.timeout_seconds) as response:
                raw = self._read_reply(response)
        except requests.RequestException as exc:
            raise _Unreachable(f"{self.prefix}: no response ({type(exc).__name__}: "
                               f"{excerpt(self._redact(str(exc)))})") from None
        if raw is None:
            raise DeliveryError(f"{self.prefix}: answered HTTP {response.status_code} with "
                                f"more than {self.MAX_REPLY_BYTES} bytes, or not within "
                                f"{self.timeout_seconds:g} s; the answer was not read")
        try:
            answer = json.loads(raw.decode("utf-8", errors="replace"))
        except ValueError:
            answer = None
        if response.status_code == 429:
            raise RateLimited(f"{self.prefix}: HTTP 429 too many requests",
                              retry_after=retry_after_header(response) or self.throttle_seconds)
        if answer is None or not isinstance(answer, dict):
            text = raw.decode("utf-8", errors="replace")
            raise DeliveryError(f"{self.prefix}: answered HTTP {response.status_code} without "
                                f"a JSON object: {excerpt(self._redact(str(text)))}")
        return response, answer

    def _read_reply(self, response: requests.Response) -> bytes | None:
        """The answer's body, or None if it is longer than MAX_REPLY_BYTES or still arriving
        when the channel's timeout has passed since the answer began."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.MAX_REPLY_BYTES:
            return None
        deadline = time.monotonic() + self.timeout_seconds
        body = bytearray()
        while chunk := response.raw.read1(16 * 1024, decode_content=True):
            body += chunk
            if len(body) > self.MAX_REPLY_BYTES or time.monotonic() > deadline:
                return None
        return bytes(body)

    def _refused(self, code: Any, message: Any) -> DeliveryError:
        return DeliveryError(f"{self.prefix}: refused the message, errcode "
                             f"{excerpt(code, 20)}: {excerpt(self._redact(str(message)))}")


class DingTalkChannel(RobotChannel):
    """钉钉 custom robot (自定义机器人), markdown message, optional 加签."""

    kind = "dingtalk"
    label = "钉钉"
    windows = ((20, 60.0),)
    throttle_seconds = 600.0            # DingTalk throttles a robot 10 minutes after 130101
    RATE_LIMITED = 130101
    block_signal = "errcode 130101"

    def handle_of(self, recipient: Mapping[str, Any]) -> str | None:
        # DingTalk @-mentions by the mobile an account is registered with: the roster phone
        # is the duty officer's work mobile, so it serves when no dingtalk handle is given.
        return super().handle_of(recipient) or _text(recipient.get("phone"))

    def mention_token(self, mention: Mention) -> str:
        return f"@{mention.handle}"

    def _post(self, target: _Target, post: Post) -> None:
        params = None
        if target.secret:
            timestamp = str(int(wallclock() * 1000))
            params = {"timestamp": timestamp, "sign": dingtalk_sign(timestamp, target.secret)}
            self._known_secrets.append(params["sign"])
        body: dict[str, Any] = {"msgtype": "markdown",
                                "markdown": {"title": post.title, "text": post.markdown}}
        if post.buttons:
            # 独立跳转 actionCard: one button per link, stacked (btnOrientation "0") so that
            # 签收（姓名） labels stay readable on a phone. It takes the same markdown text,
            # and @-mentions the same way as markdown (the "at" list plus "@…" in the text).
            body = {"msgtype": "actionCard", "actionCard": {
                "title": post.title, "text": post.markdown, "btnOrientation": "0",
                "btns": [{"title": b.label, "actionURL": b.url} for b in post.buttons]}}
        if post.mentions:
            # The list makes DingTalk notify; the "@…" in the text (the mention line) makes
            # it show. Either alone mentions nobody.
            handles = [m.handle for m in post.mentions]
            body["at"] = {"atMobiles": [h for h in handles if _MOBILE.match(h)],
                          "atUserIds": [h for h in handles if not _MOBILE.match(h)],
                          "isAtAll": False}
        _, answer = self._request(target.url, body, params)
        code = answer.get("errcode")
        if code == 0:
            return
        if code == self.RATE_LIMITED:
            said = excerpt(self._redact(str(answer.get("errmsg"))))
            raise RateLimited(f"{self.prefix}: DingTalk blocked this robot for posting too "
                              f"fast (errcode {code}: {said}), for about "
                              f"{self.throttle_seconds / 60:.0f} minutes: the platform's "
                              f"limit, not jingyu's", retry_after=self.throttle_seconds)
        raise self._refused(code, answer.get("errmsg"))


class WeComChannel(RobotChannel):
    """企业微信 group robot (群机器人), markdown message; the key in the URL is the credential."""

    kind = "wecom"
    label = "企业微信"
    windows = ((20, 60.0),)
    max_markdown_bytes = 4096           # markdown.content: at most 4096 bytes of UTF-8
    throttle_seconds = 60.0
    RATE_LIMITED = 45009
    block_signal = "errcode 45009"

    def mention_token(self, mention: Mention) -> str:
        return f"<@{mention.handle}>"

    def _post(self, target: _Target, post: Post) -> None:
        content = truncate_utf8(post.markdown, self.max_markdown_bytes)
        body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": content}}
        if post.buttons:
            body = {"msgtype": "template_card", "template_card": self._card(post)}
        _, answer = self._request(target.url, body)
        code = answer.get("errcode")
        if code == 0:
            return
        if code == self.RATE_LIMITED:
            raise RateLimited(f"{self.prefix}: WeCom says too fast (errcode {code})",
                              retry_after=self.throttle_seconds)
        raise self._refused(code, answer.get("errmsg"))

    # template_card limits (WeCom's group-robot documentation): jump_list at most 3 entries,
    # horizontal_content_list at most 6; text lengths in characters, as WeCom recommends
    # (longer text is cut by the client or refused): main_title.title 26, desc 30,
    # sub_title_text 112, emphasis title 10 and desc 15, keyname 5, value 26, jump title 13.
    MAX_JUMPS = 3
    SUBTITLE_CHARS = 112
    TITLE_CHARS, DESC_CHARS, JUMP_CHARS, KEY_CHARS, VALUE_CHARS = 26, 30, 13, 5, 26
    # jingyu's own deadline line (alerts.incidents.notices.ack_hint, bold in the markdown);
    # post text cannot write "**" (jingyu.display.chat_markdown), so a title saying
    # "999 分钟内签收" cannot become the card's key figure.
    _DEADLINE = re.compile(r"\*\*(\d{1,4}) 分钟内签收（")

    def _card(self, post: Post) -> dict[str, Any]:
        """A text_notice template_card: the title, the message as plain text, the first
        posts as links, 签收 and 查看 as its jump list, and the card itself opening 查看.
        The card type cannot @-mention; the names stay in its text. Every text field is one
        clean line within WeCom's length for it; every URL is a signed link of jingyu's or
        a post's http(s) link."""
        acks = [b for b in post.buttons if b.action == ACK]
        views = [b for b in post.buttons if b.action != ACK]
        jumps = [*acks[:self.MAX_JUMPS - len(views[:1])], *views[:1]]
        markdown = post.markdown.removesuffix(self._mention_line(post.mentions))
        first, _, rest = markdown.partition("\n")
        body = _plain(rest if first.startswith("#") else markdown)   # the title is shown above
        names = " ".join(f"@{m.name}" for m in post.mentions)
        card: dict[str, Any] = {
            "card_type": "text_notice",
            "main_title": {"title": _fit(post.title, self.TITLE_CHARS),
                           "desc": _fit("系统告警" if post.level is None
                                        else f"{_short_badge(post.level)}预警", self.DESC_CHARS)},
            "sub_title_text": _fit(f"{names} {body}", self.SUBTITLE_CHARS),
            "jump_list": [{"type": 1, "title": _fit(b.label, self.JUMP_CHARS), "url": b.url}
                          for b in jumps],
            "card_action": {"type": 1, "url": (views or jumps)[0].url},
        }
        deadline = self._DEADLINE.search(markdown)
        if deadline:
            # The deadline as the card's key figure: the end of the text may be cut.
            card["emphasis_content"] = {"title": f"{deadline.group(1)} 分钟", "desc": "内签收"}
        if post.evidence:
            card["horizontal_content_list"] = [
                {"keyname": f"原文{n}", "value": _fit(title, self.VALUE_CHARS), "type": 1,
                 "url": url}
                for n, (title, url) in enumerate(post.evidence, start=1)]
        return card


def _fit(text: str, limit: int) -> str:
    """One clean line of at most `limit` characters, "…" marking a cut."""
    line = one_line(text)
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _plain(markdown: str) -> str:
    """Markdown as one line of plain text: headings, emphasis and link targets dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"^#+\s*|^\s*[-*]\s+|\*\*", "", text, flags=re.MULTILINE)
    return " ".join(text.split())


FEISHU_TEMPLATES = {1: "red", 2: "orange", 3: "yellow", 4: "blue", None: "grey"}


class FeishuChannel(RobotChannel):
    """飞书/Lark custom bot. Sends an interactive card: its header takes the warning colour
    (red/orange/yellow/blue, the 分级预警 colours duty staff know) and its markdown element
    renders our bold text and links, which "text" cannot and "post" only via hand-built rich
    text nodes."""

    kind = "feishu"
    label = "飞书"
    windows = ((100, 60.0), (5, 1.0))
    max_markdown_bytes = 16000          # the whole request body must stay under 20 KB
    throttle_seconds = 60.0
    RATE_LIMITED = (11232, 99991400)
    block_signal = "HTTP 429 / code 99991400 or 11232"

    def mention_token(self, mention: Mention) -> str:
        # Card markdown syntax; the card shows the person's name by itself.
        return f"<at id={mention.handle}></at>"

    def _post(self, target: _Target, post: Post) -> None:
        body: dict[str, Any] = {}
        if target.secret:
            timestamp = str(int(wallclock()))
            body = {"timestamp": timestamp, "sign": feishu_sign(timestamp, target.secret)}
        markdown = post.markdown
        first, _, rest = markdown.partition("\n")
        if first.startswith("#"):            # the card header already shows the title
            markdown = rest.lstrip("\n")
        body.update({"msg_type": "interactive", "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": post.title},
                       "template": FEISHU_TEMPLATES.get(post.level, "blue")},
            "elements": [{"tag": "markdown", "content": markdown or post.title},
                         *self._actions(post)],
        }})
        response, answer = self._request(target.url, body)
        code = answer.get("code", answer.get("StatusCode"))
        if code == 0:
            return
        if code in self.RATE_LIMITED:
            raise RateLimited(f"{self.prefix}: Feishu frequency limit (code {code})",
                              retry_after=retry_after_header(response) or self.throttle_seconds)
        raise self._refused(code, answer.get("msg", answer.get("StatusMessage")))


    @staticmethod
    def _actions(post: Post) -> list[dict[str, Any]]:
        """签收/查看 as url buttons (a button's url opens in the browser; no callback)."""
        if not post.buttons:
            return []
        return [{"tag": "action", "actions": [
            {"tag": "button", "text": {"tag": "plain_text", "content": b.label},
             "type": "primary" if b.action == ACK else "default", "url": b.url}
            for b in post.buttons]}]


def retry_after_header(response: requests.Response) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or Feishu's
    x-ogw-ratelimit-reset; None if neither is usable."""
    for name in ("Retry-After", "x-ogw-ratelimit-reset"):
        value = response.headers.get(name)
        if not value:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - wallclock())
        except (TypeError, ValueError):
            continue
    return None


ROBOT_CLASSES: dict[str, type[RobotChannel]] = {
    cls.kind: cls for cls in (DingTalkChannel, WeComChannel, FeishuChannel)}


def robot_channel(settings: RobotOptions) -> RobotChannel:
    """The robot channel of one alerts.yaml entry (kind dingtalk, wecom or feishu)."""
    cls = ROBOT_CLASSES[settings.kind]
    signed = isinstance(settings, SignedRobotOptions)
    return cls(settings.name, settings.url, url_env=settings.url_env,
               url_block=settings.url_block,
               secret_env=settings.secret_env if signed else None,
               secret_block=settings.secret_block if signed else None,
               timeout_seconds=settings.timeout_seconds,
               limiter=shared_limiter(settings.kind, settings.name, cls.windows))
