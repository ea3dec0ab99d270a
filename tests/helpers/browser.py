"""The app served for a browser test: `lrexplorer app` on a free port over its own runs and lock folders,
stopped afterwards with every run it started."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lrexplorer.runs import launcher
from lrexplorer.runs.folder import store

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from live_latency import CHROMIUM, start_server  # noqa: E402 - bench/ is not a package


@contextlib.contextmanager
def served(tmp: Path, extra: list[str] | None = None) -> Iterator[tuple[str, Path]]:
    """(url, runs dir) of a server of this checkout; skips the test where Debian's Chromium is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    runs = tmp / "runs"
    proc, url = start_server(runs, tmp / "locks", tmp / "server.log", extra)
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
