"""Text written by strangers made safe to show: on a terminal, as plain text, in a chat robot's
markdown, as a link, and in a spreadsheet cell.

Post text, titles, links, error pages and feed names come from the internet, some of it from
people hostile to the police. What they must never do wherever jingyu shows them:
- drive a terminal (escape sequences that set the window title, clear the screen, move the
  cursor; a bare carriage return that overwrites the start of a line);
- hide or reorder what is shown (bidi overrides such as U+202E, zero-width characters);
- forge structure in a message duty staff act on: a heading ("### 【I级 红色预警】…"), a link
  with a label of the attacker's choosing, a mention of the whole group (<at id=all></at>,
  <@all>, @所有人), bold text or a quote;
- start a formula in a spreadsheet.
Every output uses these functions: one definition of each rule, not one per renderer.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

# Terminal escape sequences, 7-bit and 8-bit: CSI (ESC [ … final byte), and the string
# sequences OSC/DCS/SOS/PM/APC up to their terminator (BEL or ST). An unterminated string
# sequence loses only its introducer below (with the other control characters), so an
# attacker cannot make the rest of a title disappear.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]")
# Control characters (C0 but tab and newline, DEL, C1) and invisible format characters:
# soft hyphen, bidi marks/embeddings/overrides/isolates (U+200E/F, U+202A-E, U+2066-9,
# U+061C), zero-width space/joiners (U+200B-D), word joiner and invisible operators
# (U+2060-4), deprecated format controls (U+206A-F), BOM (U+FEFF), interlinear annotation
# (U+FFF9-B), Mongolian vowel separator, and tag characters (U+E0000-7F).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029\x85]")


def clean_text(value: object) -> str:
    """The text without escape sequences, control or invisible characters; line breaks
    (\\r, \\r\\n, U+2028/9) become \\n, so a carriage return cannot overwrite a line."""
    text = "" if value is None else str(value)
    text = _LINE_BREAKS.sub("\n", text)
    return _INVISIBLE.sub("", _ESCAPE_SEQUENCE.sub("", text))


def one_line(value: object) -> str:
    """clean_text on one line: every run of white space (newlines too) is one space. For
    titles, table cells and anything a newline would let pose as a line of its own."""
    return " ".join(clean_text(value).split())


def excerpt(value: object, limit: int = 200) -> str:
    """What a stranger's server answered, quoted in an error: one clean line of at most
    `limit` characters, marked when cut. A receiver's body never lands whole in a log line,
    outbox.last_error or the Prefect database."""
    text = one_line(value)
    return text if len(text) <= limit else text[:limit] + f"…（另有 {len(text) - limit} 字符）"


# Characters with a meaning in the chat platforms' markdown (DingTalk, WeCom, Feishu card
# lark_md) and in the markdown the e-mail channel turns into HTML: headings, emphasis, code,
# links and images, quotes, tables, HTML-like tags (Feishu <at id=all>, <font>; WeCom <@all>;
# DingTalk <font>), entities, and @-mentions. Each becomes its full-width twin: it reads the
# same to a person and means nothing to the platform. (Backslash escapes are not honoured by
# every platform; full-width forms are.)
_CHAT_MARKUP = str.maketrans({
    "\\": "＼", "`": "｀", "*": "＊", "_": "＿", "~": "～", "|": "｜",
    "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "!": "！", "&": "＆",
    "@": "＠", "$": "＄",
})
# At the start of a line (or of a list item: "1. ### …" is a heading inside the item) these
# begin a heading or a list; inside a line they are plain ("#话题#" hashtags stay as written).
_LINE_START = str.maketrans({"#": "＃", "-": "－", "+": "＋", "=": "＝"})


def chat_markdown(value: object) -> str:
    """Stranger's text as inert markdown on one line, for DingTalk, WeCom and Feishu messages
    and the e-mail HTML: no heading, emphasis, link, tag, entity or mention can come of it.
    A bare URL in it is broken (":／／") so that no client turns it into a live link."""
    text = one_line(value).translate(_CHAT_MARKUP).replace("://", ":／／")
    rest = text.lstrip("#-+=")
    return text[:len(text) - len(rest)].translate(_LINE_START) + rest


# Characters a URL keeps as they are; every other one is percent-encoded, so a link cannot end
# early (")", " ", ">"), open another markup construct ("[", "<", '"') or carry a newline.
_URL_SAFE = ":/?#@!$&'*+,;=%-._~"


def safe_link(url: object) -> str | None:
    """An http(s) URL with a host, percent-encoded so it is one token in any markup; None for
    anything else (javascript:, data:, file:, mailto:, relative or malformed links)."""
    if not isinstance(url, str):
        return None
    text = clean_text(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(text, safe=_URL_SAFE)


# OWASP CSV injection: a cell starting with one of these is a formula to Excel and LibreOffice
# (a plain number such as "-5" or "+86138…" is not, and stays as it is).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def spreadsheet_cell(value: Any) -> Any:
    """A text cell without control characters, with a leading apostrophe if it would start a
    formula; numbers stay numbers; lists and mappings become JSON text, defused the same way."""
    if isinstance(value, str):
        value = clean_text(value)
        if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    elif isinstance(value, (list, dict, tuple)):
        return spreadsheet_cell(json.dumps(value, ensure_ascii=False))
    return value
