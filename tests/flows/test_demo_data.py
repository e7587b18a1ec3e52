"""The bundled demo feeds render, parse like real feeds, and hold the planted burst."""
from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
import yaml

from collectors.kinds import kind_names
from collectors.records import SourceConfig
from flows.demo.data import DEMO_FEEDS, FEEDS_DIR, MISSING_PATH, demo_sources, render_demo_feeds
from jingyu.timeutil import SHANGHAI

REPO = Path(__file__).resolve().parents[2]
BASE_URL = "http://127.0.0.1:8765"
# Late evening in Shanghai, so the last day of the feeds crosses local midnight.
NOW = datetime(2026, 11, 26, 15, 30, 42, 123456, tzinfo=timezone.utc)
SECOND = NOW.replace(microsecond=0)        # feed dates carry whole seconds

EXPECTED_ENTRIES = {
    "/qingchuan_police.xml": 12,
    "/city_news_society.atom": 15,
    "/weibo_keyword_police.xml": 60,
    "/county_forum_gbk.xml": 15,
    "/rdf_district.rdf": 6,
}
BROKEN = "/broken_feed.xml"
WEIBO = "/weibo_keyword_police.xml"
FORUM = "/county_forum_gbk.xml"
INCIDENT_TERMS = ("滨河路", "临江", "辅警", "摊", "通报")
NAIVE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
REPOST_OF = "【临江区滨河路夜市发生冲突 一路人受伤】"


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[bytes, str]]:
    return render_demo_feeds(NOW)


def parse(rendered: dict[str, tuple[bytes, str]], path: str) -> feedparser.FeedParserDict:
    body, content_type = rendered[path]
    # as the collector sees it: HTTP headers included, relative links resolved against the URL
    return feedparser.parse(body, response_headers={"content-type": content_type,
                                                    "content-location": BASE_URL + path})


def entry_time(entry: feedparser.FeedParserDict) -> datetime:
    stamp = entry.get("published", "")
    if NAIVE.fullmatch(stamp):
        # feedparser reads a zoneless date as UTC; Chinese sites mean Beijing time
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)


def entry_text(entry: feedparser.FeedParserDict) -> str:
    return entry.get("title", "") + " " + entry.get("summary", "")


def test_every_template_is_served_and_found_next_to_the_module(rendered):
    assert FEEDS_DIR == REPO / "flows" / "demo" / "feeds"
    templates = {feed.template for feed in DEMO_FEEDS}
    assert templates == {p.name for p in FEEDS_DIR.iterdir() if p.is_file()}
    assert set(rendered) == set(EXPECTED_ENTRIES) | {BROKEN}
    for body, content_type in rendered.values():
        assert isinstance(body, bytes) and body
        assert "charset=" in content_type


def test_no_placeholder_survives_rendering(rendered):
    for feed in DEMO_FEEDS:
        text = rendered[feed.path][0].decode(feed.encoding)
        assert "{{" not in text and "}}" not in text, feed.template
        assert "ago:" not in text and "ago_naive:" not in text, feed.template


@pytest.mark.parametrize("path", sorted(EXPECTED_ENTRIES))
def test_feed_parses_cleanly_with_expected_entries(rendered, path):
    parsed = parse(rendered, path)
    assert not parsed.bozo, f"{path}: {parsed.get('bozo_exception')!r}"
    assert len(parsed.entries) == EXPECTED_ENTRIES[path]
    for entry in parsed.entries:
        assert entry.get("title"), path
        assert entry.get("link", "").startswith("http"), path
        assert SECOND - timedelta(days=3) <= entry_time(entry) <= NOW, (path, entry.title)
    ids = [entry.get("id") or entry.link for entry in parsed.entries]
    assert len(set(ids)) == len(ids), f"{path}: duplicate ids"


def test_feed_formats_and_date_styles(rendered):
    versions = {path: parse(rendered, path).version for path in EXPECTED_ENTRIES}
    assert versions == {"/qingchuan_police.xml": "rss20", "/city_news_society.atom": "atom10",
                        WEIBO: "rss20", FORUM: "rss20", "/rdf_district.rdf": "rss10"}
    police = parse(rendered, "/qingchuan_police.xml").entries[0].published
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0800", police)
    weibo = parse(rendered, WEIBO).entries[0].published
    assert weibo.endswith(" GMT")
    atom = parse(rendered, "/city_news_society.atom").entries[0].published
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00", atom)
    rdf = parse(rendered, "/rdf_district.rdf").entries[0].updated
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00", rdf)


def test_broken_feed_is_bozo(rendered):
    parsed = parse(rendered, BROKEN)
    assert parsed.bozo
    assert not rendered[BROKEN][0].rstrip().endswith(b"</rss>")


