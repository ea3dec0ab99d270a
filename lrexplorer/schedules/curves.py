"""The LR curve of any catalogued schedule: one value per optimizer update, as the trainer applies it.

Value k of a curve is the LR used by the k-th `optimizer.step()` (k = 0..N-1): what
`scheduler.get_last_lr()[0]` holds just before that update.

Warmup rule for torch classes (applied identically by `build.build_scheduler`): for the first W
updates the LR rises linearly, eta_0 * k / W (so the first update uses 0, exactly like the
transformers schedules); at update W the torch class is constructed on the optimizer and takes over,
running over the remaining N - W updates as if training had started there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .catalogue_hf import HF_SCHEDULES
from .catalogue_torch import TORCH_SCHEDULES
from .entry import Schedule
from .params import ScheduleError

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
        raise ScheduleError(
            f"lr_scheduler_type: unknown schedule {name!r}. Valid names: {', '.join(CATALOGUE)}.",
            "lr_scheduler_type",
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
    kwargs: dict[str, Any]  # resolved kwargs, exactly as passed to the real scheduler
    warmup_steps: int

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.lr.size)


def compute_curve(
    name: str, learning_rate: float, total_steps: int, warmup_steps: int = 0, kwargs: dict[str, Any] | None = None
) -> Curve:
    """Vectorized curve of schedule `name` (raises ScheduleError naming the field on bad input)."""
    schedule = get_schedule(name)
    _check_run(learning_rate, total_steps, warmup_steps)
    span = span_of(schedule, total_steps, warmup_steps)
    kw = schedule.resolve(kwargs, max(1, span))
    k = np.arange(total_steps, dtype=np.int64)
    # Overflow to inf is caught below with a message naming the arguments; numpy's own warnings are noise.
    with np.errstate(all="ignore"):
        if schedule.family == "transformers":
            lr = schedule.curve(k, float(learning_rate), total_steps, warmup_steps, kw)
        else:
            from .torch_curves import validate_torch

            validate_torch(name, kw, learning_rate)
            lr = np.empty(total_steps)
            w = min(warmup_steps, total_steps)
            lr[:w] = float(learning_rate) * k[:w] / max(1, warmup_steps)
            if span:
                lr[w:] = schedule.curve(k[w:] - w, float(learning_rate), span, kw)
    lr = np.asarray(lr, dtype=np.float64)
    if not np.all(np.isfinite(lr)):
        raise ScheduleError(f"{name}: these arguments give a non-finite learning rate ({kw}).", "lr_scheduler_kwargs")
    return Curve(name=name, lr=lr, kwargs=kw, warmup_steps=warmup_steps)


def _check_run(learning_rate: float, total_steps: int, warmup_steps: int) -> None:
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise ScheduleError(f"learning_rate must be a number > 0, got {learning_rate!r}.", "learning_rate")
    if not np.isfinite(learning_rate):
        raise ScheduleError(f"learning_rate must be finite, got {learning_rate!r}.", "learning_rate")
    if (
        isinstance(total_steps, bool)
        or not isinstance(total_steps, (int, np.integer))
        or not 1 <= total_steps <= MAX_CURVE_STEPS
    ):
        raise ScheduleError(
            f"max_steps (total optimizer updates) must be an integer from 1 to {MAX_CURVE_STEPS:,}, got {total_steps!r}.",
            "max_steps",
        )
    if (
        isinstance(warmup_steps, bool)
        or not isinstance(warmup_steps, (int, np.integer))
        or not 0 <= warmup_steps <= 10**12
    ):
        raise ScheduleError(f"warmup_steps must be an integer >= 0, got {warmup_steps!r}.", "warmup_steps")
