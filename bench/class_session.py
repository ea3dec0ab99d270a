"""A class session under the stall cases: can one browser session stall the others?

    python bench/class_session.py

Starts `lrexplorer app --share --host 127.0.0.1` (a known teacher token) over a runs folder holding one
finished built-in run, then, in headless Chromium:

1. the Tune page with a search space of 10^9 corners (nine fields of ten values), for each sampler: seconds
   until the page has answered (the planned corners, or the grid's refusal) and the server's memory;
2. a 200 KB chat prompt sent to the run's model from the teacher's session, while a second (view-only)
   session reloads the Runs page over and over: seconds until the (cut) reply is shown, and how long the
   other session's page took to render, before and during the chat.

Prints one table per part. Targets (issue 21): each Tune page within 5 s and under 1 GB; the chat answered
within 30 s while the other session's page stays responsive.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]  # the stall case's space lives with the tests
from helpers.sweep_spaces import BILLION_CORNERS, space_yaml
from live_latency import CHROMIUM, CHROMIUM_ARGS, start_server

TOKEN = "bench-teacher-token-0123456789"
SPACE = space_yaml(BILLION_CORNERS)  # nine fields of ten values: 10**9 corners


def train_run(runs: Path, env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "lrexplorer", "train", "--max_steps", "4", "--run_id", "chat"]
    subprocess.run(cmd, cwd=runs.parent, env=env, check=True, capture_output=True)


class PeakMemory:
    """The server's resident memory, sampled every 50 ms from another thread; `peak` in bytes."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tune_pages(browser, url: str, pid: int) -> list[tuple[str, float, float, str]]:
    out = []
    for sampler in ("random", "tpe", "grid"):
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(f"{url}/tune?token={TOKEN}")
        area = page.get_by_label("Search space (YAML)")
        area.wait_for(timeout=120_000)
        page.get_by_label("sampler").click()
        page.get_by_role("option", name=sampler, exact=True).click()
        with PeakMemory(pid) as memory:
            start = time.monotonic()
            area.fill(SPACE)
            area.blur()
            answer = page.get_by_text("corners").or_(page.get_by_text("combinations")).first
            answer.wait_for(timeout=300_000)
            page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=300_000)
            seconds = time.monotonic() - start
        shown = answer.inner_text().splitlines()[0][:90]
        out.append((sampler, seconds, memory.peak / 2**30, shown))
        page.context.close()
    return out


def runs_page_seconds(browser, url: str, until: threading.Event, samples: list[float]) -> None:
    """A view-only session loading the Runs page again and again until `until` is set."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    while not until.is_set():
        start = time.monotonic()
        page.goto(f"{url}/runs")
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=120_000)
        samples.append(time.monotonic() - start)
    page.context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="lrx-class-"))
    runs = tmp / "runs"
    runs.mkdir()
    train_run(runs, dict(os.environ, LRX_RUNS_DIR=str(runs), LRX_LOCK_DIR=str(tmp / "locks"), HF_HUB_OFFLINE="1"))
    share = ["--share", "--host", "127.0.0.1"]
    proc, url = start_server(runs, tmp / "locks", tmp / "server.log", share, env={"LRX_TEACHER_TOKEN": TOKEN})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            print("| sampler | Tune page answered | server memory (peak) | what it said |\n| --- | ---: | ---: | --- |")
            for sampler, seconds, gib, shown in tune_pages(browser, url, proc.pid):
                print(f"| {sampler} | {seconds:.1f} s | {gib:.2f} GiB | {shown} |")

            # A thread of its own drives the other session: Playwright's sync API is per thread.
            def other_session(until: threading.Event, samples: list[float]) -> None:
                with sync_playwright() as pw2:
                    b2 = pw2.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                    runs_page_seconds(b2, url, until, samples)
                    b2.close()

            quiet: list[float] = []
            stop = threading.Event()
            t = threading.Thread(target=other_session, args=(stop, quiet))
            t.start()
            time.sleep(20)
            stop.set()
            t.join()

            busy: list[float] = []
            stop = threading.Event()
            t = threading.Thread(target=other_session, args=(stop, busy))
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"{url}/train?run=chat&token={TOKEN}")
            chat = page.get_by_role("textbox", name="Ask the model")
            chat.wait_for(timeout=120_000)
            t.start()
            start = time.monotonic()
            chat.fill("x" * 200_000 + " How much is 17 + 72?")
            chat.press("Enter")
            page.get_by_text("were left out").first.wait_for(timeout=120_000)
            answered = time.monotonic() - start
            stop.set()
            t.join()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print("\n| 200 KB chat prompt | answered (cut) | other session's Runs page: median / max |")
    print("| --- | ---: | ---: |")
    print(f"| before the chat | - | {statistics.median(quiet):.2f} s / {max(quiet):.2f} s ({len(quiet)} loads) |")
    print(
        f"| during the chat | {answered:.1f} s | {statistics.median(busy):.2f} s / {max(busy):.2f} s ({len(busy)} loads) |"
    )


if __name__ == "__main__":
    main()
