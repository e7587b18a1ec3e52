"""Decode a fetched body to text, checking the declared charset against the bytes.

Chinese sites often declare one charset and send another: a GBK page or feed labelled UTF-8
would otherwise be stored as mojibake that scores as not police-related, so nothing from it
can ever alert. The declared charset is trusted only when the bytes decode in it.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Mapping

import charset_normalizer

# gb2312 and gbk are subsets of gb18030: sites declare them yet use characters only
# gb18030 has (rare characters in names), so any GB label is decoded as gb18030.
GB_CHARSETS = frozenset({"gb2312", "gb_2312", "gb_2312-80", "gbk", "x-gbk", "cp936", "gb18030",
                         "euc-cn", "hz-gb-2312"})
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)",
                              re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)",
                           re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
# A mostly-UTF-8 body with a few broken bytes is UTF-8 with damage, not another charset.
_UTF8_GOOD_PER_BAD = 4
_SNIFF_BYTES = 2048


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str                 # the codec the text was decoded with
    note: str | None = None       # for source health: the charset was doubtful


def declared_charset(headers: Mapping[str, str], body: bytes) -> tuple[str | None, str]:
    """The charset the response claims and where it says so (HTTP header, BOM, document)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, "byte-order mark"
    match = _CHARSET_PARAM.search(headers.get("content-type", ""))
    if match:
        return match.group(1).lower(), "HTTP Content-Type"
    head = body[:_SNIFF_BYTES]
    match = _XML_DECLARATION.match(head) or _META_CHARSET.search(head)
    if match:
        return match.group(1).decode("ascii").lower(), "document"
    return None, "nothing"


def decode_body(body: bytes, headers: Mapping[str, str]) -> Decoded:
    """`body` as text: in its declared charset when the bytes bear it out, else what they are."""
    declared, where = declared_charset(headers, body)
    codec = _codec(declared)
    if codec == "gb18030":
        text = body.decode("gb18030", errors="replace")
        return Decoded(text, "gb18030", _damage_note(text, "gb18030"))
    if codec is not None and codec != "utf-8":
        try:
            return Decoded(body.decode(codec), codec)
        except UnicodeDecodeError:
            pass
    else:
        try:
            return Decoded(body.decode("utf-8"), "utf-8")
        except UnicodeDecodeError:
            pass
        as_utf8 = body.decode("utf-8", errors="replace")
        bad = as_utf8.count("\ufffd")
        good = sum(1 for char in as_utf8 if char > "\x7f") - bad
        if good >= _UTF8_GOOD_PER_BAD * bad:
            return Decoded(as_utf8, "utf-8", f"{bad} broken UTF-8 sequence(s) replaced")
    claimed = f"declared {declared} ({where})" if declared else "no charset declared"
    try:
        text = body.decode("gb18030")
    except UnicodeDecodeError:
        pass
    else:
        # Sure: the bytes are not the declared charset and are valid GB18030.
        return Decoded(text, "gb18030")
    guess = charset_normalizer.from_bytes(body).best()
    if guess is not None:
        return Decoded(str(guess), guess.encoding,
                       f"charset unsure: {claimed}, but the bytes are not; read as "
                       f"{guess.encoding} by detection — check the text of this source's posts")
    fallback = codec or "utf-8"
    return Decoded(body.decode(fallback, errors="replace"), fallback,
                   f"charset unsure: {claimed}, but the bytes are not; undecodable bytes "
                   "replaced — check the text of this source's posts")


def _codec(charset: str | None) -> str | None:
    """The Python codec for a charset label; gb18030 for every GB label; None if unknown."""
    if charset is None:
        return None
    if charset in GB_CHARSETS:
        return "gb18030"
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def _damage_note(text: str, encoding: str) -> str | None:
    bad = text.count("\ufffd")
    return f"{bad} undecodable {encoding} byte sequence(s) replaced" if bad else None
