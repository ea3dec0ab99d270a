"""Vectorized closed forms of the `torch.optim.lr_scheduler` classes a training run can use.

Each function takes `m`, the indices of the scheduler's own steps (0 is the value right after the
scheduler is constructed), the base LR, the number of steps the scheduler spans and the validated
kwargs (those that follow learning_rate already filled in, `Schedule.with_lr`), and returns the LR
it sets. Several torch classes update the LR recursively (multiplying the
previous value); their closed forms agree to float rounding, about 1e-12 relative.
"""

from __future__ import annotations

import math

import numpy as np

from lrexplorer.core.fields import FieldError


def step_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    return lr * np.power(kw["gamma"], m // kw["step_size"])


def multi_step_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    # torch counts repeated milestones: a milestone listed twice decays twice.
    milestones = np.sort(np.asarray(kw["milestones"], dtype=np.int64))
    return lr * np.power(kw["gamma"], np.searchsorted(milestones, m, side="right"))


def constant_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    return lr * np.where(m < kw["total_iters"], kw["factor"], 1.0)


def linear_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    start, end, total = kw["start_factor"], kw["end_factor"], kw["total_iters"]
    return lr * (start + (end - start) * np.minimum(total, m) / total)


def exponential_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    return lr * np.power(kw["gamma"], m)


def polynomial_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    total = kw["total_iters"]
    return lr * np.power(1.0 - np.minimum(total, m) / total, kw["power"])


def cosine_annealing_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    eta_min, t_max = kw["eta_min"], kw["T_max"]
    return eta_min + (lr - eta_min) * (1 + np.cos(np.pi * m / t_max)) / 2


def cosine_annealing_warm_restarts(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    t0, mult, eta_min = kw["T_0"], kw["T_mult"], kw["eta_min"]
    if mult == 1:
        t_cur, t_i = m % t0, np.full(m.shape, t0)
    else:
        # Integer cycle starts 0, T0, T0 + T0*mult, ... up to the last step: exact, no float log.
        starts, length = [0], t0
        last = int(m.max()) if m.size else 0
        while starts[-1] <= last:
            starts.append(starts[-1] + length)
            length *= mult
        starts_arr = np.asarray(starts, dtype=np.int64)
        cycle = np.searchsorted(starts_arr, m, side="right") - 1
        t_cur = m - starts_arr[cycle]
        t_i = t0 * np.power(mult, cycle).astype(np.float64)
    return eta_min + (lr - eta_min) * (1 + np.cos(np.pi * t_cur / t_i)) / 2


def cyclic_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    base_lr, max_lr = kw["base_lr"], kw["max_lr"]
    up = float(kw["step_size_up"])
    down = float(kw["step_size_down"]) if kw["step_size_down"] is not None else up
    total = up + down
    ratio = up / total
    cycle = np.floor(1 + m / total)
    x = 1.0 + m / total - cycle
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    height = (max_lr - base_lr) * scale
    mode = kw["mode"]
    if mode == "triangular":
        return base_lr + height * 1.0
    if mode == "triangular2":
        # torch computes 1 / 2.0 ** (cycle - 1) in Python floats: OverflowError from cycle 1025 on, also at
        # the scheduler step after the last update (m = span), which the Trainer takes too.
        last_cycle = math.floor(1 + span / total)
        if last_cycle - 1 >= 1024:
            raise FieldError(
                "step_size_up",
                f"triangular2 halves the amplitude every cycle and torch's CyclicLR overflows after 1,024 cycles; "
                f"this run needs {last_cycle:,} cycles of {int(total)} updates. Use a longer cycle "
                "(step_size_up / step_size_down) or mode triangular",
            )
        return base_lr + height * (1 / np.power(2.0, cycle - 1))
    return base_lr + height * np.power(kw["gamma"], m.astype(np.float64))


def one_cycle_lr(m: np.ndarray, lr: float, span: int, kw: dict) -> np.ndarray:
    max_lr, total = kw["max_lr"], kw["total_steps"]
    if span > total:
        # The Trainer steps the scheduler after every update, so torch would raise at update total + 1.
        raise FieldError(
            "total_steps",
            f"{total} is shorter than the {span} updates it has to cover; torch raises once it is exceeded. "
            "Leave it empty to use the run's length",
            "OneCycleLR",
        )
    pct = kw["pct_start"]
    initial = max_lr / kw["div_factor"]
    floor = initial / kw["final_div_factor"]
    if kw["three_phase"]:
        phases = [
            (float(pct * total) - 1, initial, max_lr),
            (float(2 * pct * total) - 2, max_lr, initial),
            (total - 1, initial, floor),
        ]
    else:
        phases = [(float(pct * total) - 1, initial, max_lr), (total - 1, max_lr, floor)]
    out = np.empty(m.shape)
    todo = np.ones(m.shape, dtype=bool)
    start = 0.0
    for i, (end, a, b) in enumerate(phases):
        sel = todo & ((m <= end) if i < len(phases) - 1 else True)
        if sel.any():
            if end == start:
                raise FieldError(
                    "pct_start",
                    f"a phase of zero length ({pct:g} with {total} steps) makes torch divide by zero; choose a "
                    "pct_start that gives each phase at least one step",
                    "OneCycleLR",
                )
            frac = (m[sel] - start) / (end - start)
            if kw["anneal_strategy"] == "cos":
                out[sel] = b + (a - b) / 2.0 * (np.cos(np.pi * frac) + 1)
            else:
                out[sel] = (b - a) * frac + a
            todo &= ~sel
        start = end
    return out


def validate_torch(name: str, kw: dict, lr: float) -> None:
    """Cross-field rules the real classes enforce (or crash on), checked before any curve is drawn."""
    if name == "CyclicLR" and kw["mode"] == "exp_range" and kw["gamma"] <= 0:
        raise FieldError("gamma", "must be > 0 for mode 'exp_range'", "CyclicLR")
    if name == "OneCycleLR" and not math.isfinite(kw["pct_start"]):
        raise FieldError("pct_start", "must be a number between 0 and 1", "OneCycleLR")
