"""A range test in a real transformers Trainer: the LR each update applies, and where the run stops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers.runs import token_dataset
from transformers import Trainer, TrainerCallback, TrainingArguments

from lrexplorer.tuning.lr_range import RangeTest
from lrexplorer.tuning.range_trainer import RangeTestCallback, RangeTestSchedulerMixin

pytestmark = pytest.mark.slow


class AppliedLR(TrainerCallback):
    """What each optimizer.step() used: every group's LR, and for plain SGD the LR implied by the weight change."""

    def __init__(self) -> None:
        self.group_lrs: list[list[float]] = []
        self.implied: list[float] = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, model=None, **kwargs):
        self.group_lrs.append([g["lr"] for g in optimizer.param_groups])
        self.param = model.model.embed_tokens.weight
        self.before = self.param.detach().clone()
        self.grad = self.param.grad.detach().clone()  # after clipping: what the step sees

    def on_optimizer_step(self, args, state, control, **kwargs):
        delta = (self.param.detach() - self.before).double()
        grad = self.grad.double()
        self.implied.append(float(-(delta * grad).sum() / (grad * grad).sum()))  # SGD: delta = -lr * grad


def range_trainer(tmp_path, model, test, *, optim, ga=1, n=64, logging_steps=1.0):
    args = TrainingArguments(
        output_dir=str(tmp_path),
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        per_device_train_batch_size=4,
        gradient_accumulation_steps=ga,
        max_steps=test.num_steps,
        learning_rate=1e-3,  # the range test's scheduler overrides it
        optim=optim,
        weight_decay=0.0,
        logging_steps=logging_steps,
        logging_nan_inf_filter=False,
        disable_tqdm=True,
        seed=0,
    )
    recorder, applied = RangeTestCallback(test), AppliedLR()
    cls = type("RangeTestTrainer", (RangeTestSchedulerMixin, Trainer), {"lrx_range_test": test})
    trainer = cls(model=model, args=args, train_dataset=token_dataset(n), callbacks=[recorder, applied])
    trainer.train()
    return trainer, recorder, applied


@pytest.mark.parametrize(("mode", "ga"), [("exponential", 1), ("linear", 2)])
def test_each_update_applies_the_range_test_lr(tmp_path, tiny_llama, mode, ga):
    test = RangeTest(start_lr=1e-4, end_lr=0.5, num_steps=12, mode=mode, early_stop_threshold=None)
    # logging_steps=5: the callback still needs, and gets, one loss per update
    trainer, recorder, applied = range_trainer(tmp_path, tiny_llama(), test, optim="sgd", ga=ga, logging_steps=5)
    grid = (np.geomspace if mode == "exponential" else np.linspace)(1e-4, 0.5, 13)[:-1]
    assert trainer.state.global_step == 12
    assert len(applied.group_lrs) == 12
    for lrs, expected in zip(applied.group_lrs, grid):
        assert len(lrs) == 2  # decay and no-decay groups: both follow the test
        assert lrs == pytest.approx([expected] * 2, rel=1e-12)
    np.testing.assert_allclose(applied.implied, grid, rtol=1e-3)  # float32 weights
    np.testing.assert_allclose(recorder.lrs, grid, rtol=1e-12)
    logged = [e["loss"] for e in trainer.state.log_history if "loss" in e and "learning_rate" in e]
    assert recorder.losses == logged and len(logged) == 12
    assert recorder.stopped_early is False


def fastai_stop(raw, threshold=4.0, beta=0.98):
    """Index of the update after which fastai's LRFinder cancels the fit (a nan stops it here too)."""
    val, best = torch.tensor(0.0, dtype=torch.float64), math.inf
    for count, loss in enumerate(raw, start=1):
        val = torch.lerp(torch.tensor(loss, dtype=torch.float64), val, beta)
        smooth = float(val / (1 - beta**count))
        if not math.isfinite(smooth):
            return count - 1
        best = min(best, smooth)
        if smooth > threshold * best:
            return count - 1
    return None


def test_a_diverging_range_test_stops_where_the_rule_says(tmp_path, tiny_llama):
    test = RangeTest(start_lr=1e-4, end_lr=1000.0, num_steps=60)
    trainer, recorder, applied = range_trainer(tmp_path, tiny_llama(), test, optim="adamw_torch")
    raw = [e["loss"] for e in trainer.state.log_history if "loss" in e and "learning_rate" in e]
    stop = fastai_stop(raw)
    assert stop is not None, "the loss should run away at LRs up to 1000"
    assert stop == len(raw) - 1  # the Trainer logged nothing after the stop
    assert trainer.state.global_step == stop + 1 < test.num_steps
    assert len(applied.group_lrs) == stop + 1
    result = recorder.result()
    assert result["stopped_early"] is True
    assert result["lrs"] == pytest.approx(test.lrs()[: stop + 1], rel=1e-12)
    assert len(result["smoothed"]) == stop + 1
    assert result["suggestions"]["valley"] is not None
