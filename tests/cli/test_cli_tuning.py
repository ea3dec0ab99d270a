"""`lrexplorer lr-find` and `lrexplorer sweep`: bad input refused before anything starts, real runs end to end."""

from __future__ import annotations

import json
import os

import pytest
from helpers.runs import run_cli

from lrexplorer.cli import main
from lrexplorer.runs.folder import index, store
from lrexplorer.runs.kinds.range_test import RESULT_FILE
from lrexplorer.runs.kinds.registry import read_kind
from lrexplorer.tuning.lr_range import RangeTest
from lrexplorer.tuning.study import STUDY_FILE


@pytest.mark.parametrize(
    "args, field",
    [
        (["--start_lr", "1e-2", "--end_lr", "1e-3"], "--end_lr"),
        (["--start_lr", "1e-2", "--end_lr", "1e-2"], "--end_lr"),
        (["--start_lr", "0"], "--start_lr"),
        (["--end_lr", "-1"], "--end_lr"),
        (["--num_steps", "2"], "--num_steps"),
        (["--mode", "cubic"], "--mode"),
        (["--early_stop_threshold", "1"], "--early_stop_threshold"),
        (["--per_device_train_batch_size", "0"], "--per_device_train_batch_size"),
    ],
)
def test_lr_find_refuses_bad_input_naming_the_flag_and_starts_nothing(isolated, capsys, args, field):
    assert main(["lr-find", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lrexplorer lr-find: error: ") and field in err and "\n" not in err
    assert not isolated.exists() or not any(isolated.iterdir())


@pytest.mark.parametrize(
    "space, field",
    [
        ("no_such_field: {values: [1, 2]}\n", "no_such_field"),
        ("learning_rate: {values: [-1.0]}\n", "learning_rate"),
        ("per_device_train_batch_size: {values: []}\n", "per_device_train_batch_size"),
        ("lr_scheduler_type: {low: 1, high: 2}\n", "lr_scheduler_type"),
        ("{}\n", "space"),
    ],
)
def test_sweep_refuses_a_bad_space_naming_the_field_and_starts_nothing(isolated, tmp_path, capsys, space, field):
    path = tmp_path / "space.yaml"
    path.write_text(space)
    folder = tmp_path / "sweep"
    assert main(["sweep", "--space", str(path), "--output_dir", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lrexplorer sweep: error: ") and field in err, err
    assert not folder.exists()
    assert not isolated.exists() or not any(isolated.iterdir())


def test_sweep_refuses_bad_settings_and_a_missing_space(isolated, tmp_path, capsys):
    path = tmp_path / "space.yaml"
    path.write_text("learning_rate: {values: [1.0e-3]}\n")
    for args, field in (
        (["--space", str(path), "--sampler", "bayes"], "sampler"),
        (["--space", str(path), "--n_trials", "0"], "n_trials"),
        (["--space", str(path), "--max_steps", "zero"], "--max_steps"),
        ([], "space"),
    ):
        assert main(["sweep", *args, "--output_dir", str(tmp_path / "sweep")]) == 2
        assert field in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_lr_find_on_the_built_in_model_suggests_an_lr_and_stops_when_the_loss_runs_away(isolated):
    test = RangeTest(start_lr=1e-4, end_lr=10.0, num_steps=40)
    flags = [f"--{k}={v}" for k, v in test.settings().items()]
    result = run_cli(["lr-find", *flags, "--json", "--seed", "0"], cwd=isolated.parent, timeout=900)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert {"lrs", "losses", "smoothed", "stopped_early", "suggestions"} <= set(out)
    assert out["stopped_early"] is True and len(out["lrs"]) < test.num_steps
    # The LRs the trainer logged are the range test's grid, update by update.
    assert out["lrs"] == pytest.approx(test.lrs()[: len(out["lrs"])], rel=1e-6)
    assert set(out["suggestions"]) >= {"valley", "steep", "minimum"}
    assert test.start_lr <= out["suggestions"]["valley"] <= out["lrs"][-1]
    run_dir = index.find_run(os.path.basename(out["run"]), isolated)
    assert read_kind(run_dir)[0] == "lr_range_test"
    assert json.loads((run_dir / RESULT_FILE).read_text()) == {k: v for k, v in out.items() if k != "run"}
    assert store.read_status(run_dir)["state"] == "completed"
    assert store.final_model(run_dir) is None and not store.checkpoints(run_dir)  # nothing a next run could load


@pytest.mark.slow
def test_a_three_trial_sweep_ranks_its_trials_and_resumes(isolated, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("learning_rate: {values: [1.0e-6, 3.0e-3, 1.0e-2]}\n")
    folder = tmp_path / "sweep"
    common = ["sweep", "--space", str(space), "--sampler", "grid", "--output_dir", str(folder), "--json"]
    common += ["--max_steps", "8", "--logging_steps", "2", "--seed", "0"]
    first = run_cli([*common, "--n_trials", "2"], cwd=isolated.parent, timeout=900)
    assert first.returncode == 0, first.stderr
    before = json.loads(first.stdout)
    assert [t["state"] for t in before["trials"]] == ["complete", "complete"]
    assert (folder / STUDY_FILE).is_file()

    second = run_cli([*common, "--n_trials", "3"], cwd=isolated.parent, timeout=900)
    assert second.returncode == 0, second.stderr
    after = json.loads(second.stdout)
    keep = ("number", "params", "value", "state", "run")
    assert [{k: t[k] for k in keep} for t in after["trials"][:2]] == [{k: t[k] for k in keep} for t in before["trials"]]
    assert [t["state"] for t in after["trials"]] == ["complete"] * 3
    assert {t["params"]["learning_rate"] for t in after["trials"]} == {1e-6, 3e-3, 1e-2}
    # Ranked by the last reported loss; the run barely moving at 1e-6 comes last.
    ranked = sorted(after["trials"], key=lambda t: t["rank"])
    assert [t["rank"] for t in ranked] == [1, 2, 3] and ranked[-1]["params"]["learning_rate"] == 1e-6
    assert after["best"]["number"] == ranked[0]["number"]
    for trial in after["trials"]:
        run_dir = index.find_run(os.path.basename(trial["run"]), isolated)
        kind, settings = read_kind(run_dir)
        assert kind == "sweep_trial" and settings["trial"] == trial["number"]
        losses = [r["loss"] for r in store.read_metrics(run_dir) if "loss" in r]
        assert trial["value"] == pytest.approx(losses[-1])
        assert store.read_config(run_dir)["learning_rate"] == trial["params"]["learning_rate"]
