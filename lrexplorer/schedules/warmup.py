"""Linear warmup in front of a torch.optim.lr_scheduler class: the warmup rule of the torch schedules.

It depends on torch alone, because `runs.export` copies this file, as it is, into the exported
training script: the script warms up with the very code the worker runs.
"""

from collections.abc import Callable
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


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

    def get_lr(self) -> list[Any]:  # torch's signature: floats, or tensors for tensor LRs
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
