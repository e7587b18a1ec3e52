"""Browser fixtures: a real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Loaded for every test by ``pytest_plugins`` in tests/conftest.py. Playwright never downloads
a browser of its own here: it is pointed at the system Chromium that scripts/setup.sh installs
(``apt-get install chromium chromium-driver fonts-noto-cjk``). Without it the browser tests
skip on a developer's machine and fail under CI=true, where they must run.

Screenshots go to ``test-artifacts/`` at the repository root (or $JINGYU_TEST_ARTIFACTS), one
file per name, so a run leaves pictures of the pages to look at.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("JINGYU_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("JINGYU_TEST_ARTIFACTS",
                                Path(__file__).resolve().parent.parent / "test-artifacts"))
DESK = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 667}  # iPhone 6/7/8 portrait, the phone size


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per test module (a launch costs about a second).

    Not per session: Playwright's sync API keeps an asyncio loop current while it runs, and
    Prefect's sync calls made under it (state.result() in the flow tests that follow) would
    return coroutines instead of results. Closed at the end of the module, it leaves none."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (fix: bash scripts/setup.sh)")
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} not found (fix, as root: apt-get install chromium "
                     "chromium-driver fonts-noto-cjk, or run bash scripts/setup.sh)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser, viewport: dict, mobile: bool) -> Iterator[object]:
    context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                  device_scale_factor=2 if mobile else 1, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh desk-sized page (1366x900) with its own cookies."""
    yield from _page(browser, DESK, mobile=False)


@pytest.fixture
def phone_page(browser) -> Iterator[object]:
    """A fresh phone page: 375x667, touch, zh-CN, Beijing time, its own cookies."""
    yield from _page(browser, PHONE, mobile=True)


@pytest.fixture
def screenshot(request) -> Callable[..., Path]:
    """screenshot(page, "name") saves test-artifacts/<test>-<name>.png (full page) and returns it."""
    def take(page, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.name}-{name}")
        path = ARTIFACTS / f"{stem}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path
    return take
