"""Every page keeps what the user set, in a real browser: Debian's Chromium driven by Playwright against
`lrexplorer app`. A value set on each page survives a round trip through every other page, the browser's
Back and Forward, and a reload; each Guide link presets its page every time it is clicked, not only the
first; two tabs keep their own presets; no label of a field is broken mid-word or cut. The address always
names the view. No traceback (stException) at any point."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers.run_folders import make_run

from lrexplorer.app.pages import PAGES
from lrexplorer.guide import LESSONS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from live_latency import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402 - bench/ is not a package

SIDEBAR = {key: page.title for key, page in PAGES.items()}  # the menu's labels
# A value set on each page: (the input's label, the value typed, the query parameter and text it writes).
PROBES = {
    "schedules": ("learning_rate", "0.002", "lr", "0.002"),
    "memory": ("max_length", "700", "max_length", "700"),
    "train": ("learning_rate", "0.001", "learning_rate", "0.001"),
    "tune": ("num_steps", "50", "num_steps", "50"),
    "knowledge": ("seeds", "2", "seeds", "2"),
    "guide": ("Search the guide", "warmup", "search", "warmup"),
}
# A field label that breaks mid-word, or is cut with an ellipsis (labels without a space only: a sentence
# may wrap between its words).
BROKEN_LABELS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('[data-testid="stWidgetLabel"]')) {
    const p = el.querySelector('p') || el;
    const text = p.innerText.trim();
    if (!text || /\\s/.test(text) || p.offsetParent === null) continue;
    const range = document.createRange();
    range.selectNodeContents(p);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    if (lines.size > 1 || p.scrollWidth > p.clientWidth + 1) bad.push(text);
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[str]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("pages")
    make_run(tmp / "runs", "alpha")  # the Runs page has a run to compare
    proc, url = start_server(tmp / "runs", tmp / "locks", tmp / "server.log")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


IDLE = (
    "() => { const a = document.querySelector('[data-testid=\"stApp\"]');"
    " return a && a.getAttribute('data-test-script-state') === 'notRunning' && !!document.querySelector('h1'); }"
)


def settle(page) -> None:
    """Wait for the app's script to finish (twice, a moment apart: a run may start just after the check), and
    for an address written in place after it."""
    for _ in range(2):
        page.wait_for_timeout(300)
        page.wait_for_function(IDLE, timeout=120_000)
    page.wait_for_timeout(400)
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, shown.first.inner_text()


def address(page) -> tuple[str, dict[str, str]]:
    parts = urlsplit(page.evaluate("location.href"))
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def field(page, label: str):
    role = "textbox" if label == "Search the guide" else "spinbutton"
    box = page.get_by_role(role, name=label).first
    box.wait_for(timeout=120_000)
    return box


def set_value(page, label: str, text: str) -> None:
    box = field(page, label)
    box.fill(text)
    box.press("Enter")
    settle(page)


def side(page, key: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(SIDEBAR[key], exact=True).click()
    page.wait_for_function("(key) => location.pathname.endsWith('/' + key)", arg=key, timeout=60_000)
    settle(page)


def check_probe(page, key: str, where: str) -> None:
    label, text, param, written = PROBES[key]
    shown = field(page, label).input_value()
    if label == "Search the guide":
        assert shown == text, (key, where, shown)
    else:
        assert float(shown) == float(text), (key, where, shown)
    path, query = address(page)
    assert path.endswith("/" + key) and query.get(param) == written, (key, where, path, query)


def test_every_value_survives_round_trips_back_forward_and_reload(browser, app):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app + "/runs?compare=alpha")
    settle(page)
    compared = page.locator('[data-testid="stMultiSelect"]', has_text="Runs to compare")
    assert "alpha" in compared.inner_text()
    for key, (label, text, _, _) in PROBES.items():  # one value on each page, reached from the sidebar
        side(page, key)
        set_value(page, label, text)
        check_probe(page, key, "just set")
        if key == "train":  # the Train form keeps its other values too (not zeroed, no error)
            assert field(page, "max_length").input_value() == "128"
    for key in [*PROBES, "runs"]:  # a round trip through every other page, then back
        side(page, key)
        if key == "runs":
            assert "alpha" in compared.inner_text() and address(page)[1].get("compare") == "alpha"
            continue
        check_probe(page, key, "after a round trip")
        if key == "train":
            assert field(page, "max_length").input_value() == "128"
            assert page.locator('[data-testid="stAlert"]', has_text="must be").count() == 0
    visited = [*PROBES, "runs"]
    for key in reversed(visited[:-1]):  # Back through the round trip: every entry shows its value
        page.go_back()
        page.wait_for_function("(key) => location.pathname.endsWith('/' + key)", arg=key, timeout=60_000)
        settle(page)
        check_probe(page, key, "after Back")
    for key in visited[1:-1]:
        page.go_forward()
        page.wait_for_function("(key) => location.pathname.endsWith('/' + key)", arg=key, timeout=60_000)
        settle(page)
        check_probe(page, key, "after Forward")
    page.reload()
    settle(page)
    check_probe(page, visited[-2], "after a reload")
    page.close()


def lesson_links(page) -> list[tuple[str, str]]:
    """(label, href) of the page links in the lesson on screen (the sidebar's are not in the main area)."""
    links = page.locator('[data-testid="stPageLink"] a')
    links.first.wait_for(timeout=120_000)  # a lesson with a torch demonstration draws its link after it
    settle(page)
    return [(a.inner_text().strip(), a.get_attribute("href")) for a in links.all()]


# What a link's target shows of its query: (query key, the input that shows it).
SHOWN = {
    "schedules": ("lr", "learning_rate"),
    "memory": ("max_length", "max_length"),
    "knowledge": ("seeds", "seeds"),
    "train": (None, None),  # the link's first field
}


def follow(page, href: str) -> tuple[str, dict[str, str]]:
    page.locator(f'[data-testid="stPageLink"] a[href="{href}"]').first.click()
    page.wait_for_function("() => !location.pathname.endsWith('/guide')", timeout=60_000)
    settle(page)
    return address(page)


def number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def doubled(text: str) -> str:
    return str(int(text) * 2) if text.isdigit() else repr(float(text) * 2)


@pytest.mark.parametrize("lesson", [lesson.id for lesson in LESSONS])
def test_each_guide_link_presets_its_page_every_time(browser, app, lesson):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{app}/guide?lesson={lesson}")
    settle(page)
    links = lesson_links(page)
    assert links, lesson
    for label, href in links:
        linked = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
        for attempt in ("first", "second"):
            path, query = follow(page, href)
            key = path.rsplit("/", 1)[-1]
            assert query == linked, (label, attempt, query)
            if not linked:  # a link naming no setting: the page opens with its own values
                side(page, "guide")
                continue
            param, input_label = SHOWN[key]
            if param is None:  # a Train link: its first numeric field
                param = next(k for k, v in linked.items() if number(v))
                input_label = param
            assert float(field(page, input_label).input_value()) == float(linked[param]), (label, attempt)
            if attempt == "first":  # change it, so the second click must apply the link again
                set_value(page, input_label, doubled(linked[param]))
                assert address(page)[1][param] != linked[param]
                if key == "schedules":  # Forward to the preset address shows the preset, too
                    page.go_back()
                    settle(page)
                    assert float(field(page, input_label).input_value()) == float(linked[param])
                    page.go_forward()
                    settle(page)
            side(page, "guide")
            assert address(page)[1].get("lesson") == lesson
    page.close()


def test_two_tabs_keep_their_own_presets(browser, app):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    first, second = context.new_page(), context.new_page()
    first.goto(app + "/schedules?schedule=OneCycleLR&lr=0.001")
    second.goto(app + "/schedules?schedule=cosine&lr=0.003")
    settle(first)
    settle(second)
    for tab in (first, second):  # /schedules is the Schedules page itself, not "Page not found"
        assert tab.get_by_text("Page not found").count() == 0 and address(tab)[0] == "/schedules"
    set_value(first, "learning_rate", "0.002")
    for tab, lr, schedule in ((second, "0.003", "cosine"), (first, "0.002", "OneCycleLR")):
        tab.reload()
        settle(tab)
        assert float(field(tab, "learning_rate").input_value()) == float(lr)
        assert address(tab)[1] == {"schedule": schedule, "lr": lr}
    context.close()


@pytest.mark.parametrize("where", ["/train", "/memory?use_peft=true&load_in_4bit=true", "/tune", "/knowledge"])
def test_no_field_label_is_broken_mid_word_or_cut(browser, app, where):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app + where)
    settle(page)
    # Open every section of the form (a closed one's labels have no width to measure).
    page.evaluate(
        "() => document.querySelectorAll('[data-testid=\"stExpander\"] details:not([open]) > summary')"
        ".forEach(s => s.click())"
    )
    settle(page)
    assert page.evaluate(BROKEN_LABELS) == []
    page.close()