def test_forum_feed_is_really_gbk(rendered):
    body, content_type = rendered[FORUM]
    assert content_type.endswith("charset=gbk")
    assert body.startswith(b'<?xml version="1.0" encoding="gbk"?>')
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("gbk")
    assert "云溪县论坛" in text and "城关派出所" in text
    assert "堃哥" in text            # GBK but not GB2312: a decoder that guesses GB2312 breaks
    parsed = parse(rendered, FORUM)
    assert parsed.encoding == "gbk"
    assert parsed.feed.title == "云溪县论坛 - 最新帖子"
    assert parsed.entries[1].title == "点赞城关派出所！民警上门给我家老人补办身份证"
    # relative links resolve against the feed's own URL
    assert parsed.entries[0].link == BASE_URL + "/thread/20871"


def test_forum_dates_are_naive_shanghai_time(rendered):
    parsed = parse(rendered, FORUM)
    stamps = [entry.published for entry in parsed.entries]
    assert all(NAIVE.fullmatch(stamp) for stamp in stamps)
    assert entry_time(parsed.entries[0]) == SECOND - timedelta(minutes=40)


def test_burst_is_in_the_last_hour(rendered):
    entries = parse(rendered, WEIBO).entries
    recent = [e for e in entries if entry_time(e) > NOW - timedelta(hours=1)]
    assert len(recent) == 30                       # 25 distinct posts + 5 reposts
    for entry in recent:
        assert SECOND - timedelta(minutes=50) <= entry_time(entry) <= NOW
        assert any(term in entry_text(entry) for term in INCIDENT_TERMS), entry.title
    reposts = [e for e in recent if REPOST_OF in e.summary and not e.title.startswith(REPOST_OF)]
    assert len(reposts) == 5
    originals = [e for e in recent if e not in reposts]
    assert len({e.title for e in originals}) == 25   # distinct posts, not copies
    assert len({e.link for e in recent}) == 30
    texts = " ".join(entry_text(e) for e in recent)
    for risky in ("袭警", "受伤", "暴力执法", "围观", "通报"):
        assert risky in texts, risky


def test_baseline_is_spread_over_the_previous_day(rendered):
    entries = parse(rendered, WEIBO).entries
    baseline = [e for e in entries if entry_time(e) <= NOW - timedelta(hours=1)]
    assert len(baseline) == 30
    assert all(entry_time(e) >= SECOND - timedelta(hours=25) for e in baseline)
    per_hour: dict[int, int] = {}
    for entry in baseline:
        hour = int((NOW - entry_time(entry)).total_seconds() // 3600)
        per_hour[hour] = per_hour.get(hour, 0) + 1
    assert max(per_hour.values()) <= 3
    assert len(per_hour) >= 18


def test_weibo_items_look_like_rsshub(rendered):
    parsed = parse(rendered, WEIBO)
    assert parsed.feed.generator == "RSSHub"
    for entry in parsed.entries:
        assert re.fullmatch(r"https://weibo\.com/\d{10}/\w{9}", entry.link)
        assert entry.get("author")
    assert any("<img" in e.summary for e in parsed.entries)
    assert any("<br" in e.summary for e in parsed.entries)


def test_official_statement_follows_the_burst(rendered):
    statement = parse(rendered, "/qingchuan_police.xml").entries[0]
    assert statement.title.startswith("警情通报") and "临江区滨河路" in statement.title
    assert entry_time(statement) == SECOND - timedelta(minutes=20)


def test_render_needs_an_aware_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        render_demo_feeds(datetime(2026, 11, 26, 15, 30))


def test_demo_sources_point_at_the_served_feeds(rendered):
    sources = demo_sources(BASE_URL + "/")
    assert len(sources) == 7
    assert len({s["id"] for s in sources}) == 7
    paths = {s["url"].removeprefix(BASE_URL) for s in sources}
    assert paths == set(rendered) | {MISSING_PATH}
    assert MISSING_PATH not in rendered
    official = [s["id"] for s in sources if "official" in s["tags"]]
    assert official == ["qingchuan-police"]
    for source in sources:
        config = SourceConfig(**{**source, "tags": tuple(source["tags"])})
        assert config.kind == "feed" and config.poll_minutes == 5 and config.enabled


def test_jurisdictions_cover_the_demo_sources():
    tree = yaml.safe_load((REPO / "config" / "jurisdictions.yaml").read_text(encoding="utf-8"))
    entries = tree["jurisdictions"]
    ids = {j["id"] for j in entries}
    assert len(ids) == len(entries)
    for j in entries:
        parent = j["id"].rpartition(".")[0]
        assert not parent or parent in ids, j["id"]
        assert j["level"] == ("city", "county", "station")[j["id"].count(".")]
        assert j["aliases"]
    assert {s["jurisdiction"] for s in demo_sources(BASE_URL)} <= ids


def test_example_sources_match_the_schema():
    doc = yaml.safe_load((REPO / "config" / "sources.example.yaml").read_text(encoding="utf-8"))
    sources = doc["sources"]
    assert len({s["id"] for s in sources}) == len(sources)
    for source in sources:
        assert source["kind"] in kind_names()
        SourceConfig(**{**source, "tags": tuple(source.get("tags", ()))})
    assert any("official" in s["tags"] for s in sources)
    csv = next(s for s in sources if s["kind"] == "file")
    assert csv["options"]["columns"]["text"] == "内容"
