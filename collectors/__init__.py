"""Collectors: fetch public posts and feeds into RawPost records (knows HTTP and files, not SQL).

`fetch` is the base collector (collectors.base); each kind of source is one module below,
registered by importing it.
"""
from __future__ import annotations

from collectors import feeds, files  # noqa: F401  (registers the kinds)
from collectors.base import collect as fetch

__all__ = ["fetch"]
