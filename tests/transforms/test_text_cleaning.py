"""HTML to text, normalisation, the scored text of a post, and the dedup hash."""
from __future__ import annotations

import hashlib

from transforms.text import clean_text, content_hash, html_to_text, normalise, post_text


def test_html_drops_script_and_style_and_decodes_entities() -> None:
    html = ('<style>p{color:red}</style><p>警方&amp;群众 &lt;通报&gt; &#x8B66;情</p>'
            '<script>var track = "袭警";</script>')
    text = html_to_text(html)
    assert "color" not in text and "track" not in text and "袭警" not in text
    assert "警方&群众 <通报> 警情" in text


def test_block_tags_become_line_breaks_and_inline_tags_do_not() -> None:
    html = "<div><p>第一段<b>加粗</b>文字</p><p>第二段<br>换行</p><ul><li>甲</li><li>乙</li></ul></div>"
    assert clean_text(html).split("\n") == ["第一段加粗文字", "第二段", "换行", "甲", "乙"]


def test_weibo_emoticon_alt_is_kept_and_photo_captions_are_not() -> None:
    html = '太气人了<img alt="[怒]" src="e.png"><img alt="现场照片：警车" src="p.jpg">'
    text = clean_text(html)
    assert "[怒]" in text
    assert "现场照片" not in text


def test_plain_text_passes_through() -> None:
    plain = "民警 3<5 次出警"
    assert html_to_text(plain) == plain


def test_normalise_turns_full_width_into_half_width() -> None:
    assert normalise("ＡＢＣ１２３，！？（）") == "ABC123,!?()"


def test_normalise_collapses_spaces_and_drops_invisible_characters_and_blank_lines() -> None:
    text = "  袭\u200b警\u3000\u3000事件 \t 通报 \n\n\n 第二行\u00a0 "
    assert normalise(text) == "袭警 事件 通报\n第二行"


def test_post_text_drops_a_title_that_is_the_start_of_the_body() -> None:
    body = "<p>今天上午，某路口发生袭警事件，一名辅警受伤。</p>"
    assert post_text("今天上午，某路口发生袭警…", body) == clean_text(body)
    assert post_text("今天上午，某路口发生袭警...", body) == clean_text(body)


def test_post_text_joins_a_distinct_title_and_body() -> None:
    assert post_text("警情通报", "<p>一男子被刑拘。</p>") == "警情通报\n一男子被刑拘。"
    assert post_text("", "正文") == "正文"
    assert post_text("只有标题", "") == "只有标题"


def test_re_punctuated_copies_hash_equal() -> None:
    original = "【警情通报】5月3日，某小区发生一起纠纷，民警迅速到场处置。"
    copies = [
        "警情通报 5月3日 某小区发生一起纠纷 民警迅速到场处置!!!",
        "#警情通报# ５月３日，某小区发生一起纠纷……民警迅速到场处置😡",
        "警情通报5月3日某小区发生一起纠纷民警迅速到场处置",
    ]
    assert {content_hash(copy) for copy in copies} == {content_hash(original)}


def test_different_words_hash_differently() -> None:
    assert content_hash("民警迅速到场处置") != content_hash("民警没有到场处置")


def test_hash_ignores_letter_case_and_is_sha1_hex() -> None:
    digest = content_hash("Police Report 110")
    assert digest == content_hash("police report 110")
    assert digest == hashlib.sha1("policereport110".encode()).hexdigest()
