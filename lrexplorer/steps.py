"""How many optimizer updates a run makes, counted exactly as the transformers Trainer counts them.

Mirrors `Trainer.set_initial_training_values` and `TrainingArguments.get_warmup_steps` of
transformers 5, with the per-process dataloader length that `accelerate` gives each of `world_size`
processes (its `BatchSamplerShard`, with even batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .schedules.params import ScheduleError


@dataclass(frozen=True)
class StepPlan:
    total_steps: int  # optimizer updates in the whole run (the scheduler's num_training_steps)
    warmup_steps: int  # warmup updates passed to the scheduler
    updates_per_epoch: int | None  # None when only max_steps is known
    batches_per_epoch: int | None  # micro-batches each process sees per epoch
    epochs: int | None  # passes over the data the Trainer starts (the last may be partial)
    epoch_based: bool  # True when num_train_epochs (not max_steps) decided the length
    global_batch_size: int  # examples per optimizer update across all processes
    notes: tuple[str, ...] = ()  # deprecations and surprises worth telling the user

    def epoch_boundaries(self) -> list[int]:
        """Update indices k at which a new epoch starts (k = e * updates_per_epoch, 0 < k < N)."""
        if not self.updates_per_epoch:
            return []
        return list(range(self.updates_per_epoch, self.total_steps, self.updates_per_epoch))


def warmup_steps_for(
    total_steps: int, warmup_steps: float = 0, warmup_ratio: float | None = None
) -> tuple[int, tuple[str, ...]]:
    """Warmup updates for a run of `total_steps`: a value >= 1 is a count, a value < 1 a fraction.

    `warmup_ratio` was removed in transformers 5; it is accepted here as the fraction it used to be.
    """
    notes: list[str] = []
    if warmup_ratio is not None:
        if not 0 <= warmup_ratio < 1:
            raise ScheduleError(f"warmup_ratio must be in [0, 1), got {warmup_ratio!r}.", "warmup_ratio")
        if warmup_steps:
            raise ScheduleError("Give warmup_steps or the deprecated warmup_ratio, not both.", "warmup_ratio")
        notes.append(
            f"warmup_ratio is gone from transformers 5; write warmup_steps={warmup_ratio:g} "
            "(a value below 1 is read as a fraction of the total steps)."
        )
        warmup_steps = warmup_ratio
    if (
        isinstance(warmup_steps, bool)
        or not isinstance(warmup_steps, (int, float))
        or not warmup_steps >= 0
        or math.isinf(warmup_steps)
    ):
        raise ScheduleError(
            f"warmup_steps must be >= 0 (a count, or a fraction of the run when below 1), got {warmup_steps!r}.",
            "warmup_steps",
        )
    if warmup_steps >= 1:
        return int(warmup_steps), tuple(notes)
    return math.ceil(total_steps * warmup_steps), tuple(notes)


def batches_per_process(num_examples: int, batch_size: int, world_size: int = 1, drop_last: bool = False) -> int:
    """len(train_dataloader) on one process: accelerate deals whole batches round-robin to processes."""
    batches = num_examples // batch_size if drop_last else math.ceil(num_examples / batch_size)
    if drop_last:
        return batches // world_size
    return math.ceil(batches / world_size)


def plan_steps(
    *,
    num_examples: int | None = None,
    per_device_train_batch_size: int = 8,
    gradient_accumulation_steps: int = 1,
    num_train_epochs: float = 3.0,
    max_steps: int = -1,
    world_size: int = 1,
    dataloader_drop_last: bool = False,
    warmup_steps: float = 0,
    warmup_ratio: float | None = None,
) -> StepPlan:
    """Total, per-epoch and warmup updates of a Trainer run with these arguments."""
    _positive_int("per_device_train_batch_size", per_device_train_batch_size)
    _positive_int("gradient_accumulation_steps", gradient_accumulation_steps)
    _positive_int("world_size", world_size)
    global_batch = per_device_train_batch_size * gradient_accumulation_steps * world_size
    if isinstance(max_steps, bool) or not isinstance(max_steps, int):
        raise ScheduleError(f"max_steps must be an integer (-1 to use epochs), got {max_steps!r}.", "max_steps")
    if max_steps == 0 or max_steps < -1:
        raise ScheduleError(f"max_steps must be >= 1, or -1 to count from epochs; got {max_steps}.", "max_steps")

    batches = upe = None
    if num_examples is not None:
        _positive_int("num_examples", num_examples)
        batches = batches_per_process(num_examples, per_device_train_batch_size, world_size, dataloader_drop_last)
        if batches == 0:
            # Epoch-based, the Trainer raises; with max_steps it loops over an empty loader forever.
            raise ScheduleError(
                f"num_examples: {num_examples} examples give no full batch (world_size × per_device_train_batch_size "
                f"= {world_size * per_device_train_batch_size}) with dataloader_drop_last, so no update would ever run.",
                "num_examples",
            )
        upe = max(batches // gradient_accumulation_steps + int(batches % gradient_accumulation_steps > 0), 1)

    if max_steps > 0:
        total, epoch_based = max_steps, False
        epochs = None if upe is None else total // upe + int(total % upe > 0)
    else:
        if num_examples is None:
            raise ScheduleError("Give max_steps, or num_examples so that epochs can be counted.", "max_steps")
        if (
            isinstance(num_train_epochs, bool)
            or not isinstance(num_train_epochs, (int, float))
            or not 0 < num_train_epochs <= 1e9
        ):
            raise ScheduleError(
                f"num_train_epochs must be a number > 0 (and finite), got {num_train_epochs!r}.", "num_train_epochs"
            )
        assert upe is not None  # num_examples is known here
        total, epoch_based = math.ceil(num_train_epochs * upe), True
        epochs = math.ceil(num_train_epochs)
    warm, notes = warmup_steps_for(total, warmup_steps, warmup_ratio)
    return StepPlan(
        total_steps=total,
        warmup_steps=warm,
        updates_per_epoch=upe,
        batches_per_epoch=batches,
        epochs=epochs,
        epoch_based=epoch_based,
        global_batch_size=global_batch,
        notes=notes,
    )


def _positive_int(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScheduleError(f"{field} must be an integer >= 1, got {value!r}.", field)
