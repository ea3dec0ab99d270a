"""How many optimizer updates a run makes, counted exactly as the transformers Trainer counts them.

Mirrors `Trainer.set_initial_training_values` and `TrainingArguments.get_warmup_steps` of
transformers 5, with the per-process dataloader length that `accelerate` gives each of `world_size`
processes (its `BatchSamplerShard`, with even batches).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lrexplorer.catalogues.params import CATALOGUE, convert_each
from lrexplorer.core.fields import FieldError
from lrexplorer.core.limits import MAX_STEPS


@dataclass(frozen=True)
class StepPlan:
    total_steps: int  # optimizer updates in the whole run (the scheduler's num_training_steps)
    warmup_steps: int  # warmup updates passed to the scheduler
    updates_per_epoch: int | None  # None when only max_steps is known
    batches_per_epoch: int | None  # micro-batches each process sees per epoch
    epochs: int | None  # passes over the data the Trainer starts (the last may be partial)
    epoch_based: bool  # True when num_train_epochs (not max_steps) decided the length
    global_batch_size: int  # examples per optimizer update across all processes
    notes: tuple[str, ...] = ()  # surprises worth telling the user, attached by the caller

    def epoch_boundaries(self) -> list[int]:
        """Update indices k at which a new epoch starts (k = e * updates_per_epoch, 0 < k < N)."""
        if not self.updates_per_epoch:
            return []
        return list(range(self.updates_per_epoch, self.total_steps, self.updates_per_epoch))


def warmup_steps_for(total_steps: int, warmup_steps: float = 0) -> int:
    """Warmup updates for a run of `total_steps`: a value >= 1 is a count, a value < 1 a fraction."""
    warmup_steps = CATALOGUE["warmup_steps"].convert(warmup_steps)
    if warmup_steps >= 1:
        return int(warmup_steps)
    return math.ceil(total_steps * warmup_steps)


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
) -> StepPlan:
    """Total, per-epoch and warmup updates of a Trainer run with these arguments (checked by their fields)."""
    checked = convert_each(locals())  # every argument is a catalogue field
    batch, accumulation = checked["per_device_train_batch_size"], checked["gradient_accumulation_steps"]
    world_size, max_steps, num_examples = checked["world_size"], checked["max_steps"], checked["num_examples"]
    global_batch = batch * accumulation * world_size

    batches = upe = None
    if num_examples is not None:
        batches = batches_per_process(num_examples, batch, world_size, checked["dataloader_drop_last"])
        if batches == 0:
            # Epoch-based, the Trainer raises; with max_steps it loops over an empty loader forever.
            raise FieldError(
                "num_examples",
                f"{num_examples} examples give no full batch (world_size × per_device_train_batch_size "
                f"= {world_size * batch}) with dataloader_drop_last, so no update would ever run",
            )
        upe = max(batches // accumulation + int(batches % accumulation > 0), 1)

    if max_steps > 0:
        total, epoch_based = max_steps, False
        epochs = None if upe is None else total // upe + int(total % upe > 0)
    else:
        if upe is None:
            raise FieldError("max_steps", "give max_steps, or num_examples so that epochs can be counted")
        total, epoch_based = math.ceil(checked["num_train_epochs"] * upe), True
        epochs = math.ceil(checked["num_train_epochs"])
        if total > MAX_STEPS:
            raise FieldError(
                "num_train_epochs",
                f"{checked['num_train_epochs']:g} epochs of {upe} updates make {total:,} updates; "
                f"a run takes at most {MAX_STEPS:,}",
            )
    return StepPlan(
        total_steps=total,
        warmup_steps=warmup_steps_for(total, checked["warmup_steps"]),
        updates_per_epoch=upe,
        batches_per_epoch=batches,
        epochs=epochs,
        epoch_based=epoch_based,
        global_batch_size=global_batch,
    )


def plan_for(values: Mapping[str, Any], **given: Any) -> StepPlan:
    """`plan_steps` over the step-counting fields among `values` (catalogue values of any tool), `given` on top."""
    names = inspect.signature(plan_steps).parameters
    return plan_steps(**{**{n: values[n] for n in names if n in values}, **given})
