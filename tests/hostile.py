"""One corpus of hostile strings that every output and channel is tested with (issue 10), and the
checks that say an output stayed inert.

Titles and links of posts are written by strangers; these are the tricks tried on jingyu: a
newline that forges a heading, a link with a label of the attacker's choosing, a URL that ends
its link early, mentions of the whole group in each platform's syntax, terminal escapes, bidi
overrides and zero-width characters, HTML, and spreadsheet formulas.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

FORGED_HEADING = "民警执法视频\n### 【I级 红色预警】伪造标题"
PHISHING_LINK = "[点击查看处置通知](http://evil.example/phish)"
LINK_BREAKOUT = "https://x.example/1)[假链接](http://evil.example/2"
MENTIONS = ("<at id=all></at>", "<@all>", "@所有人", '<at user_id="all">所有人</at>')
TERMINAL_ESCAPES = ("\x1b]0;已处置\x07", "\x1b[2J", "\x1b[31m红色\x1b[0m", "\x9b2J")
CARRIAGE_RETURN = "民警殴打群众\r【已核实为谣言】"
BIDI = "\u202e警民冲突\u202c"
ZERO_WIDTH = "民\u200b警\u200d打\ufeff人\u2066"
HTML = "<script>alert('x')</script><img src=x onerror=alert(1)>"
FORMULAS = ('=HYPERLINK("http://evil.example","点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd",
            "-2+3 辅警")
MARKDOWN = "**加粗** _斜体_ `代码` > 引用 | 表格 ![图](http://evil.example/x.png)"

# Titles as collectors store them (every trick, one per post, and all of them in one).
TITLES: tuple[str, ...] = (FORGED_HEADING, PHISHING_LINK, LINK_BREAKOUT, *MENTIONS,
                           *TERMINAL_ESCAPES, CARRIAGE_RETURN, BIDI, ZERO_WIDTH, HTML,
                           *FORMULAS, MARKDOWN,
                           " ".join([FORGED_HEADING, PHISHING_LINK, *MENTIONS, BIDI,
                                     TERMINAL_ESCAPES[0], HTML]))
# Links as they arrive in feeds: only the http(s) ones may ever be linked to.
URLS: tuple[str, ...] = (
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    LINK_BREAKOUT,
    "https://weibo.example/p/1 [假](http://evil.example)",
    "https://weibo.example/p/2\n### 伪造",
    "https://weibo.example/p/3?a=<at id=all></at>",
)

# What must never reach a terminal or any text a person reads.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069"
                       "\ufeff]")
# Mentions of everyone, in each platform's syntax (half-width '@', '<' as the platform reads).
LIVE_MENTION = re.compile(r"<at\b|<@|@所有人|@all\b", re.IGNORECASE)
MARKDOWN_LINK = re.compile(r"!?\[([^\[\]]*)\]\(([^()]*)\)")
# Labels jingyu writes on the links it makes.
OUR_LABELS = {"原文"}


def assert_clean_terminal(text: str) -> None:
    """No control character, escape sequence, carriage return, bidi or zero-width character."""
    found = INVISIBLE.findall(text)
    assert not found, f"control/invisible characters reached the output: {found!r}"


def assert_inert_markdown(markdown: str, headings: int) -> None:
    """Chat markdown where post text made nothing: exactly `headings` heading lines (the ones
    jingyu writes), no mention of everyone, every link labelled by jingyu and pointing to
    http(s) outside evil.example, no HTML tag, nothing invisible."""
    assert_clean_terminal(markdown.replace("\n", " "))
    heading_lines = [line for line in markdown.splitlines() if line.lstrip().startswith("#")]
    assert len(heading_lines) == headings, heading_lines
    assert "伪造标题" not in "".join(heading_lines[1:])
    assert not LIVE_MENTION.search(markdown), LIVE_MENTION.search(markdown)
    for label, target in MARKDOWN_LINK.findall(markdown):
        assert label in OUR_LABELS, f"a post made the link [{label}]({target})"
        assert target.startswith(("http://", "https://")), target
        assert urlsplit(target).hostname != "evil.example", target
        assert not re.search(r"[\s()<>\[\]]", target), target
    assert not re.search(r"<[a-zA-Z/!]", markdown), "an HTML tag reached the markdown"
    outside_links = MARKDOWN_LINK.sub("", markdown)
    assert "://evil.example" not in outside_links, "a bare link to evil.example is live"
