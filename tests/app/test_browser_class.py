"""A class session in a real browser: Debian's Chromium against `lrexplorer app --share --host 127.0.0.1`.
The class link shows the view-only notice and no enabled Start (Train, Tune, Knowledge lab) or Delete (Runs);
the teacher link loses its token from the address at once, and can start a run, stop it and delete it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.browser import browser_page, served
from helpers.run_folders import make_run

pytestmark = pytest.mark.slow

TOKEN = "browser-teacher-token-000000001"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("class")
    make_run(tmp / "runs", "done")
    with served(tmp, ["--share", "--host", "127.0.0.1"], env={"LRX_TEACHER_TOKEN": TOKEN}) as server:
        yield server


def button(page, name: str):
    found = page.get_by_role("button", name=name).first
    found.wait_for(timeout=120_000)
    return found


def sidebar(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()


def test_the_class_link_views_only(classroom):
    url, runs = classroom
    with browser_page() as page:
        page.goto(url + "/train")
        assert button(page, "Start training").is_disabled()
        assert page.get_by_text("View only: this is a class session").first.is_visible()
        page.goto(url + "/tune")
        assert button(page, "Run the range test").is_disabled()
        page.goto(url + "/knowledge")
        assert button(page, "Run the lab").is_disabled()
        page.goto(url + "/runs?run=done")
        assert button(page, "Delete").is_disabled()
        assert page.locator('[data-testid="stException"]').count() == 0
    assert (runs / "done").is_dir()


def test_the_teacher_link_starts_stops_and_deletes(classroom):
    url, runs = classroom
    with browser_page() as page:
        page.goto(f"{url}/train?token={TOKEN}")
        start = button(page, "Start training")
        page.wait_for_function("() => !location.search.includes('token')", timeout=60_000)
        assert "token" not in page.url and page.get_by_text("View only").count() == 0
        start.wait_for(state="visible")
        page.wait_for_function(
            "() => [...document.querySelectorAll('button')].some(b => b.innerText.includes('Start training') "
            "&& !b.disabled)",
            timeout=120_000,
        )
        start.click()
        page.wait_for_function("() => location.search.includes('run=')", timeout=120_000)
        run_id = page.url.split("run=")[1].split("&")[0]
        stop = button(page, "Stop")
        stop.click()
        page.get_by_text("stopped").first.wait_for(timeout=300_000)
        sidebar(page, "Runs")  # within the session: the teacher's role stays
        page.get_by_role("heading", name="Runs").first.wait_for(timeout=60_000)
        button(page, "Delete").click()  # the newest run is the one shown
        button(page, "Yes, delete").click()
        page.get_by_text(f"Deleted {run_id}").first.wait_for(timeout=60_000)
    assert not (runs / run_id).exists() and (runs / "done").is_dir()
