"""Turn published HTML into clean, normalised plain text, and hash it for exact dedup."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from html.parser import HTMLParser

# Tags whose content is never readable text.
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
# Tags that start a new line when a browser renders them.
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
})
# Weibo (and RSSHub's Weibo routes) render emoticons as <img alt="[泪]">; the alt text is
# the only trace of the emotion, so it is kept. Other image alts are captions, dropped.
_EMOTICON_ALT = re.compile(r"^\[[^\[\]\s]{1,8}\]$")
# Zero-width characters are inserted by editors and by posters dodging keyword filters;
# they would split words and hide matches.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_LINE_BREAKS = re.compile(r"\s*\n\s*")
# "…" and "..." end the truncated titles feeds build from the first words of a post.
_TRUNCATION_MARKS = "…. "


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "img" and not self._skip_depth:
            alt = dict(attrs).get("alt") or ""
            if _EMOTICON_ALT.match(alt):
                self.parts.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <script/> opens nothing, so it must not start skipping.
        if tag not in _SKIPPED_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment: no tags, entities decoded, blocks on their own lines.

    Plain text passes through unchanged apart from entity decoding.
    """
    if "<" not in html and "&" not in html:  # plain text: nothing to parse (most posts)
        return html
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.parts)


def normalise(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation become half-width), no invisible
    characters, runs of spaces collapsed to one, blank lines dropped, ends stripped."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = _HORIZONTAL_SPACE.sub(" ", text)
    return _LINE_BREAKS.sub("\n", text).strip()


def clean_text(html: str) -> str:
    """HTML or plain text as published -> normalised plain text."""
    return normalise(html_to_text(html))


def post_text(title: str, body: str) -> str:
    """The text to score: clean title and body, one line apart.

    Feeds of Weibo-like sources make the title from the first words of the body; then the
    title is dropped so its words are not counted twice.
    """
    title_text, body_text = clean_text(title), clean_text(body)
    title_stem = title_text.rstrip(_TRUNCATION_MARKS)
    if not title_stem or body_text.startswith(title_stem):
        return body_text
    if not body_text:
        return title_text
    return f"{title_text}\n{body_text}"


def content_hash(text: str) -> str:
    """sha1 hex of the text's letters and digits, lowercased.

    Reposts differ from the original in punctuation, emoji, spacing and width, so only
    letters, combining marks and numbers take part: such copies hash equal.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LMN")
    return hashlib.sha1(kept.encode("utf-8")).hexdigest()
