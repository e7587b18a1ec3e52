"""Hide credentials in URLs and in text that quotes them (errors, logs, stored messages).

Robot and webhook URLs carry their token (DingTalk ?access_token=, WeCom ?key=, Feishu
/hook/<token>), source URLs may carry an API key (a self-hosted RSSHub's ?key=): whatever
jingyu writes — logs, outbox.last_error, source health, Prefect's database — shows them with
the secret replaced by ***. Host and path stay, so the operator can tell them apart.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"

# Query parameters that carry a credential in the robots' webhook URLs:
# DingTalk access_token/sign, WeCom key, Feishu (none in the query, see the path below).
SECRET_QUERY_KEYS = ("access_token", "key", "sign", "secret", "token", "password")
_QUERY_VALUE = re.compile(
    r"(?i)(?P<name>\b(?:" + "|".join(SECRET_QUERY_KEYS) + r"))=(?P<value>[^&\s\"'<>#)]+)")
# Feishu/Lark carry the robot's token in the path: /open-apis/bot/v2/hook/<token>.
_HOOK_PATH = re.compile(r"(?P<prefix>/bot/v2/hook/)(?P<value>[^/?#\s\"'<>)]+)")


def redact_url(url: str) -> str:
    """The URL with every credential replaced by ***, safe for errors and logs.

    Query values of access_token, key, sign (and similar) and the token in a Feishu hook path
    are hidden; host, path and other parameters stay so the operator can tell robots apart.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    query = urlencode([(name, REDACTED if name.lower() in SECRET_QUERY_KEYS else value)
                       for name, value in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    path = _HOOK_PATH.sub(lambda m: m.group("prefix") + REDACTED, parts.path)
    path = "/".join(REDACTED if _looks_secret(segment) else segment
                    for segment in path.split("/"))
    netloc = parts.netloc
    if "@" in netloc:                                   # user:password@host
        netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


# A path segment that reads like a token (a webhook key in the path: /hook/<token>,
# /services/T0/B0/<token>): long, or letters mixed with digits.
_TOKEN_LIKE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-.~]{12,}$|^[A-Za-z0-9_\-]{24,}$")


def _looks_secret(segment: str) -> bool:
    return bool(_TOKEN_LIKE.match(segment))


def url_secrets(url: str | None) -> list[str]:
    """The parts of a configured URL that may be credentials — values of key/token-named query
    parameters, token-like query values and path segments, the password — for redact_text.
    The rest of the URL stays readable, so the operator can tell which one failed."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    if parts.scheme.lower() not in ("http", "https"):
        # A file source's path (an export folder, a crawler's output) is not a credential;
        # hiding its segments made "file not found" errors unreadable.
        return []
    found = [value for name, value in parse_qsl(parts.query)
             if name.lower() in SECRET_QUERY_KEYS or _looks_secret(value)]
    found += [segment for segment in parts.path.split("/") if _looks_secret(segment)]
    if parts.password:
        found.append(parts.password)
    return found


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Hide credentials in free text (exception messages, log lines).

    Catches URLs embedded anywhere (requests puts the full URL with its query in connection
    errors) and, belt and braces, any of the given secret values verbatim.
    """
    text = _QUERY_VALUE.sub(lambda m: f"{m.group('name')}={REDACTED}", text)
    text = _HOOK_PATH.sub(lambda m: m.group("prefix") + REDACTED, text)
    # Longest first, so a secret containing a shorter one is hidden whole.
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
