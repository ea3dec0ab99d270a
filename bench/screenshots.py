"""Screenshots of every page for the README, from real runs of the built-in model (nothing made up).

    python bench/screenshots.py [--out assets] [--steps 60]

Trains a short run of the Train form's default setup and an LR range test of it (both real, in a
temporary runs folder), starts the app headless as it ships, and saves one PNG per page (full page
height): Schedules, Memory, Train (the finished run, and the form with packing and its data view), Runs,
Tune (the range test), Knowledge lab and Guide, as `screenshot-<page>.png`. Look at them before committing: a page that renders can still read
badly.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from live_latency import CHROMIUM, CHROMIUM_ARGS, ROOT, start_server

from lrexplorer.runs import launcher
from lrexplorer.runs.folder import store
from lrexplorer.runs.spec import RunSpec

# Streamlit scrolls its main section, not the document, so a "full page" screenshot would stop at the
# window's bottom: the window is made as tall as that section's content instead.
CONTENT_HEIGHT = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return main ? main.scrollHeight : document.body.scrollHeight;
}"""
# The app's script is not running (Streamlit marks its root element): spinners are gone, every table drawn.
IDLE = (
    "() => { const a = document.querySelector('[data-testid=\"stApp\"]');"
    " return a && a.getAttribute('data-test-script-state') === 'notRunning'; }"
)
MAX_HEIGHT = 3600  # px: taller pages (the Guide's lessons) are cut there, or the README shows a thin strip

# (file name, address, text that shows the page has drawn its main content)
PAGES = [
    ("schedules", "/", "Learning rate"),
    ("memory", "/memory", "Peak"),
    ("train", "/train?run=demo", "reproduces all"),  # the recognised schedule, drawn once its search ends
    ("train-data", "/train?packing=true&max_length=128", "Tokens in the loss"),
    ("runs", "/runs", "Manage a run"),
    ("tune", "/tune?lrfind={range}", "valley"),
    ("knowledge", "/knowledge", "Knowledge"),
    ("guide", "/guide", "Guide"),
]


def wait_ended(run_dir: Path, timeout: float = 1800) -> dict:
    deadline = time.monotonic() + timeout
    while store.read_status(run_dir).get("state") not in store.FINAL_STATES:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{run_dir.name} did not end")
        time.sleep(1)
    return store.read_status(run_dir)


def train(runs: Path, steps: int) -> str:
    from lrexplorer.frontend.tuning_launch import start_range_test
    from lrexplorer.tuning.lr_range import RangeTest

    print(f"training the demo run ({steps} updates) ...", flush=True)
    given = {"max_steps": steps, "logging_steps": 1, "eval_strategy": "steps", "eval_steps": max(1, steps // 4)}
    status = wait_ended(launcher.start_run(RunSpec.from_dict(given), runs, run_id="demo"))
    print(f"  {status['state']}: {status.get('message')}", flush=True)
    print("running the LR range test ...", flush=True)
    range_dir = start_range_test({}, RangeTest(num_steps=60), runs)
    print(f"  {wait_ended(range_dir)['state']}", flush=True)
    return range_dir.name


def shoot(url: str, out: Path, range_id: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, address, marker in PAGES:
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.goto(url + address.format(range=range_id))
            page.get_by_text(marker).first.wait_for(timeout=120_000)
            page.wait_for_function(IDLE, timeout=300_000)  # the page's script has drawn everything
            page.wait_for_timeout(2500)  # charts finish their first draw
            height = min(MAX_HEIGHT, max(1000, int(page.evaluate(CONTENT_HEIGHT))))
            page.set_viewport_size({"width": 1400, "height": height})
            page.wait_for_timeout(1500)  # charts follow the new window size
            path = out / f"screenshot-{name}.png"
            page.screenshot(path=str(path))
            print(f"wrote {path}", flush=True)
        browser.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lrx-shots-") as tmp:
        runs, locks = Path(tmp) / "runs", Path(tmp) / "locks"
        os.environ.update(LRX_RUNS_DIR=str(runs), LRX_LOCK_DIR=str(locks))
        range_id = train(runs, args.steps)
        proc, url = start_server(runs, locks, Path(tmp) / "server.log")
        try:
            shoot(url, out, range_id)
        finally:
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
