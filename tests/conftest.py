"""Shared fixtures: isolated runs folders, and a tiny real Llama model (built from a config, no download).
Shared plain code lives in `helpers/`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The page tests' helpers (train_page, runs_page, chart, ...) live in tests/app/test_page_*.py; tests of other
# layers that also check what a page shows import them from there, whichever folders pytest collects.
sys.path.insert(0, str(Path(__file__).parent / "app"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
# The suite runs one pytest worker per core (-n 2), and each starts training processes of its own: one
# torch thread per process keeps the cores from being oversubscribed, where OpenMP's spinning threads
# made a 0.04 s step of the built-in model take 10 s. Set before anything imports torch.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """A private runs directory and device-lock folder, so tests never meet each other's runs."""
    from helpers.runs import isolate_env

    return isolate_env(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def tiny_llama():
    """A factory for a ~10k-parameter LlamaForCausalLM: fast enough to train for dozens of steps in a test."""
    from helpers.trainer_runs import tiny_model

    return tiny_model
