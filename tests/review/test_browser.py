"""The review app in headless Chromium, driven with the keyboard.

Needs Debian's chromium at /usr/bin/chromium (install it with
.ci/chromium.sh); Playwright's own browser downloads are never used. With
BEHOLDER_SCREENSHOTS=DIR set, each screen is saved as DIR/NAME.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from beholder.review.app import create_app
from beholder.review.journal import journal_table
from beholder.review.synthetic import write_synthetic_run
from beholder.store import RunStore, create_engine

from .conftest import NASTY_LABEL, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="/usr/bin/chromium is not installed; run .ci/chromium.sh",
    ),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshot_template(tmp_path_factory):
    """A larger synthetic run, so queues and screenshots look like real work."""
    folder = tmp_path_factory.mktemp("browser") / "digits-review"
    return write_synthetic_run(folder, n_images=120, seed=4, splits=True)


@pytest.fixture
def screenshot_run(screenshot_template, tmp_path):
    target = tmp_path / "digits-review"
    ignore = shutil.ignore_patterns("data", "thumbs")
    shutil.copytree(screenshot_template, target, ignore=ignore)
    return target


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


@pytest.fixture
def shoot(tmp_path):
    folder = Path(os.environ.get("BEHOLDER_SCREENSHOTS") or tmp_path / "screens")
    folder.mkdir(parents=True, exist_ok=True)

    def save(page, name, *, full_page=True):
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)

    return save


def journal_rows(run_dir) -> list[dict]:
    engine = create_engine(f"sqlite:///{run_dir / 'beholder.db'}")
    query = sa.select(journal_table).order_by(journal_table.c.decision_id)
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    engine.dispose()
    return rows


def wait_saved(page, n_acknowledged):
    from playwright.sync_api import expect

    status = page.locator("#save-status")
    expect(status).to_have_attribute("data-acknowledged", str(n_acknowledged))
    expect(status).to_have_attribute("data-pending", "0")


def queue_items(server, queue_id):
    import httpx

    return httpx.get(f"{server.url}/api/queues/{queue_id}").json()["items"]


def image_record(server, image_id):
    import httpx

    return httpx.get(f"{server.url}/api/images/{image_id}").json()


def test_keyboard_review_relabel_undo(page, screenshot_run, live_app, shoot):
    from playwright.sync_api import expect

    server = live_app(create_app(screenshot_run))
    items = queue_items(server, "issues")
    assert len(items) >= 5
    ids = [item["image_id"] for item in items]
    records = {i: image_record(server, i) for i in ids[:5]}
    target = next(
        c for c in ("three", "five", "eight") if c != records[ids[1]]["given"]
    )

    page.goto(server.url + "/")
    page.fill("#reviewer", "alice")
    page.press("#reviewer", "Enter")
    shoot(page, "queues")
    page.goto(server.url + "/queues/pair-0")
    shoot(page, "queue-pair")

    page.goto(server.url + "/review/issues")
    expect(page.locator("#given")).to_have_text(records[ids[0]]["given"])
    expect(page.locator("#position")).to_have_text(f"1 / {len(ids)}")
    expect(page.locator("#neighbours img").first).to_be_visible()
    shoot(page, "review", full_page=False)

    page.keyboard.press("k")
    wait_saved(page, 1)
    expect(page.locator("#position")).to_have_text(f"2 / {len(ids)}")
    page.keyboard.press("r")
    expect(page.locator("#relabel")).to_be_visible()
    page.keyboard.type(target[:3])
    expect(page.locator("#relabel-options li.selected")).to_have_text(target)
    shoot(page, "relabel", full_page=False)
    page.keyboard.press("Enter")
    wait_saved(page, 2)
    page.keyboard.press("s")
    wait_saved(page, 3)
    page.keyboard.press("c")
    page.keyboard.type("smudged, could be either")
    page.keyboard.press("Enter")
    page.keyboard.press("a")
    wait_saved(page, 4)
    page.keyboard.press("x")
    wait_saved(page, 5)
    expect(page.locator("#position")).to_have_text(f"6 / {len(ids)}")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#position")).to_have_text(f"5 / {len(ids)}")
    expect(page.locator("#current .badge")).to_have_text("remove")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("u")
    wait_saved(page, 6)
    expect(page.locator("#position")).to_have_text(f"5 / {len(ids)}")
    expect(page.locator("#current .badge")).to_have_text("not decided yet")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    shoot(page, "help", full_page=False)
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()

    rows = journal_rows(screenshot_run)
    assert [row["action"] for row in rows] == [
        "keep", "relabel", "relabel", "ambiguous", "remove", "undo",
    ]  # fmt: skip
    assert [row["image_id"] for row in rows[:5]] == ids[:5]
    assert all(row["reviewer"] == "alice" for row in rows)
    assert all(row["queue"] == "issues" for row in rows)
    assert rows[1]["new_label"] == target
    assert rows[2]["new_label"] == records[ids[2]]["issue"]["suggested"]
    assert rows[3]["note"] == "smudged, could be either"
    assert rows[5]["undoes"] == rows[4]["decision_id"]
    assert page.dialogs == []

    page.goto(server.url + "/journal")
    expect(page.locator("table.journal tbody tr")).to_have_count(6)
    shoot(page, "journal")


def test_blind_mode_measures_agreement(page, screenshot_run, live_app, shoot):
    from playwright.sync_api import expect

    server = live_app(create_app(screenshot_run))
    items = queue_items(server, "random?seed=1&n=8")
    records = [image_record(server, item["image_id"]) for item in items[:4]]
    wrong = next(c for c in ("three", "five", "eight") if c != records[1]["given"])

    page.goto(server.url + "/review/random?mode=blind&seed=1&n=8")
    page.fill("#reviewer", "bo")
    page.press("#reviewer", "Enter")
    expect(page.locator("#position")).to_have_text("1 / 8")
    shoot(page, "blind", full_page=False)
    body = page.inner_text("body")
    assert records[0]["relpath"] not in body
    assert page.locator("#given").count() == 0

    page.focus("#blind-input")
    page.keyboard.type(records[0]["given"])
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    page.keyboard.type(wrong)
    page.keyboard.press("Enter")
    wait_saved(page, 2)
    page.keyboard.press("Shift+Enter")
    wait_saved(page, 3)
    page.keyboard.press("Control+z")
    wait_saved(page, 4)
    expect(page.locator("#position")).to_have_text("3 / 8")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#blind-answer")).to_have_text(f"Your answer: {wrong}")

    rows = journal_rows(screenshot_run)
    assert [row["action"] for row in rows] == ["blind", "blind", "blind", "undo"]
    assert [row["new_label"] for row in rows[:2]] == [records[0]["given"], wrong]
    assert rows[2]["new_label"] is None
    relabel = [item["image_id"] for item in queue_items(server, "relabel")]
    assert items[1]["image_id"] in relabel
    assert items[2]["image_id"] not in relabel

    page.goto(server.url + "/agreement")
    expect(page.locator("#per-class tbody tr").first).to_be_visible()
    assert "2" in page.locator(".summary .stat").first.inner_text()
    shoot(page, "agreement")


def test_export_button_writes_export(page, run_dir, live_app):
    from playwright.sync_api import expect

    server = live_app(create_app(run_dir))
    page.goto(server.url + "/review/issues")
    first = queue_items(server, "issues")[0]["image_id"]
    expect(page.locator("#given")).not_to_have_text("\u2014")
    page.keyboard.press("x")
    wait_saved(page, 1)

    page.goto(server.url + "/")
    page.click("#export-links")
    expect(page.locator("#export-result")).to_have_attribute("data-done", "1")

    manifest = pd.read_csv(run_dir / "export" / "manifest.csv")
    removed = pd.read_csv(run_dir / "export" / "removed.csv")
    assert first not in set(manifest["image_id"])
    assert removed["image_id"].tolist() == [first]
    n_images = len(RunStore.open(run_dir).read_table("images"))
    links = [p for p in (run_dir / "export" / "images").rglob("*") if p.is_symlink()]
    assert len(links) == n_images - 1


def test_unsaved_decisions_survive_server_restart(page, run_dir):
    from playwright.sync_api import expect

    first = LiveServer(create_app(run_dir)).__enter__()
    port = first.port
    page.goto(first.url + "/review/issues")
    expect(page.locator("#given")).not_to_have_text("\u2014")
    first.__exit__(None, None, None)

    page.keyboard.press("k")
    expect(page.locator("#save-status")).to_have_class("save-status error")
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "1")
    second = LiveServer(create_app(run_dir), port=port).__enter__()
    try:
        wait_saved(page, 1)
    finally:
        second.__exit__(None, None, None)

    rows = journal_rows(run_dir)
    assert [row["action"] for row in rows] == ["keep"]


def test_labels_and_names_stay_text(page, nasty_run_dir, live_app):
    from playwright.sync_api import expect

    server = live_app(create_app(nasty_run_dir))
    for path in ("/", "/queues/issues", "/queues/random?n=24", "/agreement"):
        page.goto(server.url + path)
    page.goto(server.url + "/review/random?n=24&seed=0")
    expect(page.locator("#position")).to_have_text("1 / 24")
    page.keyboard.press("r")
    page.keyboard.type("<scr")
    expect(page.locator("#relabel-options li.selected")).to_have_text(NASTY_LABEL)
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    page.goto(server.url + "/journal")
    expect(page.locator("table.journal tbody tr td").nth(7)).to_have_text(NASTY_LABEL)

    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    rows = journal_rows(nasty_run_dir)
    assert rows[0]["new_label"] == NASTY_LABEL
