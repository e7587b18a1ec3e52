"""Fixtures of the console tests (tests/console/harness.py)."""
from tests.console.harness import console, serve  # noqa: F401
