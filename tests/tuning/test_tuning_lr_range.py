"""The range test's LR grid, smoothing, stop rule and result, against numpy, torch and Lightning's own code."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lightning.pytorch.tuner.lr_finder import _ExponentialLR, _LinearLR, _LRCallback

from lrexplorer.catalogues.params import FieldError
from lrexplorer.tuning.lr_range import RangeTest, range_result, smooth


def lightning_lrs(scheduler_cls, start, end, n):
    """The LR of each of n updates under Lightning's range-test scheduler, stepped as its trainer steps it."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=start)
    sched = scheduler_cls(opt, end, n)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize(("mode", "grid"), [("exponential", np.geomspace), ("linear", np.linspace)])
def test_the_grid_is_fastais_and_lightnings_shifted_by_one(mode, grid):
    test = RangeTest(start_lr=1e-6, end_lr=3.0, num_steps=50, mode=mode)
    ours = test.lrs()
    # fastai: update i at position i / num_steps of the way from start to end (end itself never reached).
    np.testing.assert_allclose(ours, grid(1e-6, 3.0, 51)[:-1], rtol=1e-12)
    # Lightning: update 0 at start, then one grid point further than ours, ending on end_lr.
    cls = _ExponentialLR if mode == "exponential" else _LinearLR
    theirs = lightning_lrs(cls, 1e-6, 3.0, 50)
    assert theirs[0] == ours[0]
    np.testing.assert_allclose(theirs[1:-1], ours[2:], rtol=1e-12)
    assert theirs[-1] == pytest.approx(3.0, rel=1e-12)


def fastai_avg_smooth_loss(losses, beta=0.98):
    """fastai's AvgSmoothLoss: torch.lerp towards the loss, divided by 1 - beta**count."""
    val, out = torch.tensor(0.0, dtype=torch.float64), []
    for count, loss in enumerate(losses, start=1):
        val = torch.lerp(torch.tensor(loss, dtype=torch.float64), val, beta)
        out.append(float(val / (1 - beta**count)))
    return out


def lightning_smoothed(losses):
    """Lightning's _LRCallback fed these losses as one per optimizer step, with early stop off."""
    callback = _LRCallback(num_training=len(losses), early_stop_threshold=None)
    trainer = SimpleNamespace(
        fit_loop=SimpleNamespace(batch_idx=0),
        accumulate_grad_batches=1,
        global_step=0,
        should_stop=False,
        strategy=SimpleNamespace(broadcast=lambda x: x),
    )
    for loss in losses:
        trainer.global_step += 1  # Lightning has stepped the optimizer before on_train_batch_end
        callback.on_train_batch_end(trainer, None, {"loss": torch.tensor(loss)}, None, 0)
    return callback.losses


def test_smoothing_is_fastais_debiased_average_and_lightnings_average():
    rng = np.random.default_rng(1)
    losses = list(3 + rng.normal(0, 0.5, 60))
    ours = smooth(losses)
    np.testing.assert_allclose(ours, fastai_avg_smooth_loss(losses), rtol=1e-12)
    # Lightning keeps the same running average but debiases with one more power of beta.
    theirs = lightning_smoothed(losses)
    t = np.arange(1, 61)
    np.testing.assert_allclose(np.array(ours) * (1 - 0.98**t), np.array(theirs) * (1 - 0.98 ** (t + 1)), rtol=1e-6)


def test_a_constant_loss_smooths_to_itself():
    assert smooth([2.5] * 30) == pytest.approx([2.5] * 30, rel=1e-12)


def test_the_record_is_cut_where_the_smoothed_loss_passes_the_threshold():
    test = RangeTest(num_steps=40)
    raw = [4.0 - 0.05 * i for i in range(20)] + [3.0 * 1.6**k for k in range(1, 21)]
    result = range_result(test.lrs(), raw, test)
    smoothed = fastai_avg_smooth_loss(raw)
    stop = next(i for i in range(len(raw)) if smoothed[i] > 4 * min(smoothed[: i + 1]))
    assert result["stopped_early"] is True
    assert len(result["lrs"]) == len(result["losses"]) == len(result["smoothed"]) == stop + 1
    assert result["smoothed"] == pytest.approx(smoothed[: stop + 1], rel=1e-12)
    no_stop = range_result(test.lrs(), raw, RangeTest(num_steps=40, early_stop_threshold=None))
    assert no_stop["stopped_early"] is False and len(no_stop["lrs"]) == 40


def test_a_nan_loss_stops_the_test_and_the_json_is_strict():
    test = RangeTest(num_steps=30)
    raw = [3.0 - 0.01 * i for i in range(20)] + [math.nan] * 10
    result = range_result(test.lrs(), raw, test)
    assert result["stopped_early"] is True and len(result["lrs"]) == 21
    assert result["losses"][-1] is None and result["smoothed"][-1] is None
    text = json.dumps(result, allow_nan=False)
    assert set(json.loads(text)) >= {"lrs", "losses", "smoothed", "stopped_early", "suggestions"}
    assert set(result["suggestions"]) == {"valley", "steep", "minimum", "lightning"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start_lr": 1.0, "end_lr": 0.1}, "end_lr"),
        ({"start_lr": 1e-3, "end_lr": 1e-3}, "end_lr"),
        ({"start_lr": 0.0}, "start_lr"),
        ({"start_lr": -1e-5}, "start_lr"),
        ({"end_lr": -1.0}, "end_lr"),
        ({"end_lr": math.inf}, "end_lr"),
        ({"num_steps": 3}, "num_steps"),
        ({"num_steps": 50.5}, "num_steps"),
        ({"mode": "cosine"}, "mode"),
        ({"early_stop_threshold": 1.0}, "early_stop_threshold"),
    ],
)
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(FieldError) as caught:
        RangeTest(**kwargs)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ":")


def test_the_run_fields_of_a_range_test_are_valid_catalogue_values():
    from lrexplorer.catalogues.params import CATALOGUE

    test = RangeTest(start_lr=1e-6, num_steps=80)
    fields = test.run_fields()
    assert fields["max_steps"] == 80 and fields["learning_rate"] == 1e-6
    for name, value in fields.items():
        assert CATALOGUE[name].convert(value) == value, name
