"""The scan report in headless Chromium: long names stay inside the page.

Needs Debian's chromium at /usr/bin/chromium (install it with
.ci/chromium.sh); Playwright's own browser downloads are never used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from beholder.ingest import load_dataset
from beholder.properties import scan_dataset
from beholder.properties.scan_folder import write_scan_folder
from tests.properties.conftest import save, scene

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="/usr/bin/chromium is not installed; run .ci/chromium.sh",
    ),
]


def test_long_names_stay_inside_page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    root = tmp_path / "data"
    long_class = "c" * 150
    for i in range(3):
        save(root / long_class / f"u{i}.png", scene(400 + i))
    save(root / "short" / ("d" * 180 + ".png"), scene(410))
    save(root / "short" / "copy.png", scene(410))
    (root / "short" / ("z" * 200 + ".png")).write_bytes(b"not an image")
    dataset = load_dataset(root)
    out = write_scan_folder(scan_dataset(dataset, n_jobs=1), dataset, tmp_path / "out")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((out / "report.html").as_uri())
        overflow = page.evaluate(
            "() => Object.fromEntries([...document.querySelectorAll('section')]"
            ".map(s => [s.id, s.scrollWidth - s.clientWidth]))"
        )
        page_width = page.evaluate("document.documentElement.scrollWidth")
        browser.close()

    # Overflow in pixels per section: image cards, duplicate pairs, ledger.
    assert overflow["image-issues"] <= 0, overflow
    assert overflow["duplicates"] <= 0, overflow
    assert overflow["ledger"] <= 0, overflow
    assert page_width <= 1280
