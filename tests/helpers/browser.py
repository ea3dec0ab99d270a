"""The app served for a browser test (`served`: `lrexplorer app` on a free port over its own runs and lock
folders, stopped afterwards with every run it started), and a page of headless Chromium (`browser_page`)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lrexplorer.runs import launcher
from lrexplorer.runs.folder import store

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from live_latency import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402 - bench/ is not a package


@contextlib.contextmanager
def served(tmp: Path, extra: list[str] | None = None, env: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """(url, runs dir) of a server of this checkout (`extra` flags, `env` variables); skips the test where
    Debian's Chromium is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    runs = tmp / "runs"
    proc, url = start_server(runs, tmp / "locks", tmp / "server.log", extra, env)
    try:
        yield url, runs
    finally:
        for run_dir in runs.glob("*"):
            if store.read_status(run_dir).get("state") in store.ACTIVE:
                launcher.stop_run(run_dir, grace_s=20)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def browser_page() -> Iterator[Any]:
    """A 1400x1000 page of headless Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()
