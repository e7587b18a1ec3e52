"""Bundled demo data for `jingyu demo`: sample feeds of a fictional city and their sources."""
