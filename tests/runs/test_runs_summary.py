"""Summaries of run folders for the pages (lrexplorer.runs.folder.summary): fabricated run folders, no training."""

from __future__ import annotations

import time

import numpy as np
import pytest
from helpers.run_folders import append, make_run, record

from lrexplorer.runs.folder import store, summary


def test_table_row_reads_the_config_and_the_last_records(tmp_path):
    run_dir = make_run(tmp_path)
    append(run_dir, *(record(s) for s in range(1, 2001)), raw='{"step": 2001')
    row = summary.table_row({**store.read_status(run_dir), "path": str(run_dir)})
    assert row["final loss"] == pytest.approx(5.0 - 20.0) and row["batch"] == "8×1" and row["length"] == "1 epoch"
    (run_dir / store.CONFIG).write_text("learning_rate: [unclosed", encoding="utf-8")
    row = summary.table_row({**store.read_status(run_dir), "path": str(run_dir)})
    assert row["model"] == "?" and row["learning_rate"] == "?", "a damaged config still lists the run"
    assert row["final loss"] == pytest.approx(5.0 - 20.0)


def test_config_diff_lists_only_differences_in_catalogue_order():
    rows = summary.config_diff(
        {
            "a": {"learning_rate": 1e-3, "seed": 1, "output_dir": "x", "optim": "sgd"},
            "b": {"learning_rate": 2e-3, "seed": 1, "output_dir": "y", "optim": "sgd"},
        }
    )
    assert rows == [{"field": "learning_rate", "a": "0.001", "b": "0.002"}]


def test_eta_and_progress():
    status = {"state": "running", "max_steps": 100, "global_step": 10}
    steps, times = np.arange(1.0, 11.0), time.time() - 10 + np.arange(10.0)  # one step a second, up to now
    assert summary.eta_s(steps, times, status) == pytest.approx(90, abs=2)
    assert summary.progress(status) == 0.1 and summary.progress({"state": "completed"}) == 1.0
    assert summary.eta_s(steps, times, {**status, "state": "stopped"}) is None


def test_predicted_lr_is_drawn_where_the_trainer_logs_it(tmp_path):
    run_dir = make_run(tmp_path)
    x, y = summary.predicted_lr(run_dir, 10)
    assert x[0] == 1 and y[0] == 0.0 and y[2] == pytest.approx(1e-3), "warmup 2: updates 0 and 1 ramp up"
