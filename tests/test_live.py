"""The shared incremental reader of a run folder (lrexplorer.live) and the run figures and summaries
built from it: fabricated run folders, no training."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lrexplorer import run_charts as rc
from lrexplorer import run_summary
from lrexplorer.live import FeedRegistry, RunFeed
from lrexplorer.runs import store


def make_run(root: Path, run_id: str = "r1", state: str = "completed", config: dict | None = None, **status) -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    base = {
        "model": "builtin:tiny",
        "dataset": "builtin:arithmetic",
        "learning_rate": 1e-3,
        "lr_scheduler_type": "linear",
        "warmup_steps": 2.0,
        "max_grad_norm": 1.0,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "num_train_epochs": 1.0,
        "max_steps": -1,
        "optim": "adamw_torch",
        "output_dir": str(run_dir),
    }
    (run_dir / store.CONFIG).write_text(json.dumps({**base, **(config or {})}), encoding="utf-8")  # JSON is YAML
    store.write_json_atomic(
        run_dir / store.STATUS,
        {
            "state": state,
            "run_id": run_id,
            "created_at": time.time() - 60,
            "started_at": time.time() - 50,
            "ended_at": time.time(),
            **status,
        },
    )
    return run_dir


def record(step: int, **extra) -> dict:
    return {
        "step": step,
        "epoch": step / 10,
        "time": 1000.0 + step,
        "loss": 5.0 - step * 0.01,
        "grad_norm": 1.5,
        "learning_rate": 1e-3,
        "tokens_per_s": 900.0,
        "rss_bytes": 2**30,
        **extra,
    }


def append(run_dir: Path, *records: dict, raw: str = "") -> None:
    with open(run_dir / store.METRICS, "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in records) + raw)


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


# -- summaries -------------------------------------------------------------------------------------------------
def test_tail_records_reads_the_end_only(tmp_path):
    run_dir = make_run(tmp_path)
    append(run_dir, *(record(s) for s in range(1, 2001)), raw='{"step": 2001')
    tail = run_summary.tail_records(run_dir, max_bytes=2000)
    assert tail[-1]["step"] == 2000 and len(tail) < 20
    row = run_summary.table_row({**store.read_status(run_dir), "path": str(run_dir)})
    assert row["final loss"] == pytest.approx(5.0 - 20.0) and row["batch"] == "8×1" and row["length"] == "1 epoch"


def test_config_diff_lists_only_differences_in_catalogue_order():
    rows = run_summary.config_diff(
        {
            "a": {"learning_rate": 1e-3, "seed": 1, "output_dir": "x", "optim": "sgd"},
            "b": {"learning_rate": 2e-3, "seed": 1, "output_dir": "y", "optim": "sgd"},
        }
    )
    assert rows == [{"field": "learning_rate", "a": "0.001", "b": "0.002"}]


def test_eta_and_progress():
    status = {"state": "running", "max_steps": 100, "global_step": 10}
    steps, times = np.arange(1.0, 11.0), time.time() - 10 + np.arange(10.0)  # one step a second, up to now
    assert run_summary.eta_s(steps, times, status) == pytest.approx(90, abs=2)
    assert run_summary.progress(status) == 0.1 and run_summary.progress({"state": "completed"}) == 1.0
    assert run_summary.eta_s(steps, times, {**status, "state": "stopped"}) is None


def test_predicted_lr_is_drawn_where_the_trainer_logs_it(tmp_path):
    run_dir = make_run(tmp_path)
    x, y = run_summary.predicted_lr(run_dir, 10)
    assert x[0] == 1 and y[0] == 0.0 and y[2] == pytest.approx(1e-3), "warmup 2: updates 0 and 1 ramp up"


def test_delete_run_refuses_active_and_foreign_folders(tmp_path):
    root = tmp_path / "runs"
    done = make_run(root, "done")
    import psutil

    live = make_run(root, "live", state="running", pid=os.getpid(), pid_create_time=psutil.Process().create_time())
    with pytest.raises(RuntimeError, match="stop it"):
        run_summary.delete_run(live, root)
    with pytest.raises(ValueError, match="not a run folder"):
        run_summary.delete_run(tmp_path, root)
    run_summary.delete_run(done, root)
    assert not done.exists() and live.exists()
