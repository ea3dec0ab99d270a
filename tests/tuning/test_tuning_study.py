"""Sweeps over a toy objective: each sampler and pruner, stopped and resumed from SQLite with the same trials."""

from __future__ import annotations

import math

import pytest

from lrexplorer.catalogues.params import FieldError
from lrexplorer.tuning.figures import sweep_figures
from lrexplorer.tuning.space import parse_space
from lrexplorer.tuning.study import SweepSettings, open_sweep, run_trials

STEPS = 5
GRID = parse_space("learning_rate: {values: [1.0e-4, 1.0e-3, 1.0e-2]}\nper_device_train_batch_size: {values: [4, 8]}")
RANGES = parse_space(
    "learning_rate: {low: 1.0e-5, high: 1.0e-1, log: true}\n"
    "per_device_train_batch_size: {low: 2, high: 16}\n"
    "lr_scheduler_type: {values: [linear, cosine]}"
)


def toy_loss(params, step):
    """Lowest near lr 1e-3 and small batches; falls with the step like a training loss."""
    base = (math.log10(params["learning_rate"]) + 3) ** 2 + params["per_device_train_batch_size"] / 16
    return base + (0.3 if params.get("lr_scheduler_type") == "cosine" else 0.0) + 2.0 / step


def train(handle, interrupt=lambda handle, step: False):
    """Report a loss per step, from after the last one reported; None where `interrupt` ends the 'process'."""
    value = math.nan
    for step in range(max(handle.reported, default=0) + 1, STEPS + 1):
        value = toy_loss(handle.params, step)
        if handle.report(step, value):
            return value
        if interrupt(handle, step):
            return None
    handle.set_run(f"run-{handle.number}")
    return value


def trials_of(sweep):
    return [
        (t.number, t.params, t.state.name, t.value, t.intermediate_values, t.user_attrs.get("run"))
        for t in sweep.study.get_trials()
    ]


# Every sampler and every pruner; TPE with each pruner, as only TPE learns from pruned trials' losses.
@pytest.mark.parametrize(
    ("sampler", "pruner"),
    [("tpe", "none"), ("tpe", "median"), ("tpe", "halving"), ("grid", "median"), ("random", "halving")],
)
def test_a_stopped_and_resumed_sweep_has_the_same_trials(tmp_path, sampler, pruner):
    space = GRID if sampler == "grid" else RANGES
    settings = SweepSettings(sampler=sampler, pruner=pruner, n_trials=None if sampler == "grid" else 6, seed=3)
    whole = open_sweep(tmp_path / "whole", space, settings)
    run_trials(whole, train)

    part = open_sweep(tmp_path / "part", space, settings)
    run_trials(part, train, should_stop=lambda: part.done() >= 2)  # stopped between trials
    assert part.done() == 2 and not part.finished()
    part = open_sweep(tmp_path / "part")  # a new process: everything comes from study.db
    # stopped inside the first trial from number 3 on that gets to step 3 unpruned
    run_trials(part, lambda h: train(h, interrupt=lambda h, step: h.number >= 3 and step == 3))
    (stopped,) = part.interrupted()
    assert stopped.number >= 3 and sorted(stopped.reported) == [1, 2, 3]
    part = open_sweep(tmp_path / "part", space, settings)
    run_trials(part, train)

    assert part.finished() and part.done() == whole.n_trials == 6
    assert trials_of(part) == trials_of(whole)
    states = [t.state.name for t in whole.study.get_trials()]
    assert "RUNNING" not in states
    if pruner == "none":
        assert "PRUNED" not in states
    else:
        assert "PRUNED" in states, "the toy has trials far worse than the rest: the pruner must stop some"
    if sampler == "grid":
        assert sorted(map(repr, (t.params for t in whole.study.get_trials()))) == sorted(
            map(repr, GRID.grid_points())
        ), "each combination exactly once"


def test_the_summary_ranks_completed_trials(tmp_path):
    sweep = open_sweep(tmp_path, GRID, SweepSettings(sampler="grid"))
    run_trials(sweep, train)
    summary = sweep.summary()
    rows = summary["trials"]
    assert [r["number"] for r in rows] == list(range(6))
    assert all(r["state"] == "complete" and r["run"] == f"run-{r['number']}" for r in rows)
    ranked = sorted(rows, key=lambda r: r["rank"])
    assert [r["value"] for r in ranked] == sorted(toy_loss(r["params"], STEPS) for r in rows)
    assert summary["best"] == ranked[0]
    assert summary["best"]["params"] == {"learning_rate": 1e-3, "per_device_train_batch_size": 4}


def test_a_failing_trial_is_recorded_and_raised(tmp_path):
    sweep = open_sweep(tmp_path, GRID, SweepSettings(sampler="grid"))

    def broken(handle):
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        run_trials(sweep, broken)
    row = sweep.summary()["trials"][0]
    assert row["state"] == "fail" and row["error"] == "RuntimeError: out of memory" and row["rank"] is None
    sweep.ask().complete(math.nan)  # a diverged run: Optuna refuses nan as a value
    row = sweep.summary()["trials"][1]
    assert row["state"] == "fail" and row["error"] == "the loss became nan"


def test_resuming_with_other_settings_is_refused_but_more_trials_are_allowed(tmp_path):
    sweep = open_sweep(tmp_path, RANGES, SweepSettings(sampler="random", n_trials=2))
    run_trials(sweep, train)
    with pytest.raises(FieldError) as caught:
        open_sweep(tmp_path, GRID, SweepSettings(sampler="random", n_trials=2))
    assert caught.value.field == "space"
    with pytest.raises(FieldError) as caught:
        open_sweep(tmp_path, RANGES, SweepSettings(sampler="tpe", n_trials=2))
    assert caught.value.field == "sampler"
    more = open_sweep(tmp_path, RANGES, SweepSettings(sampler="random", n_trials=4))
    run_trials(more, train)
    assert more.done() == 4
    assert open_sweep(tmp_path).n_trials == 4


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda p: open_sweep(p), "space"),
        (lambda p: open_sweep(p, RANGES, SweepSettings(sampler="grid")), "learning_rate"),
        (lambda p: SweepSettings(sampler="bayes"), "sampler"),
        (lambda p: SweepSettings(pruner="hyperband"), "pruner"),
        (lambda p: SweepSettings(n_trials=0), "n_trials"),
        (lambda p: SweepSettings(metric="accuracy"), "metric"),
    ],
)
def test_bad_sweeps_name_the_field_and_start_nothing(tmp_path, make, field):
    with pytest.raises(FieldError) as caught:
        make(tmp_path / "sweep")
    assert caught.value.field == field
    assert not (tmp_path / "sweep").exists()


def test_figures_come_from_optuna_once_trials_complete(tmp_path):
    sweep = open_sweep(tmp_path, RANGES, SweepSettings(sampler="random", n_trials=5))
    assert all(isinstance(v, str) for v in sweep_figures(sweep).values())
    run_trials(sweep, train)
    figures = sweep_figures(sweep)
    parallel = figures["parallel_coordinate"]
    axes = list(parallel.layout.xaxis.ticktext)
    shown = {name if len(name) <= 20 else name[:17] + "..." for name in RANGES.names}  # Optuna shortens labels
    assert axes[0] == "final loss" and set(axes[1:]) == shown
    lines = [trace for trace in parallel.data if trace.mode == "lines"]
    assert len(lines) == 5  # one line per completed trial
    assert len(figures["slice"].data) == len(RANGES.names)
    importances = figures["importances"].data[0]
    assert set(importances.y) == set(RANGES.names) and all(x >= 0 for x in importances.x)


def test_a_trial_trained_in_another_process_gets_its_verdict(tmp_path):
    sweep = open_sweep(tmp_path, GRID, SweepSettings(sampler="grid", pruner="median"))
    run_trials(sweep, train, should_stop=lambda: sweep.done() >= 2)  # the median pruner's two startup trials
    handle = sweep.ask()
    worker = open_sweep(tmp_path).trial(handle.number)  # its own connection, as the trainer's process has
    assert worker.params == handle.params
    worker.set_run("run-x")
    pruned_at = next(step for step in range(1, STEPS + 1) if worker.report(step, 100.0 + step))
    assert pruned_at == 1  # far above the median of the first two trials from the first report on
    assert handle.reported == {1: 101.0} and handle.run == "run-x"
    handle.complete(101.0)
    row = sweep.summary()["trials"][2]
    assert (row["state"], row["value"], row["run"], row["rank"]) == ("pruned", 101.0, "run-x", None)
