"""Collectors: fetch public posts and feeds into RawPost records (knows HTTP and files, not SQL)."""
