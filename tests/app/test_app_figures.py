"""Decimation keeps what a chart needs; figures carry the right traces and marks."""

import numpy as np
import pytest

from lrexplorer.app.figures.lr_curves import Line, decimate_indices, lr_figure, warmup_figure, warmup_window
from lrexplorer.schedules import compute_curve


def jumps(y: np.ndarray, frac: float = 0.05) -> np.ndarray:
    """Indices i where y[i] -> y[i+1] moves by more than `frac` of the curve's range."""
    return np.flatnonzero(np.abs(np.diff(y)) > frac * (y.max() - y.min()))


def test_short_series_come_back_whole():
    y = np.linspace(1, 0, 500)
    assert np.array_equal(decimate_indices(y, 2000), np.arange(500))
    assert np.array_equal(decimate_indices(np.linspace(1, 0, 2000), 2000), np.arange(2000))


@pytest.mark.parametrize("n", [2001, 12_345, 1_000_000, 1_000_003])
@pytest.mark.parametrize("max_points", [64, 2000])
def test_bounded_sorted_unique_with_ends(n, max_points):
    rng = np.random.default_rng(n)
    y = rng.standard_normal(n)
    idx = decimate_indices(y, max_points)
    assert idx.size <= max_points
    assert np.all(np.diff(idx) > 0)
    assert idx[0] == 0 and idx[-1] == n - 1
    assert y.argmax() in idx and y.argmin() in idx


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("StepLR", {"step_size": 12_345}),
        ("MultiStepLR", {"milestones": [100, 4_000, 500_000, 500_700]}),
        ("cosine_with_restarts", {"num_cycles": 40}),
        ("CosineAnnealingWarmRestarts", {"T_0": 333, "T_mult": 2}),
        ("OneCycleLR", {}),
        ("ConstantLR", {"total_iters": 5_000}),
        ("CyclicLR", {"step_size_up": 50_000, "mode": "triangular2"}),
    ],
)
def test_every_step_edge_is_kept(name, kwargs):
    y = compute_curve(name, 1e-3, 1_000_000, 1_000, kwargs).lr
    idx = set(decimate_indices(y).tolist())
    edges = jumps(y)
    assert edges.size > 0 or name == "OneCycleLR"
    for i in edges.tolist():
        assert i in idx and i + 1 in idx, f"jump at update {i} -> {i + 1} lost"
    assert int(y.argmax()) in idx and int(y.argmin()) in idx


def test_drawn_points_are_exact_values():
    y = compute_curve("cosine", 2e-4, 300_000, 3_000, {}).lr
    line = Line.from_lr("cosine", y)
    assert np.array_equal(line.y, y[line.x])


def test_a_million_points_keep_every_step_of_step_lr():
    # Its speed (about 2 ms per curve) is measured by bench/page_rerun.py, not asserted here.
    y = compute_curve("StepLR", 1e-3, 1_000_000, 0, {}).lr
    idx = decimate_indices(y)
    assert len(idx) <= 2000 and idx[0] == 0 and idx[-1] == len(y) - 1
    jumps = np.flatnonzero(np.diff(y) != 0)  # each drop of StepLR is drawn as a drop: both ends kept
    assert set(jumps) <= set(idx.tolist()) and set(jumps + 1) <= set(idx.tolist())


def test_lr_figure_traces_and_marks():
    a = compute_curve("linear", 1e-3, 5_000, 100, {}).lr
    b = compute_curve("StepLR", 1e-3, 5_000, 100, {}).lr
    fig = lr_figure(
        [Line.from_lr("linear", a), Line.from_lr("StepLR", b)], warmup_steps=100, epoch_boundaries=[1_250, 2_500, 3_750]
    )
    assert [t.type for t in fig.data] == ["scatter", "scatter"]  # SVG, not WebGL
    assert [t.name for t in fig.data] == ["linear", "StepLR"]
    assert all(t.x.size <= 2000 for t in fig.data)
    shapes = fig.layout.shapes
    rects = [s for s in shapes if s.type == "rect"]
    lines = [s for s in shapes if s.type == "line"]
    assert len(rects) == 1 and rects[0].x1 == pytest.approx(99.5)
    assert sorted(s.x0 for s in lines) == [1_250, 2_500, 3_750]
    assert all(s.line.dash == "dot" for s in lines)
    assert "update" in fig.data[0].hovertemplate and "lr" in fig.data[0].hovertemplate
    assert fig.layout.yaxis.type == "linear"
    assert lr_figure([Line.from_lr("linear", a)], log_y=True).layout.yaxis.type == "log"


def test_lr_figure_skips_too_many_epoch_lines():
    y = compute_curve("linear", 1e-3, 10_000, 0, {}).lr
    fig = lr_figure([Line.from_lr("linear", y)], epoch_boundaries=list(range(100, 10_000, 100)))
    assert not [s for s in fig.layout.shapes if s.type == "line"]
    assert not [s for s in fig.layout.shapes if s.type == "rect"]  # no warmup, no band


def test_warmup_figure_full_resolution_with_markers():
    w = 30
    y = compute_curve("linear", 1e-3, 1_000, w, {}).lr
    head = Line.from_lr("linear", y[: warmup_window(w)])
    fig = warmup_figure([head], w)
    trace = fig.data[0]
    assert trace.x.size == warmup_window(w) == 90
    assert np.array_equal(trace.y, y[:90])
    assert "markers" in trace.mode
    assert warmup_window(2) == 20


def _loss_trace(snap):
    from lrexplorer.app.train.run_view import build_figures

    figure = build_figures(snap)["loss"]
    trace = next(t for t in figure.data if t.name == "loss")
    return figure, np.asarray(trace.x), np.asarray(trace.y)


@pytest.mark.parametrize("steps", [40, 5000])
def test_finished_loss_chart_starts_at_the_first_logged_step(tmp_path, steps):
    """The Train page's finished view (its figures built from the run's feed, as the page builds them)
    draws the loss from the first logged step on, after a resume too; no axis range hides the start."""
    from helpers.run_folders import make_run

    from lrexplorer.runs.folder import store
    from lrexplorer.runs.folder.feed import RunFeed

    run_dir = make_run(tmp_path, "r", config={"max_steps": steps, "logging_steps": 5})
    rng = np.random.default_rng(steps)
    records = [
        {"step": s, "epoch": s / steps, "loss": 7.0 / (1 + s / 50) + 0.05 * rng.random(), "learning_rate": 1e-3}
        for s in range(5, steps + 1, 5)
    ]
    half = len(records) // 2
    store.write_metrics(run_dir, records[:half])
    feed = RunFeed(run_dir)
    feed.poll(max_age=0)
    # A resume rewrites the file with the records up to its checkpoint, then the worker appends.
    store.write_metrics(run_dir, records[: half // 2])
    with open(run_dir / store.METRICS, "a", encoding="utf-8") as fh:
        fh.writelines(store.encode_record(r) for r in [*records[half // 2 :], {"train_runtime": 1.0, "step": steps}])
    snap = feed.poll(max_age=0)
    assert not snap.active and snap.points == len(records)
    figure, x, y = _loss_trace(snap)
    assert x[0] == 5 and y[0] == records[0]["loss"] and x[-1] == steps
    assert figure.layout.xaxis.range is None and figure.layout.yaxis.range is None  # autorange: every point
    assert figure.layout.xaxis.rangemode == "tozero"
