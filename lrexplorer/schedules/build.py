"""Build the real scheduler a training run steps: what the curves in `curves.py` are proven against.

transformers names go through `transformers.get_scheduler` with the Trainer's own arguments; torch
class names become that class, preceded by `LinearWarmupThen` when there is a warmup. The training
launcher uses `build_scheduler`, so the page, the CLI and a real run agree by construction.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import Optimizer

from lrexplorer.schedules.curves import get_schedule, span_of
from lrexplorer.schedules.warmup import LinearWarmupThen


def torch_scheduler_class(name: str) -> type:
    return getattr(torch.optim.lr_scheduler, name)


def build_scheduler(
    name: str,
    optimizer: Optimizer,
    num_training_steps: int,
    num_warmup_steps: int = 0,
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """The scheduler a run steps once per optimizer update, for any catalogued schedule name."""
    schedule = get_schedule(name)
    span = span_of(schedule, num_training_steps, num_warmup_steps)
    resolved = schedule.resolve(kwargs, max(1, span))
    if schedule.family == "transformers":
        from transformers import get_scheduler

        return get_scheduler(
            name,
            optimizer,
            num_warmup_steps=num_warmup_steps,
            num_training_steps=num_training_steps,
            scheduler_specific_kwargs=resolved,
        )
    cls = torch_scheduler_class(name)
    real_kwargs = schedule.with_lr(resolved, optimizer.defaults["lr"])

    def make_main(opt: Optimizer) -> Any:
        return cls(opt, **real_kwargs)

    if num_warmup_steps <= 0:
        return make_main(optimizer)
    return LinearWarmupThen(optimizer, num_warmup_steps, make_main)


class CatalogueSchedulerMixin:
    """Mix into a transformers `Trainer` (or TRL `SFTTrainer`) so it steps any catalogued schedule.

    Set `lrx_schedule = (name, kwargs)`; torch class names become real here, where
    `TrainingArguments.lr_scheduler_type` only accepts transformers names. Warmup comes from the
    Trainer's own `args.get_warmup_steps`, so counts and ratios mean what they mean to the Trainer.
    """

    lrx_schedule: tuple[str, dict[str, Any] | None] | None = None
    # Provided by the Trainer this is mixed into:
    lr_scheduler: Any
    optimizer: Any
    args: Any

    def create_scheduler(self, num_training_steps: int, optimizer: Optimizer | None = None) -> Any:
        if self.lr_scheduler is None:
            args = self.args
            name, kwargs = self.lrx_schedule or (str(args.lr_scheduler_type.value), args.lr_scheduler_kwargs)
            self.lr_scheduler = build_scheduler(
                name,
                optimizer or self.optimizer,
                num_training_steps,
                args.get_warmup_steps(num_training_steps),
                kwargs,
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler
