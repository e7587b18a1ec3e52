"""Shared pieces for collector tests: recorded feeds, a fast polite client, source factories."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from collectors.http import HttpPolicy, PoliteClient
from collectors.records import SourceConfig

FEEDS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"

# Small timeouts and waits keep the suite fast; the behaviour tested is the same.
FAST_POLICY = HttpPolicy(connect_timeout_s=1.0, read_timeout_s=1.0, per_host_delay_s=0.0,
                         retries=2, backoff_s=0.01)


@pytest.fixture
def recorded_feed() -> Callable[[str], bytes]:
    """Bytes of a recorded feed in tests/fixtures/feeds."""
    def read(name: str) -> bytes:
        return (FEEDS_DIR / name).read_bytes()
    return read


@pytest.fixture
def client() -> Iterator[PoliteClient]:
    with PoliteClient(FAST_POLICY) as polite:
        yield polite


@pytest.fixture
def feed_source() -> Callable[..., SourceConfig]:
    """A feed SourceConfig for a URL, as sources.yaml would produce it."""
    def make(url: str, source_id: str = "pingan-jiangcheng") -> SourceConfig:
        return SourceConfig(id=source_id, name="平安江城", kind="feed", url=url)
    return make
