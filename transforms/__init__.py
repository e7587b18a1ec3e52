"""Transforms: clean, segment, score and classify posts (pure functions, no I/O)."""
