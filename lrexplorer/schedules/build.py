"""Build the real scheduler a training run steps: what the curves in `curves.py` are proven against.

transformers names go through `transformers.get_scheduler` with the Trainer's own arguments; torch
class names become that class, preceded by `LinearWarmupThen` when there is a warmup. The training
launcher uses `build_scheduler`, so the page, the CLI and a real run agree by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from .curves import get_schedule, span_of


class LinearWarmupThen(LRScheduler):
    """Linear warmup from 0 over `warmup_steps` updates, then hand over to a torch scheduler.

    The inner scheduler is constructed on the optimizer when warmup ends (with the LR reset to the
    base LR), so it behaves exactly as if training had started at that update.
    """

    def __init__(
        self, optimizer: Optimizer, warmup_steps: int, make_main: Callable[[Optimizer], Any], last_epoch: int = -1
    ) -> None:
        self.warmup_steps = warmup_steps
        self._make_main = make_main
        self.main: Any = None
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | Any]:  # torch's signature: floats, or tensors for tensor LRs
        return [base * self.last_epoch / max(1, self.warmup_steps) for base in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:
        if self.main is not None:
            self.last_epoch += 1
            self.main.step()
            self._last_lr = list(self.main.get_last_lr())
            return
        super().step()
        if self.last_epoch >= self.warmup_steps:
            self._start_main()

    def _start_main(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base
            # A fresh torch scheduler records `initial_lr` itself (CyclicLR relies on it): start it clean.
            group.pop("initial_lr", None)
        self.main = self._make_main(self.optimizer)
        self._last_lr = list(self.main.get_last_lr())

    def state_dict(self) -> dict[str, Any]:
        return {
            "last_epoch": self.last_epoch,
            "warmup_steps": self.warmup_steps,
            "base_lrs": list(self.base_lrs),
            "_last_lr": list(self._last_lr),
            "_step_count": self._step_count,
            "main": None if self.main is None else self.main.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_epoch = state_dict["last_epoch"]
        self.warmup_steps = state_dict["warmup_steps"]
        self.base_lrs = list(state_dict["base_lrs"])
        self._step_count = state_dict["_step_count"]
        if state_dict["main"] is not None:
            self._start_main()
            self.main.load_state_dict(state_dict["main"])
            for group, lr in zip(self.optimizer.param_groups, self.main.get_last_lr()):
                group["lr"] = lr
        self._last_lr = list(state_dict["_last_lr"])


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
