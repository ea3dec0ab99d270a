"""Vectorized closed forms of transformers' `SchedulerType` schedules.

Each function takes the optimizer-update indices `k` (0..N-1), the base learning rate, the total
number of updates `n`, the warmup steps `w` and the validated kwargs, and returns the LR applied at
each update. The arithmetic mirrors transformers/optimization.py operation by operation (same
order, same float conversions), so results agree with `get_scheduler` to the last few ulps.
"""

from __future__ import annotations

import numpy as np

from lrexplorer.core.fields import FieldError


def _warmup(k: np.ndarray, w: int) -> np.ndarray:
    return k / float(max(1, w))


def linear(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    decay = np.maximum(0.0, (n - k) / float(max(1, n - w)))
    return lr * np.where(k < w, _warmup(k, w), decay)


def _cosine_factor(k: np.ndarray, n: int, w: int, num_cycles: float) -> np.ndarray:
    progress = (k - w) / float(max(1, n - w))
    return 0.5 * (1.0 + np.cos(np.pi * float(num_cycles) * 2.0 * progress))


def cosine(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    factor = np.maximum(0.0, _cosine_factor(k, n, w, kw["num_cycles"]))
    return lr * np.where(k < w, _warmup(k, w), factor)


def cosine_with_restarts(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    progress = (k - w) / float(max(1, n - w))
    wave = np.maximum(0.0, 0.5 * (1.0 + np.cos(np.pi * np.mod(float(kw["num_cycles"]) * progress, 1.0))))
    after = np.where(progress >= 1.0, 0.0, wave)
    return lr * np.where(k < w, _warmup(k, w), after)


def polynomial(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    lr_end, power = kw["lr_end"], kw["power"]
    if not lr > lr_end:
        raise FieldError("lr_end", f"must be smaller than learning_rate ({lr:g}); got {lr_end:g}", "polynomial")
    decay_steps = n - w
    if decay_steps == 0:
        # transformers divides by N - W when the scheduler is stepped after the last update.
        raise FieldError(
            "warmup_steps",
            "equal to the total steps makes transformers divide by zero after the last update; use fewer warmup steps",
            "polynomial",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        pct_remaining = 1 - (k - w) / decay_steps if decay_steps else np.zeros(k.shape)
        decay = (lr - lr_end) * np.power(pct_remaining, power) + lr_end
    after = np.where(k > n, lr_end / lr, decay / lr)
    return lr * np.where(k < w, _warmup(k, w), after)


def constant(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    # get_scheduler("constant") ignores the warmup entirely.
    return np.full(k.shape, lr * 1.0)


def constant_with_warmup(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    return lr * np.where(k < w, k / float(max(1.0, w)), 1.0)


def inverse_sqrt(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    timescale = kw["timescale"]
    if timescale is None:
        timescale = w or 10_000
    shift = timescale - w
    with np.errstate(invalid="ignore", divide="ignore"):
        decay = 1.0 / np.sqrt((k + shift) / timescale)
    return lr * np.where(k < w, _warmup(k, w), decay)


def metric_driven(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    """reduce_lr_on_plateau and greedy change the LR only when an evaluation reports a metric.

    Without evaluation results the optimizer keeps the base LR at every update, which is what the
    Trainer applies and logs; the page explains the reaction to eval loss beside the flat line.
    """
    return np.full(k.shape, lr * 1.0)


def _min_lr_rate(lr: float, kw: dict, schedule: str) -> float:
    min_lr, rate = kw["min_lr"], kw["min_lr_rate"]
    if min_lr is not None and rate is not None:
        raise FieldError("min_lr", "set only one of min_lr and min_lr_rate, not both", schedule)
    if min_lr is not None:
        return min_lr / lr
    if rate is None:
        raise FieldError(
            "min_lr_rate", "set one of min_lr (absolute) or min_lr_rate (fraction of learning_rate)", schedule
        )
    return rate


def cosine_with_min_lr(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    rate = _min_lr_rate(lr, kw, "cosine_with_min_lr")
    factor = _cosine_factor(k, n, w, kw["num_cycles"]) * (1 - rate) + rate
    return lr * np.where(k < w, _warmup(k, w), np.maximum(0, factor))


def cosine_warmup_with_min_lr(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    rate = _min_lr_rate(lr, kw, "cosine_warmup_with_min_lr")
    kf, wf, nf = k.astype(np.float64), float(w), float(n)
    warmup_rate = kw["warmup_lr_rate"]
    if warmup_rate is None:
        warm = (kf + 1.0) / max(1.0, wf)
    else:
        warm = warmup_rate + (1.0 - warmup_rate) * kf / max(1, wf - 1)
    progress = (kf - wf + 1.0) / max(1.0, nf - wf)
    factor = 0.5 * (1.0 + np.cos(np.pi * kw["num_cycles"] * 2.0 * progress))
    factor = factor * (1 - rate) + rate
    return lr * np.where(kf < wf, warm, np.maximum(0, factor))


_WSD_WARMUP = {
    "linear": lambda p: p,
    "cosine": lambda p: 0.5 * (1.0 - np.cos(np.pi * p)),
    "1-sqrt": lambda p: 1.0 - np.sqrt(np.maximum(0.0, 1.0 - p)),
}


def warmup_stable_decay(k: np.ndarray, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    decay_steps = kw["num_decay_steps"]
    stable = kw["num_stable_steps"]
    if stable is None:
        stable = n - w - decay_steps
    floor = kw["min_lr_ratio"]
    warm_p = k / float(max(1, w))
    warm = np.maximum(0.0, _WSD_WARMUP[kw["warmup_type"]](warm_p) * (1.0 - floor) + floor)
    decay_p = (k - w - stable) / float(max(1, decay_steps))
    decay_type = kw["decay_type"]
    if decay_type == "linear":
        shape = 1.0 - decay_p
    elif decay_type == "cosine":
        shape = 0.5 * (1.0 + np.cos(np.pi * float(kw["num_cycles"]) * 2.0 * decay_p))
    else:
        with np.errstate(invalid="ignore"):
            shape = 1.0 - np.sqrt(decay_p)
    decay = np.maximum(0.0, shape * (1.0 - floor) + floor)
    lam = np.select([k < w, k < w + stable, k < w + stable + decay_steps], [warm, 1.0, decay], floor)
    return lr * lam
