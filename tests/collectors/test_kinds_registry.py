"""Kinds are declared: a kind registers itself; sources.yaml validation, the base collector and
the options reference (docs/sources.md) all follow from its declaration."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from collectors import fetch, kinds
from collectors.http import PoliteClient
from collectors.kinds import (FollowPage, HttpKind, Item, KindOptions, Page, Parsed, kind_names)
from collectors.records import FETCH_OK, SourceConfig, SourceCursor
from collectors.reference import sources_reference
from collectors.replay import FeedReplayServer, Route
from collectors.sources import parse_sources
from jingyu.config import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sources.md"


class LinesOptions(KindOptions):
    prefix: str = Field("", description="only lines starting with this")


class Lines(HttpKind):
    """A toy kind: one post per line of a text page."""

    name = "lines"
    summary = "a plain-text page, one post per line"
    url_means = "the page's address"
    Options = LinesOptions

    def parse(self, page: Page, source: SourceConfig, follow: FollowPage) -> Parsed:
        prefix = self.options(source).prefix
        return Parsed([Item(title="", body=line) for line in page.text.splitlines()
                       if line.startswith(prefix)])


@pytest.fixture
def lines_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(kinds._KINDS, "lines", Lines())


def test_docs_reference_is_generated_from_the_schemas() -> None:
    assert DOCS.read_text(encoding="utf-8") == sources_reference(), \
        "run: python -m collectors.reference > docs/sources.md"
    for name in kind_names():
        assert f"## kind: {name}" in DOCS.read_text(encoding="utf-8")


def test_a_registered_kind_is_validated_collected_and_documented(
        lines_kind: None, client: PoliteClient) -> None:
    assert "## kind: lines" in sources_reference()
    assert "| `prefix` | text |" in sources_reference()
    with pytest.raises(ConfigError) as raised:
        parse_sources({"sources": [{"id": "l", "name": "L", "kind": "lines",
                                    "url": "http://127.0.0.1/x", "options": {"prefx": "警"}}]},
                      "sources.yaml")
    assert str(raised.value) == ("sources.yaml: sources[0].options.prefx: unknown field "
                                 "(fix: did you mean 'prefix'? use only prefix)")

    with FeedReplayServer({"/x": Route("警情一\n天气\n警情二\x00\n".encode(),
                                       content_type="text/plain")}) as srv:
        (source,) = parse_sources({"sources": [{"id": "l", "name": "L", "kind": "lines",
                                                "url": srv.url("/x"),
                                                "options": {"prefix": "警"}}]}, "sources.yaml")
        first = fetch(source, SourceCursor(), client)
        again = fetch(source, first.cursor, client)

    assert first.status == FETCH_OK
    assert [post.body for post in first.posts] == ["警情一", "警情二"]
    assert again.status == "not_modified"
