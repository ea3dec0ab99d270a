"""The LR range test ("LR finder") as fastai runs it: the LR grid, the smoothed loss, the stop rule.

A range test trains for `num_steps` optimizer updates, each at a larger learning rate than the last,
and records the loss of each update. Following fastai's `LRFinder` (the reference; Lightning's
`Tuner.lr_find` differs in the details noted below):

- update i (0-based) uses ``start_lr * (end_lr / start_lr) ** (i / num_steps)`` (exponential) or
  ``start_lr + (i / num_steps) * (end_lr - start_lr)`` (linear), so the last update stops one grid
  step short of `end_lr`. Lightning keeps update 0 at `start_lr`, then uses exponent (i + 1) / num_steps,
  reaching `end_lr` on the last update: the same grid shifted by one update after the first.
- the smoothed loss is a debiased exponential moving average with beta = 0.98:
  ``avg = beta * avg + (1 - beta) * loss`` and ``smoothed = avg / (1 - beta ** t)`` after t updates,
  so a constant loss smooths to itself. Lightning divides by ``1 - beta ** (t + 1)``, which makes its
  first smoothed value about half the first loss.
- the test stops after the first update whose smoothed loss exceeds `early_stop_threshold` times the
  lowest smoothed loss so far (4 by default in both libraries). A nan or inf loss stops it too: the
  anchors keep going and drop those points before suggesting.

Nothing here imports torch: the page and the CLI use it to plan, the trainer pieces in
`range_trainer.py` use it to run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from lrexplorer.catalogues.params import FieldError
from lrexplorer.core.fields import Field
from lrexplorer.core.limits import MAX_EARLY_STOP, MAX_LR, MAX_RANGE_STEPS
from lrexplorer.tuning.suggest import suggest

MODES = ("exponential", "linear")
BETA = 0.98  # smoothing of fastai's AvgSmoothLoss and Lightning's _LRCallback
MIN_STEPS = 6  # fastai raises smaller num_it to 6; we refuse them instead


# The range test's own settings as fields, for the `lr-find` flags and the page's form; RangeTest
# checks them again together (end_lr above start_lr).
RANGE_FIELDS: tuple[Field, ...] = (
    Field("start_lr", "float", 1e-7, "Learning rate of the first update.", low=0.0, low_open=True, high=MAX_LR),
    Field(
        "end_lr",
        "float",
        10.0,
        "Learning rate the test grows towards (above start_lr).",
        low=0.0,
        low_open=True,
        high=MAX_LR,
    ),
    Field("num_steps", "int", 100, "Optimizer updates of the test, one LR each.", low=MIN_STEPS, high=MAX_RANGE_STEPS),
    Field("mode", "choice", "exponential", "How the LR grows from start_lr to end_lr.", choices=MODES),
    Field(
        "early_stop_threshold",
        "float",
        4.0,
        "Stop once the smoothed loss exceeds this many times the lowest smoothed loss; null: never stop early.",
        low=1.0,
        low_open=True,
        high=MAX_EARLY_STOP,
        nullable=True,
    ),
)


@dataclass(frozen=True)
class RangeTest:
    """Settings of one range test; defaults are fastai's `lr_find` defaults."""

    start_lr: float = 1e-7
    end_lr: float = 10.0
    num_steps: int = 100
    mode: str = "exponential"
    early_stop_threshold: float | None = 4.0  # None: never stop early

    def __post_init__(self) -> None:
        for name in ("start_lr", "end_lr"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not 0 < value <= MAX_LR
            ):
                raise FieldError(name, f"must be a number > 0 and <= {MAX_LR:g}; got {value!r}")
        if self.end_lr <= self.start_lr:
            raise FieldError("end_lr", f"must be greater than start_lr ({self.start_lr:g}); got {self.end_lr:g}")
        steps = self.num_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not MIN_STEPS <= steps <= MAX_RANGE_STEPS:
            raise FieldError("num_steps", f"must be an integer from {MIN_STEPS} to {MAX_RANGE_STEPS:,}; got {steps!r}")
        if self.mode not in MODES:
            raise FieldError("mode", f"must be one of {', '.join(MODES)}; got {self.mode!r}")
        limit = self.early_stop_threshold
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, (int, float))
            or not math.isfinite(limit)
            or not 1 < limit <= MAX_EARLY_STOP
        ):
            raise FieldError(
                "early_stop_threshold",
                f"must be a number > 1 and <= {MAX_EARLY_STOP:g}, or null to never stop early; got {limit!r}",
            )

    @classmethod
    def from_fields(cls, given: dict[str, Any]) -> RangeTest:
        """A range test from values as typed (flags, a form); every bad value named at once."""
        values, errors = {}, []
        for field in RANGE_FIELDS:
            try:
                values[field.name] = field.convert(given.get(field.name, field.default))
            except FieldError as exc:
                errors.append(exc)
        if errors:
            raise FieldError.collect(errors)
        return cls(**values)

    def lr_at(self, step: int) -> float:
        """The learning rate of update `step` (0-based)."""
        pos = step / self.num_steps
        if self.mode == "exponential":
            return self.start_lr * (self.end_lr / self.start_lr) ** pos
        return self.start_lr + pos * (self.end_lr - self.start_lr)

    def lrs(self) -> list[float]:
        return [self.lr_at(i) for i in range(self.num_steps)]

    def settings(self) -> dict[str, Any]:
        return asdict(self)

    def run_fields(self) -> dict[str, Any]:
        """The run fields a range test sets over the user's own: its length, per-update logs, no warmup,
        no evaluation or checkpoints, and a nan left visible. `learning_rate` only starts the optimizer
        off; `RangeTestLR` sets every update's LR."""
        return {
            "max_steps": self.num_steps,
            "learning_rate": self.start_lr,
            "lr_scheduler_type": "constant",
            "lr_scheduler_kwargs": {},
            "warmup_steps": 0.0,
            "logging_strategy": "steps",
            "logging_steps": 1,
            "logging_nan_inf_filter": False,
            "eval_strategy": "no",
            "save_strategy": "no",
        }


