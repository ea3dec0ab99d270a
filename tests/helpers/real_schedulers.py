"""Reference LR sequences from the real libraries, stepped the way the Trainer steps them.

These helpers know nothing of our formulas: they construct `transformers.get_scheduler` or the
`torch.optim.lr_scheduler` class and record the LR before every `optimizer.step()`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from transformers import get_scheduler

METRIC_DRIVEN = ("reduce_lr_on_plateau", "greedy")
# torch classes whose step() computes the LR from the previous one (they keep their closed form apart,
# in `_get_closed_form_lr`): they agree with any closed form only to accumulated float rounding. Read
# from torch itself, so a class that changes is noticed; if torch drops the method, every class gets
# the strict tolerance and the tests say so.
RECURSIVE = frozenset(
    name
    for name, cls in vars(torch.optim.lr_scheduler).items()
    if isinstance(cls, type) and "_get_closed_form_lr" in vars(cls)
)
CLOSED_RTOL, RECURSIVE_RTOL = 1e-9, 1e-6


def rtol_for(name: str) -> float:
    """How closely our curve must equal the real scheduler's LR for schedule `name`."""
    return RECURSIVE_RTOL if name in RECURSIVE else CLOSED_RTOL


def _optimizer(lr: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def _record(optimizer: torch.optim.Optimizer, scheduler, n: int, step_scheduler: bool = True) -> np.ndarray:
    out = np.empty(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(n):
            out[k] = optimizer.param_groups[0]["lr"] if not step_scheduler else scheduler.get_last_lr()[0]
            optimizer.step()
            if step_scheduler:
                scheduler.step()
    return out


def hf_reference(name: str, lr: float, n: int, w: int, kwargs: dict) -> np.ndarray:
    """LR at each update from transformers.get_scheduler, as Trainer.create_scheduler calls it."""
    opt = _optimizer(lr)
    sched = get_scheduler(name, opt, num_warmup_steps=w, num_training_steps=n, scheduler_specific_kwargs=dict(kwargs))
    # The Trainer never steps metric-driven schedulers without an evaluation; it logs the optimizer's LR.
    return _record(opt, sched, n, step_scheduler=name not in METRIC_DRIVEN)


def torch_reference(name: str, lr: float, n: int, w: int, kwargs: dict) -> np.ndarray:
    """Our documented warmup rule (lr * k / W for k < W), then a fresh torch class for the remaining updates."""
    kwargs = dict(kwargs)
    if name in ("CyclicLR", "OneCycleLR") and kwargs.get("max_lr") is None:
        kwargs["max_lr"] = lr
    if name == "CyclicLR" and kwargs.get("base_lr") is None:
        kwargs["base_lr"] = lr / 10
    warm = [lr * k / max(1, w) for k in range(min(w, n))]
    rest = n - len(warm)
    if rest == 0:
        return np.asarray(warm, dtype=float)
    opt = _optimizer(lr)
    cls = getattr(torch.optim.lr_scheduler, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = cls(opt, **kwargs)
    return np.concatenate([np.asarray(warm, dtype=float), _record(opt, sched, rest)])


def reference(name: str, family: str, lr: float, n: int, w: int, kwargs: dict) -> np.ndarray:
    return (hf_reference if family == "transformers" else torch_reference)(name, lr, n, w, kwargs)


def assert_same_curve(ours: np.ndarray, real: np.ndarray, lr: float, rtol: float) -> None:
    """Equal within `rtol` of each value; values that are zero up to rounding compare against 1e-12 * lr."""
    assert ours.shape == real.shape
    diff = np.abs(ours - real)
    bound = rtol * np.abs(real) + 1e-12 * lr
    bad = np.flatnonzero(diff > bound)
    if bad.size:
        k = int(bad[0])
        raise AssertionError(
            f"{bad.size} of {real.size} updates differ; first at k={k}: ours={ours[k]!r} real={real[k]!r} "
            f"(rel {diff[k] / max(abs(real[k]), math.ulp(0)):.3g})"
        )


def real_failure(name: str, family: str, lr: float, n: int, w: int, kwargs: dict) -> str | None:
    """Why the real scheduler cannot serve this run (an exception it raises, or a non-finite or negative
    LR it applies), or None when it can. `kwargs` go to it as given, without our validation.

    A torch class missing a required argument is a mistake in the test, not a failure of the class.
    """
    try:
        real = reference(name, family, lr, n, w, kwargs)
    except TypeError as exc:
        if "required positional argument" in str(exc):
            raise AssertionError(f"{name}: give the real class every required argument ({exc})") from None
        return f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - any refusal by the real library counts
        return f"{type(exc).__name__}: {exc}"
    bad = np.flatnonzero(~np.isfinite(real) | (real < 0))
    if bad.size:
        return f"LR {real[bad[0]]!r} at update {int(bad[0])}"
    return None
