"""The Train page in a real browser: Debian's Chromium driven by Playwright against `streamlit run
app.py` on a free local port. Start the default run, watch the loss chart gain points, stop it,
reload, and find the same run with its chart; resume it and watch the page switch to running and then
to finished by itself; walk the sidebar and check the address names the page on screen. No traceback
(stException) at any point. LRX_SCREENSHOTS=DIR saves a screenshot of each state there."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.browser import browser_page, served

from lrexplorer.runs.folder import store

pytestmark = pytest.mark.slow

# Points of the first trace of the chart titled `title` (Plotly keeps `data` and `layout` on the graph's div).
CHART_POINTS = """(title) => {
  for (const div of document.querySelectorAll('.js-plotly-plot')) {
    const t = div.layout && div.layout.title && div.layout.title.text;
    // Streamlit's theme wraps titles in <b>.
    if (!t || t.replace(/<[^>]+>/g, '') !== title) continue;
    const x = div.data[0].x;
    if (!x) return 0;
    if (x.length !== undefined) return x.length;
    // Plotly 6 sends numpy arrays as base64 typed arrays: {dtype: 'f8', bdata: '...'}.
    return atob(x.bdata).length / parseInt(x.dtype.slice(1));
  }
  return -1;
}"""


# Where the chart titled `title` begins, in pixels from the window's top (negative: scrolled above it).
CHART_TOP = """(title) => {
  for (const div of document.querySelectorAll('.js-plotly-plot')) {
    const t = div.layout && div.layout.title && div.layout.title.text;
    if (t && t.replace(/<[^>]+>/g, '') === title) return div.getBoundingClientRect().top;
  }
  return null;
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A Streamlit server of this checkout with its own runs and lock folders; yields (url, runs dir)."""
    with served(tmp_path_factory.mktemp("browser")) as server:
        yield server


def no_traceback(page) -> None:
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, shown.first.inner_text()


def points(page, title: str = "Loss") -> int:
    return int(page.evaluate(CHART_POINTS, title))


def wait_points(page, at_least: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        n = points(page)
        if n >= at_least:
            return n
        no_traceback(page)
        page.wait_for_timeout(250)
    raise AssertionError(f"the loss chart did not reach {at_least} points (has {points(page)})")


def wait_terminal(run: Path, timeout_s: float) -> dict:
    """The run's status once it has ended (or the last one read, when it has not within the time)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = store.read_status(run)
        if status.get("state") in store.FINAL_STATES or time.monotonic() > deadline:
            return status
        time.sleep(1.0)


def shot(page, name: str) -> None:
    folder = os.environ.get("LRX_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def address(page) -> str:
    # The browser's own location: Playwright's page.url follows same-document navigations only when its
    # events are processed, so after a pause it can name the previous page.
    return page.evaluate("location.pathname + location.search")


def test_start_watch_stop_reload(app):
    url, runs = app
    with browser_page() as page:
        # A deep link as the very first request of a fresh server must still run app.py (navigation,
        # hardware sidebar). A folder named pages/ would make Streamlit run the page on its own.
        page.goto(url + "/train")
        start = page.get_by_role("button", name="Start training")
        start.wait_for(timeout=60_000)
        page.get_by_text("This machine").first.wait_for(timeout=10_000)
        no_traceback(page)
        start.click()
        page.wait_for_url("**/train?run=*", timeout=60_000)
        run_id = page.url.split("run=")[1]
        assert (runs / run_id / store.STATUS).is_file()
        first = wait_points(page, 1, timeout_s=180)
        second = wait_points(page, first + 1, timeout_s=120)
        assert second > first, "the loss chart gains points while the run trains"
        shot(page, "train-running")
        page.get_by_role("button", name="Stop").click()
        # The coloured box of the finished view (the collapsed log holds the same words, hidden).
        stopped = page.locator('[data-testid="stAlert"]', has_text="stopped on request")
        stopped.wait_for(timeout=120_000)
        no_traceback(page)
        assert store.read_status(runs / run_id)["state"] == "stopped"
        shown = points(page)
        page.reload()
        page.get_by_text(f"Run {run_id}").first.wait_for(timeout=60_000)
        assert wait_points(page, shown, timeout_s=30) >= shown, "after a reload the same run shows its chart"
        stopped.wait_for(timeout=30_000)
        no_traceback(page)
        page.wait_for_timeout(2000)  # a page that sticks to its bottom scrolls there after drawing
        assert page.evaluate(CHART_TOP, "Loss") >= 0, "the ended run opens at its top, the loss chart whole"
        shot(page, "train-stopped")
        # Resume: with no reload, the page must follow the run through running to its end.
        page.get_by_role("button", name="Resume from the last checkpoint").click()
        page.get_by_role("button", name="Stop").wait_for(timeout=60_000)
        shot(page, "train-resumed")
        # The run first (its own pace on a loaded machine), then the page, which must follow it.
        status = wait_terminal(runs / run_id, timeout_s=600)
        assert status["state"] == "completed", status
        page.locator('[data-testid="stAlert"]', has_text="model and tokenizer in").wait_for(timeout=60_000)
        assert page.get_by_role("button", name="Resume from the last checkpoint").count() == 0
        no_traceback(page)
        shot(page, "train-finished")
        walk_the_sidebar(page)


EXPECTED = {
    "Runs": "/runs",
    "Guide": "/guide?lesson=",
    "Train": "/train",
    "Schedules": "/schedules",
    "Memory": "/memory",
}


def on_page(page, name: str) -> None:
    """Wait for page `name` on screen and its address (the Guide's with its lesson); no late rewrite."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    want = EXPECTED[name]
    try:
        page.wait_for_function(
            "(want) => want.endsWith('=') ? (location.pathname + location.search).startsWith(want) "
            ": location.pathname + location.search === want",
            arg=want,
            timeout=60_000,
        )
    except PlaywrightTimeout:
        raise AssertionError(f"{name}: the address stayed {address(page)!r}, not {want!r}") from None
    page.get_by_role("heading", name=name if name != "Schedules" else "Learning-rate schedules").first.wait_for(
        timeout=60_000
    )
    page.wait_for_timeout(1000)  # a late rewrite of the address would land here
    now = address(page)
    assert now.startswith(want) if want.endswith("=") else now == want, (name, now)
    no_traceback(page)


def walk_the_sidebar(page) -> None:
    """Each sidebar click leaves the address naming the page on screen (the Guide with its lesson), and
    opening the Guide adds one history entry: Back returns to the page before it, Forward to the Guide."""
    previous = None
    for name in ("Runs", "Guide", "Train", "Schedules", "Guide", "Memory", "Runs"):
        page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
        on_page(page, name)
        if name == "Guide" and previous is not None:
            page.go_back()
            on_page(page, previous)
            page.go_forward()
            on_page(page, name)
        if name == "Runs":
            shot(page, "runs")
        previous = name


def test_use_this_lr_opens_train_with_the_suggestion(app):
    from helpers.run_folders import finished_range_test

    url, runs = app
    result = finished_range_test(runs)
    valley = result["suggestions"]["valley"]
    with browser_page() as page:
        page.goto(url + "/tune?lrfind=lr-range-test-1")
        use = page.get_by_role("link", name="Use this LR").first
        use.wait_for(timeout=120_000)  # the Tune page's first visit loads optuna: slow on a busy machine
        use.click()
        page.wait_for_url("**/train*", timeout=30_000)
        field = page.get_by_role("spinbutton", name="learning_rate")
        field.wait_for(timeout=30_000)
        assert float(field.input_value()) == float(f"{valley:.3g}")  # rounded as the page shows it
        no_traceback(page)
        page.go_back()  # the range test's result is still there
        page.get_by_role("link", name="Use this LR").first.wait_for(timeout=60_000)
        assert address(page).startswith("/tune?lrfind=lr-range-test-1")
        no_traceback(page)