class LossSmoother:
    """The running smoothed loss and the stop rule, one update at a time (the callback feeds it)."""

    def __init__(self, early_stop_threshold: float | None = 4.0, beta: float = BETA) -> None:
        self.threshold = early_stop_threshold
        self.beta = beta
        self.avg = 0.0
        self.count = 0
        self.best = math.inf

    def add(self, loss: float) -> tuple[float, bool]:
        """The smoothed loss after this update, and whether the test stops here."""
        self.count += 1
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        smoothed = self.avg / (1 - self.beta**self.count)
        if not math.isfinite(smoothed):
            return smoothed, True
        self.best = min(self.best, smoothed)
        return smoothed, self.threshold is not None and smoothed > self.threshold * self.best


def smooth(losses: list[float], beta: float = BETA) -> list[float]:
    """The debiased moving average of a whole loss series (no stopping)."""
    smoother = LossSmoother(None, beta)
    return [smoother.add(loss)[0] for loss in losses]


def range_result(lrs: list[float], losses: list[float], test: RangeTest | None = None) -> dict[str, Any]:
    """The range test's result from its record of (lr, raw loss) per update, in the JSON shape.

    The smoothed losses and the stop are recomputed from the raw losses with `test`'s threshold, so a
    record that runs past the point where the rule fires is cut there. Non-finite numbers become None
    (JSON null). `suggestions` maps each method to its LR (None when the record is too short for it);
    `suggestion_index` gives the update whose point on the curve the method picked.
    """
    if len(lrs) != len(losses):
        raise ValueError(f"lrs and losses differ in length: {len(lrs)} and {len(losses)}")
    test = test or RangeTest()
    smoother = LossSmoother(test.early_stop_threshold)
    smoothed: list[float] = []
    stopped = False
    for loss in losses:
        value, stopped = smoother.add(float(loss))
        smoothed.append(value)
        if stopped:
            break
    kept = [float(lr) for lr in lrs[: len(smoothed)]]
    found = suggest(kept, smoothed, test.num_steps)
    return {
        "lrs": kept,
        "losses": [_finite(float(x)) for x in losses[: len(smoothed)]],
        "smoothed": [_finite(x) for x in smoothed],
        "stopped_early": stopped,
        "suggestions": {name: s.lr if s else None for name, s in found.items()},
        "suggestion_index": {name: s.index if s else None for name, s in found.items()},
        "settings": test.settings(),
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
