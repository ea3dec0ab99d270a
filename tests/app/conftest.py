"""`runs`: empty runs and lock folders of the test's own (LRX_RUNS_DIR, LRX_LOCK_DIR) for a page under AppTest.
A test module that needs runs in them defines its own `runs`."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "runs"
