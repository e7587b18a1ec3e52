"""Polite HTTP GET for collectors: UA, timeouts, deadline, size cap, per-host spacing, retries,
304s, and redirects that may not lead from the internet into our own network."""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Mapping
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

DEFAULT_USER_AGENT = "jingyu/0.1 (+public-opinion monitoring; polite poller)"
_CHUNK_BYTES = 64 * 1024
# Failures worth another try: the next attempt may well succeed.
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_REDIRECTS = (301, 302, 303, 307, 308)
# Loopback, private, link-local, carrier-grade NAT and "this network" addresses: a public
# source must not redirect the collector into them (the bureau's intranet, cloud metadata).
INTERNAL_NETWORKS = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                     "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8", "::1/128", "fc00::/7",
                     "fe80::/10")


@dataclass(frozen=True)
class HttpPolicy:
    """How politely and how patiently collectors talk to a site."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0         # per socket read, not for the whole download
    deadline_s: float = 60.0             # for the whole body of one attempt: a server that
                                         # drips a byte every few seconds is cut off here
    max_redirects: int = 5
    internal_networks: tuple[str, ...] = INTERNAL_NETWORKS
    max_bytes: int = 5 * 1024 * 1024     # of the decoded body
    per_host_delay_s: float = 1.0        # minimum spacing between requests to one host
    retries: int = 2                     # extra attempts after the first one
    backoff_s: float = 0.5               # wait before retry n is backoff_s * 2**(n-1)
    pool_size: int = 16                  # connections kept per host; fetches run in threads


@dataclass(frozen=True)
class HttpResponse:
    """What a GET returned, body fully read."""

    status: int
    headers: Mapping[str, str]           # names lower-cased
    body: bytes
    url: str                             # final URL, after redirects
    attempts: int                        # 1 + the retries it took


@dataclass(frozen=True)
class Lane:
    """One upstream's own politeness, shared by every source behind it: a self-hosted RSSHub
    serves hundreds of routes from one host, and may take several requests at once with a
    short gap, where a real site gets one request per second."""

    name: str
    concurrency: int = 1             # requests in flight at once
    delay_s: float = 1.0             # minimum spacing between request starts


class DownloadError(Exception):
    """No usable HTTP response: refused, timed out, too big, or not a fetchable URL."""

    def __init__(self, url: str, reason: str, attempts: int = 1) -> None:
        self.url = url
        self.reason = reason
        self.attempts = attempts
        super().__init__(f"{reason} ({url})")


class _ResponseTooLarge(Exception):
    pass


class _DeadlinePassed(Exception):
    pass


class RedirectRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PoliteClient:
    """Thread-safe GET client shared by all collectors of one run; close it (or use `with`)."""

    def __init__(self, policy: HttpPolicy | None = None) -> None:
        self.policy = policy or HttpPolicy()
        self._session = requests.Session()
        self._session.headers["User-Agent"] = self.policy.user_agent
        adapter = HTTPAdapter(pool_connections=self.policy.pool_size,
                              pool_maxsize=self.policy.pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._host_lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        self._lanes: dict[str, threading.BoundedSemaphore] = {}
        self.waited_s = 0.0          # slept for politeness, all threads together
        self._internal = [ipaddress.ip_network(net) for net in self.policy.internal_networks]

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
            lane: Lane | None = None) -> HttpResponse:
        """GET `url`, conditionally when a validator is given; raises DownloadError.

        HTTP error statuses are returned, not raised: 5xx after the retries are spent,
        4xx at once, since asking again will not change the answer. With a `lane`, the
        lane's concurrency and delay apply instead of the per-host delay.
        """
        if lane is None:
            return self._get(url, etag, last_modified, None)
        with self._host_lock:
            gate = self._lanes.setdefault(lane.name, threading.BoundedSemaphore(
                max(lane.concurrency, 1)))
        with gate:
            return self._get(url, etag, last_modified, lane)

    def _get(self, url: str, etag: str | None, last_modified: str | None,
             lane: Lane | None) -> HttpResponse:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempts = 1 + max(self.policy.retries, 0)
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                time.sleep(self.policy.backoff_s * 2 ** (attempt - 2))
            self._wait_for_slot(url, lane)
            try:
                response = self._download(url, headers, attempt)
            except _TRANSIENT as exc:
                if attempt == attempts:
                    raise DownloadError(url, _describe(exc, self.policy), attempt) from exc
                continue
            except _ResponseTooLarge:
                raise DownloadError(
                    url, f"response larger than {self.policy.max_bytes} bytes, download aborted",
                    attempt) from None
            except _DeadlinePassed:
                # Not retried: a server this slow would hold the cycle as long again.
                raise DownloadError(
                    url, f"download took longer than {self.policy.deadline_s:g} s in all "
                         "(a server sending too slowly), aborted", attempt) from None
            except RedirectRefused as exc:
                raise DownloadError(url, exc.reason, attempt) from None
            except requests.RequestException as exc:
                raise DownloadError(url, _describe(exc, self.policy), attempt) from exc
            if response.status < 500 or attempt == attempts:
                return response

    def _wait_for_slot(self, url: str, lane: Lane | None) -> None:
        """Sleep until the host's (or lane's) next free slot: booked under the lock, slept
        outside it."""
        key = f"lane:{lane.name}" if lane else (urlsplit(url).hostname or "").lower()
        delay = lane.delay_s if lane else self.policy.per_host_delay_s
        with self._host_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(key, now))
            self._next_slot[key] = slot + delay
            self.waited_s += slot - now
        if slot > now:
            time.sleep(slot - now)

    def _download(self, url: str, headers: dict[str, str], attempt: int) -> HttpResponse:
        """One attempt: follow redirects ourselves, checking where each one leads."""
        current = url
        for _ in range(self.policy.max_redirects + 1):
            response = self._download_one(current, headers, attempt)
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or not location:
                return response
            target = urljoin(current, location)
            self._check_redirect(url, target)
            current = target
        raise requests.TooManyRedirects(f"more than {self.policy.max_redirects} redirects")

    def _download_one(self, url: str, headers: dict[str, str], attempt: int) -> HttpResponse:
        policy = self.policy
        deadline = time.monotonic() + policy.deadline_s
        with self._session.get(url, headers=headers, stream=True, allow_redirects=False,
                               timeout=(policy.connect_timeout_s, policy.read_timeout_s)) as raw:
            declared = raw.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise _ResponseTooLarge
            # Read what has arrived, checking the cap and the deadline after each piece: a
            # huge or endless body never sits in memory, a dripping one is cut off in time.
            body = bytearray()
            while chunk := raw.raw.read1(_CHUNK_BYTES, decode_content=True):
                body += chunk
                if len(body) > policy.max_bytes:
                    raise _ResponseTooLarge
                if time.monotonic() > deadline:
                    raise _DeadlinePassed
            return HttpResponse(
                status=raw.status_code,
                headers={name.lower(): value for name, value in raw.headers.items()},
                body=bytes(body),
                url=url,
                attempts=attempt,
            )

    def _check_redirect(self, source_url: str, target: str) -> None:
        """Refuse a redirect off http(s), or into an internal network the source is not on.

        A self-hosted RSSHub on 127.0.0.1 may redirect within 127.0.0.1; a site on the
        internet may not send us to 127.0.0.1, 10.x or a cloud metadata address.
        """
        if urlsplit(target).scheme not in ("http", "https"):
            raise RedirectRefused(f"redirect to a non-http(s) address refused: {target}")
        target_network = self._internal_network(target)
        if target_network is None:
            return
        if self._internal_network(source_url) != target_network:
            raise RedirectRefused(f"redirect from {source_url} into the internal network "
                                  f"{target_network} refused ({target})")

    def _internal_network(self, url: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The internal network `url`'s host is in, or None when it resolves to public ones."""
        host = urlsplit(url).hostname or ""
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except (socket.gaierror, UnicodeError):
            return None   # unresolvable: the request itself will fail and say so
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            for network in self._internal:
                if ip.version == network.version and ip in network:
                    return network
        return None


def _describe(exc: requests.RequestException, policy: HttpPolicy) -> str:
    """A duty-staff readable reason for a transport failure."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"connect timed out after {policy.connect_timeout_s:g} s"
    if isinstance(exc, requests.ReadTimeout) or "Read timed out" in str(exc):
        return f"no data for {policy.read_timeout_s:g} s (read timeout)"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "Connection refused" in text or "Errno 111" in text:
            return "connection refused"
        if "Name or service not known" in text or "Failed to resolve" in text:
            return "host name not found (DNS)"
        return f"connection failed: {text}"
    if isinstance(exc, requests.TooManyRedirects):
        return "too many redirects"
    return f"{type(exc).__name__}: {exc}"
