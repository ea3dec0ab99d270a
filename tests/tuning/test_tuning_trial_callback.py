"""Sweep trials trained by a real transformers Trainer: every logged loss reaches the study, and a pruned
trial's training stops at the update where the pruner said so."""

from __future__ import annotations

import pytest
from helpers.runs import token_dataset
from transformers import Trainer, TrainingArguments

from lrexplorer.tuning.space import parse_space
from lrexplorer.tuning.study import SweepSettings, open_sweep, run_trials
from lrexplorer.tuning.trial_callback import TrialReportCallback

pytestmark = pytest.mark.slow

MAX_STEPS = 12


def test_trials_report_their_losses_and_a_pruned_trial_stops(tmp_path, tiny_llama):
    space = parse_space("learning_rate: {values: [1.0e-6, 3.0e-3, 1.0e-2]}")
    sweep = open_sweep(tmp_path / "sweep", space, SweepSettings(sampler="grid", pruner="median", seed=0))
    trained = {}

    def train(handle):
        args = TrainingArguments(
            output_dir=str(tmp_path / f"run-{handle.number}"),
            report_to="none",
            use_cpu=True,
            save_strategy="no",
            per_device_train_batch_size=4,
            max_steps=MAX_STEPS,
            logging_steps=1,
            lr_scheduler_type="constant",
            disable_tqdm=True,
            seed=0,
            **handle.params,
        )
        report = TrialReportCallback(handle, metric="loss")
        trainer = Trainer(model=tiny_llama(), args=args, train_dataset=token_dataset(48), callbacks=[report])
        trainer.train()
        trained[handle.number] = trainer
        return report.last

    run_trials(sweep, train)
    trials = sweep.study.get_trials()
    # Grid order for seed 0: the two useful LRs first, so the median pruner (from the third trial on)
    # judges the LR that barely trains.
    assert [t.params["learning_rate"] for t in trials] == [1e-2, 3e-3, 1e-6]
    for t in trials:
        logged = {e["step"]: e["loss"] for e in trained[t.number].state.log_history if "loss" in e and "step" in e}
        assert t.intermediate_values == logged
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    pruned = trained[2].state.global_step
    assert 1 < pruned < MAX_STEPS  # step 1's loss is the same in every trial (same weights and batch)
    assert max(trials[2].intermediate_values) == pruned
    assert trials[2].value == trials[2].intermediate_values[pruned]
    assert sweep.summary()["best"]["number"] in (0, 1)
