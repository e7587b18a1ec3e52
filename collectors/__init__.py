"""Collectors: fetch public posts and feeds into RawPost records (knows HTTP and files, not SQL).

`fetch` is the base collector (collectors.base); each kind of source is one module below,
registered by importing it.
"""
from __future__ import annotations

from collectors import (  # noqa: F401  (registers the kinds)
    feeds, files, html, json_api, mediacrawler, weibo_crawler)
from collectors.base import collect as fetch

__all__ = ["fetch"]
