"""`build_scheduler` (what a training run steps) gives the curve, and survives a checkpoint resume."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers.real_schedulers import METRIC_DRIVEN, assert_same_curve, rtol_for

from lrexplorer.schedules import CATALOGUE, compute_curve
from lrexplorer.schedules.build import build_scheduler
from lrexplorer.schedules.warmup import LinearWarmupThen


def stepped(name: str, lr: float, n: int, w: int, kwargs: dict | None = None) -> np.ndarray:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)
    sched = build_scheduler(name, opt, n, w, kwargs)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            out.append(opt.param_groups[0]["lr"])  # what the optimizer really uses for this update
            opt.step()
            if name not in METRIC_DRIVEN:
                sched.step()
    return np.asarray(out)


@pytest.mark.parametrize("name", list(CATALOGUE))
@pytest.mark.parametrize(("n", "w"), [(1, 0), (50, 0), (50, 7), (50, 50), (300, 40)])
def test_built_scheduler_applies_the_curve(name: str, n: int, w: int) -> None:
    if name == "polynomial" and n == w:
        pytest.skip("transformers divides by zero here; covered in test_schedules_exact")
    curve = compute_curve(name, 1e-3, n, w)
    assert_same_curve(curve.lr, stepped(name, 1e-3, n, w), 1e-3, rtol_for(name))


def test_torch_class_with_warmup_is_wrapped() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    assert isinstance(build_scheduler("StepLR", opt, 100, 10), LinearWarmupThen)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    assert isinstance(build_scheduler("StepLR", opt, 100, 0), torch.optim.lr_scheduler.StepLR)


@pytest.mark.parametrize(
    "name", ["StepLR", "CosineAnnealingLR", "OneCycleLR", "CyclicLR", "CosineAnnealingWarmRestarts"]
)
@pytest.mark.parametrize("stop_at", [3, 10, 25])
def test_warmup_wrapper_resumes_from_state_dict(name: str, stop_at: int) -> None:
    """Save optimizer + scheduler state mid-run (in or after warmup), rebuild, load, continue: same LRs."""
    n, w, lr = 60, 10, 0.05
    full = stepped(name, lr, n, w)
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([param], lr=lr)
    sched = build_scheduler(name, opt, n, w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(stop_at):
            opt.step()
            sched.step()
        opt_state, sched_state = opt.state_dict(), sched.state_dict()
        torch.save(sched_state, "/dev/null")  # the Trainer saves it with torch.save: must be picklable
        opt2 = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)
        sched2 = build_scheduler(name, opt2, n, w)
        opt2.load_state_dict(opt_state)
        sched2.load_state_dict(sched_state)
        resumed = []
        for _ in range(stop_at, n):
            resumed.append(opt2.param_groups[0]["lr"])
            assert sched2.get_last_lr()[0] == pytest.approx(resumed[-1], rel=1e-12)
            opt2.step()
            sched2.step()
    np.testing.assert_allclose(resumed, full[stop_at:], rtol=1e-9, atol=1e-15)
