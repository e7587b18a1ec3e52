"""The browser harness itself: Debian's Chromium runs headless, scripts run, CJK text renders."""
from __future__ import annotations

from PIL import Image


def test_phone_page_runs_script_and_screenshots(phone_page, screenshot) -> None:
    phone_page.set_content("""<!doctype html><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <h1 id="t">待签收</h1><button onclick="t.textContent='已签收'">签收</button>""")
    assert phone_page.evaluate("window.innerWidth") == 375
    phone_page.get_by_role("button", name="签收").tap()
    assert phone_page.locator("#t").inner_text() == "已签收"
    path = screenshot(phone_page, "harness")
    with Image.open(path) as image:
        assert image.size[0] == 750  # 375 CSS px at device scale 2


def test_cjk_glyphs_are_not_tofu(page) -> None:
    """Chinese text gets real glyphs (fonts-noto-cjk): different characters, different widths."""
    page.set_content('<meta charset="utf-8"><span id="a" style="font-size:40px">警</span>'
                     '<span id="b" style="font-size:40px">舆</span>')
    shots = [page.locator(sel).screenshot() for sel in ("#a", "#b")]
    assert shots[0] != shots[1]
