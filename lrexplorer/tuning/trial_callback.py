"""The Trainer callback of a sweep trial: report the loss to the study, stop when the pruner says so."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from lrexplorer.tuning.study import TrialHandle


class TrialReportCallback(TrainerCallback):
    """Reports `metric` ("loss" or "eval_loss") at every log, keyed by the optimizer update."""

    def __init__(self, handle: TrialHandle, metric: str = "loss") -> None:
        self.handle = handle
        self.metric = metric
        self.last: float | None = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if not logs or self.metric not in logs:
            return
        self.last = float(logs[self.metric])
        if self.handle.report(state.global_step, self.last):
            control.should_training_stop = True
