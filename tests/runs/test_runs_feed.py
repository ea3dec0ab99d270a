"""The shared incremental reader of a run folder (lrexplorer.runs.folder.feed) and the run figures drawn from
its snapshots: fabricated run folders, no training."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers.run_folders import append, make_run, record

from lrexplorer.app.figures import run_curves as rc
from lrexplorer.runs.folder import store
from lrexplorer.runs.folder.feed import FeedRegistry, RunFeed


def test_feed_reads_only_appended_bytes_and_waits_for_a_whole_line(tmp_path):
    run_dir = make_run(tmp_path)
    append(run_dir, record(1), record(2))
    feed = RunFeed(run_dir)
    first = feed.poll(max_age=0)
    assert first.points == 2 and list(first.train["step"]) == [1, 2]
    read = feed.stats.bytes_read
    append(run_dir, record(3), raw='{"step": 4, "loss": 1.')  # a record being written right now
    second = feed.poll(max_age=0)
    assert second.points == 3 and second.version > first.version
    assert feed.stats.bytes_read - read == len(json.dumps(record(3))) + 1, "only the new complete line is read"
    assert first.points == 2 and list(first.train["step"]) == [1, 2], "an older snapshot never changes"
    append(run_dir, raw='5, "epoch": 0.4}\n')
    assert list(feed.poll(max_age=0).train["loss"])[-1] == 1.5
    assert feed.stats.records == 4


def test_feed_sorts_train_eval_and_summary_records_and_reads_nan(tmp_path):
    run_dir = make_run(tmp_path)
    append(
        run_dir,
        record(1),
        record(2, loss="nan"),
        {"step": 2, "epoch": 0.2, "eval_loss": 4.5},
        {"step": 2, "train_runtime": 12.5, "train_loss": 4.9},
        {"step": 3, "loss": 4.0, "gpu_peak_allocated_bytes": 3 * 2**30, "gpu_allocated_bytes": 2**30},
    )
    snap = RunFeed(run_dir).poll()
    assert snap.points == 3 and np.isnan(snap.train["loss"][1])
    assert list(snap.eval["eval_loss"]) == [4.5] and snap.summary["train_runtime"] == 12.5
    assert snap.train["memory_bytes"][-1] == 3 * 2**30 and snap.memory_label == "GPU peak allocated"


def test_feed_starts_over_when_a_resume_rewrites_the_metrics(tmp_path):
    run_dir = make_run(tmp_path)
    append(run_dir, *(record(s) for s in range(1, 11)))
    feed = RunFeed(run_dir)
    assert feed.poll(max_age=0).points == 10
    tmp = run_dir / "rewrite.tmp"  # what launcher.resume_run does: keep records up to the checkpoint, replace
    tmp.write_text("".join(json.dumps(record(s)) + "\n" for s in range(1, 6)), encoding="utf-8")
    os.replace(tmp, run_dir / store.METRICS)
    assert list(feed.poll(max_age=0).train["step"]) == [1, 2, 3, 4, 5]


def test_feed_notices_status_changes_and_a_dead_worker(tmp_path):
    run_dir = make_run(tmp_path, state="running", pid=2**22 + 12345, pid_create_time=1.0)  # no such process
    snap = RunFeed(run_dir).poll()
    assert snap.state == "failed", "reconcile marks a run whose worker has gone"
    assert "without a final status" in snap.status["message"]


def test_polls_within_max_age_share_one_disk_read(tmp_path):
    run_dir = make_run(tmp_path)
    append(run_dir, *(record(s) for s in range(1, 101)))
    registry = FeedRegistry()
    snaps = []

    def viewer() -> None:
        for _ in range(5):
            snaps.append(registry.get(run_dir).poll(max_age=30))

    threads = [threading.Thread(target=viewer) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    feed = registry.get(Path(str(run_dir) + "/../" + run_dir.name))  # the same folder by another spelling
    assert feed.stats.polls == 50 and feed.stats.refreshes == 1, "ten viewers, one read"
    assert len({id(s) for s in snaps}) == 1
    built = []
    for _ in range(10):
        feed.derived("figures", snaps[0], lambda s: built.append(1) or "figure")
    assert built == [1], "figures are built once per snapshot version"


def test_registry_forgets_and_evicts(tmp_path):
    registry = FeedRegistry(capacity=2)
    feeds = [registry.get(make_run(tmp_path, f"r{i}")) for i in range(3)]
    assert registry.get(tmp_path / "r2") is feeds[2] and registry.get(tmp_path / "r0") is not feeds[0]
    registry.forget(tmp_path / "r2")
    assert registry.get(tmp_path / "r2") is not feeds[2]


# -- figures -------------------------------------------------------------------------------------------------
def series(n: int) -> dict[str, np.ndarray]:
    steps = np.arange(1, n + 1, dtype=float)
    loss = 3 + np.sin(steps / 50) + np.where(steps == n // 2, 10.0, 0.0)  # one spike in the middle
    return {
        "step": steps,
        "epoch": steps / (n / 4),
        "loss": loss,
        "learning_rate": np.full(n, 1e-3),
        "grad_norm": np.full(n, 2.0),
        "tokens_per_s": np.full(n, 1e3),
        "memory_bytes": np.full(n, 2.0**30),
        "time": steps,
    }


def test_loss_figure_decimates_long_runs_keeping_the_spike_and_marks_epochs():
    train = series(10_000)
    fig = rc.loss_figure(train, {"step": np.array([2500.0, 5000.0]), "eval_loss": np.array([3.0, 2.5])})
    raw, _smoothed, evaluation = fig.data
    assert len(raw.x) <= rc.MAX_POINTS and max(raw.y) == pytest.approx(train["loss"].max())
    assert list(evaluation.y) == [3.0, 2.5] and all(t.type == "scatter" for t in fig.data), "SVG traces only"
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [line.x0 for line in lines] == [2500.0, 5000.0, 7500.0], "epochs 2, 3 and 4 begin there"


def test_smoothing_is_debiased_and_skips_nan():
    y = np.array([4.0, 4.0, np.nan, 4.0])
    assert np.allclose(rc.smooth(y), 4.0), "a constant series stays constant from the first point"
    assert rc.smooth(np.arange(1000.0))[-1] > 980


def test_grad_norm_and_lr_figures():
    train = series(20)
    fig = rc.grad_norm_figure(train, 1.0)
    assert fig.layout.shapes[0].y0 == 1.0 and "max_grad_norm" in fig.layout.annotations[0].text
    predicted = (np.arange(1, 21, dtype=float), np.full(20, 1e-3))
    names = [t.name for t in rc.lr_figure(train, predicted).data]
    assert names == ["predicted", "logged"]
    assert not rc.grad_norm_figure(train, 0.0).layout.shapes, "no line when clipping is off"
