"""TF-IDF keywords from already segmented words, against jieba.analyse on the same text."""
from __future__ import annotations

import jieba.analyse

from transforms.keywords import load_idf_table, top_keywords
from transforms.segment import STOPWORDS, content_words, load_tokenizer, segment

SENTENCE = ("昨晚，某市公安局交警支队一名辅警在执勤时遭遇袭警，嫌疑人驾车拖行辅警二十余米，"
            "警情通报称嫌疑人已被刑事拘留，受伤辅警已送医救治。")


def test_keywords_name_what_the_post_is_about() -> None:
    keywords = top_keywords(content_words(segment(SENTENCE, load_tokenizer())),
                            load_idf_table(), 5)
    assert len(keywords) == 5
    assert {"辅警", "袭警", "嫌疑人"} <= set(keywords)
    assert keywords[0] == "辅警", "the most repeated specific word comes first"


def test_keywords_rank_as_jieba_extract_tags_does() -> None:
    tokenizer = load_tokenizer()
    ours = top_keywords(content_words(segment(SENTENCE, tokenizer)), load_idf_table(), 8)
    jiebas = [word for word in jieba.analyse.extract_tags(SENTENCE, topK=None)
              if word not in STOPWORDS and not word.isdigit()][:8]
    assert list(ours) == jiebas


def test_keywords_skip_single_characters_and_numbers() -> None:
    words = ["2024", "5", "民", "警情通报", "110", "警情通报"]
    assert top_keywords(words, load_idf_table(), 10) == ("警情通报",)


def test_unknown_words_get_the_median_idf() -> None:
    idf = load_idf_table()
    assert "袭警辅警某某" not in idf.idf
    words = ["袭警辅警某某", "的确"]
    expected = sorted(words, key=lambda w: idf.idf.get(w, idf.median), reverse=True)
    assert list(top_keywords(words, idf, 2)) == expected
