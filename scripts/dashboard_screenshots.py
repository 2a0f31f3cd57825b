"""Screenshots of a running dashboard's Now and History pages, with Debian's Chromium.

    python scripts/dashboard_screenshots.py URL TOKEN OUT_DIR

Signs in with TOKEN at URL, waits for each page's chart to be drawn, and writes
now.png and history.png (full pages) to OUT_DIR.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main(url: str, token: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(base_url=url, viewport={"width": 1400, "height": 900})
        page.goto("/signin")
        page.fill("#token", token)
        page.click("#signin")
        page.wait_for_url("**/now")
        for name, chart in (("now", "#now-chart"), ("history", "#months-chart")):
            page.goto(f"/{name}")
            page.wait_for_selector(f"{chart} .main-svg")
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
