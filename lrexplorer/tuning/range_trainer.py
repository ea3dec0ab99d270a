"""What a transformers `Trainer` (or TRL's `SFTTrainer`) needs to run an LR range test.

- `RangeTestLR`: a torch scheduler whose LR at update i is `RangeTest.lr_at(i)` for every parameter
  group, whatever `learning_rate` the optimizer was built with.
- `RangeTestSchedulerMixin`: mixed in before the trainer class, it makes `create_scheduler` build
  that scheduler when `lrx_range_test` is set (the Trainer creates it after the optimizer is final).
- `RangeTestCallback`: logs every update, smooths the logged loss, records (lr, loss) and stops
  training where the rule in `lr_range` says.

Run the trainer with `max_steps = num_steps` and `logging_nan_inf_filter=False` (otherwise the
Trainer replaces a nan loss by an average and the divergence is hidden). A range test trains its own
copy of the model in its own run folder: nothing it does reaches the model of the next run.
"""

from __future__ import annotations

from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from transformers import TrainerCallback

from lrexplorer.tuning.lr_range import LossSmoother, RangeTest, range_result


class RangeTestLR(LRScheduler):
    """Sets the range test's LR before each update (constructing it sets update 0's)."""

    def __init__(self, optimizer: Optimizer, test: RangeTest, last_epoch: int = -1) -> None:
        self.test = test
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | Any]:  # torch's signature: floats, or tensors for tensor LRs
        return [self.test.lr_at(self.last_epoch)] * len(self.optimizer.param_groups)

    def _get_closed_form_lr(self) -> list[float]:
        return [self.test.lr_at(self.last_epoch)] * len(self.optimizer.param_groups)


class RangeTestSchedulerMixin:
    """Mix into a Trainer (first in the bases) so that it steps `RangeTestLR` when `lrx_range_test` is set."""

    lrx_range_test: RangeTest | None = None
    lr_scheduler: Any
    optimizer: Any

    def create_scheduler(self, num_training_steps: int, optimizer: Optimizer | None = None) -> Any:
        if self.lrx_range_test is None:
            return super().create_scheduler(num_training_steps, optimizer)  # type: ignore[misc]
        if self.lr_scheduler is None:
            self.lr_scheduler = RangeTestLR(optimizer or self.optimizer, self.lrx_range_test)
            self._created_lr_scheduler = True
        return self.lr_scheduler


class RangeTestCallback(TrainerCallback):
    """Records the range test and stops it when the smoothed loss runs away.

    The LR recorded for an update is the one the Trainer logs with it (the scheduler's LR before it
    steps, that is the LR the update used).
    """

    def __init__(self, test: RangeTest) -> None:
        self.test = test
        self.smoother = LossSmoother(test.early_stop_threshold)
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.stopped_early = False

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        control.should_log = True  # one loss per update, whatever logging_steps says
        control.should_save = False  # nothing of a range test is kept, not even a stop request's checkpoint

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if not logs or "loss" not in logs or "learning_rate" not in logs:
            return  # evaluation logs and the end-of-training summary
        loss = float(logs["loss"])
        smoothed, stop = self.smoother.add(loss)
        self.lrs.append(float(logs["learning_rate"]))
        self.losses.append(loss)
        self.smoothed.append(smoothed)
        if stop:
            self.stopped_early = True
            control.should_training_stop = True

    def result(self) -> dict[str, Any]:
        """The JSON-shaped result of the updates recorded so far."""
        return range_result(self.lrs, self.losses, self.test)
