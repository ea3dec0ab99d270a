"""The LR curve of any catalogued schedule: one value per optimizer update, as the trainer applies it.

Value k of a curve is the LR used by the k-th `optimizer.step()` (k = 0..N-1): what
`scheduler.get_last_lr()[0]` holds just before that update.

Warmup rule for torch classes (applied identically by `build.build_scheduler`): for the first W
updates the LR rises linearly, eta_0 * k / W (so the first update uses 0, exactly like the
transformers schedules); at update W the torch class is constructed on the optimizer and takes over,
running over the remaining N - W updates as if training had started there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrexplorer.core.fields import MAX_INT, FieldError
from lrexplorer.schedules.catalogue_hf import HF_SCHEDULES
from lrexplorer.schedules.catalogue_torch import TORCH_SCHEDULES
from lrexplorer.schedules.entry import Schedule
from lrexplorer.schedules.params import LEARNING_RATE

CATALOGUE: dict[str, Schedule] = {s.name: s for s in (*HF_SCHEDULES, *TORCH_SCHEDULES)}

# Longest curve we compute: 8 bytes a step, so 400 MB at most (a million steps is 8 MB).
MAX_CURVE_STEPS = 50_000_000

# The six schedules of the training notes, in the notes' order.
NOTES_SCHEDULES = ("constant", "StepLR", "ExponentialLR", "CosineAnnealingLR", "constant_with_warmup", "OneCycleLR")


def schedule_names() -> list[str]:
    return list(CATALOGUE)


def get_schedule(name: str) -> Schedule:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise FieldError(
            "lr_scheduler_type", f"unknown schedule {name!r}; valid names: {', '.join(CATALOGUE)}"
        ) from None


def span_of(schedule: Schedule, total_steps: int, warmup_steps: int) -> int:
    """Updates the schedule's own formula covers: all of them, or those after our warmup for torch classes."""
    if schedule.family == "torch":
        return max(0, total_steps - warmup_steps)
    return total_steps


@dataclass(frozen=True)
class Curve:
    name: str
    lr: np.ndarray  # LR applied at update k, k = 0..N-1
    kwargs: dict[str, Any]  # resolved kwargs; those that follow learning_rate stay None (`Schedule.with_lr`)
    warmup_steps: int

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.lr.size)


def compute_curve(
    name: str, learning_rate: float, total_steps: int, warmup_steps: int = 0, kwargs: dict[str, Any] | None = None
) -> Curve:
    """Vectorized curve of schedule `name` (raises FieldError naming the field on bad input)."""
    _check_run(learning_rate, total_steps, warmup_steps)
    lr, kw = lr_at(name, learning_rate, total_steps, warmup_steps, kwargs, np.arange(total_steps, dtype=np.int64))
    return Curve(name=name, lr=lr, kwargs=kw, warmup_steps=warmup_steps)


def lr_at(
    name: str,
    learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    kwargs: dict[str, Any] | None,
    k: np.ndarray,
) -> tuple[np.ndarray, dict[str, Any]]:
    """(LR of the updates `k`, resolved kwargs): `compute_curve(...).lr[k]` without the other updates (the
    curve functions are element-wise in k, so the values are the same to the bit). The run is not checked."""
    schedule = get_schedule(name)
    span = span_of(schedule, total_steps, warmup_steps)
    kw = schedule.resolve(kwargs, max(1, span))
    real = schedule.with_lr(kw, float(learning_rate))
    k = np.asarray(k, dtype=np.int64)
    # Overflow to inf is caught below with a message naming the arguments; numpy's own warnings are noise.
    with np.errstate(all="ignore"):
        if schedule.family == "transformers":
            lr = np.broadcast_to(schedule.curve(k, float(learning_rate), total_steps, warmup_steps, real), k.shape)
        else:
            from lrexplorer.schedules.torch_curves import validate_torch

            validate_torch(name, real, learning_rate)
            lr = np.empty(k.shape)
            warm = k < warmup_steps
            lr[warm] = float(learning_rate) * k[warm] / max(1, warmup_steps)
            if span and not warm.all():
                lr[~warm] = schedule.curve(k[~warm] - warmup_steps, float(learning_rate), span, real)
    lr = np.array(lr, dtype=np.float64)
    if not np.all(np.isfinite(lr)):
        raise FieldError("lr_scheduler_kwargs", f"these arguments give a non-finite learning rate ({kw})", name)
    return lr, kw


def curve_for(values: Mapping[str, Any], total_steps: int, warmup_steps: int) -> Curve:
    """The curve of the schedule that catalogue `values` describe (lr_scheduler_type, learning_rate, kwargs)."""
    return compute_curve(
        values["lr_scheduler_type"],
        values["learning_rate"],
        total_steps,
        warmup_steps,
        dict(values["lr_scheduler_kwargs"]),
    )


def _check_run(learning_rate: float, total_steps: int, warmup_steps: int) -> None:
    LEARNING_RATE.convert(learning_rate)
    if (
        isinstance(total_steps, bool)
        or not isinstance(total_steps, (int, np.integer))
        or not 1 <= total_steps <= MAX_CURVE_STEPS
    ):
        raise FieldError(
            "max_steps", f"the run must have from 1 to {MAX_CURVE_STEPS:,} optimizer updates; got {total_steps!r}"
        )
    if (
        isinstance(warmup_steps, bool)
        or not isinstance(warmup_steps, (int, np.integer))
        or not 0 <= warmup_steps <= MAX_INT
    ):
        raise FieldError("warmup_steps", f"the warmup must be a whole number of updates >= 0; got {warmup_steps!r}")
