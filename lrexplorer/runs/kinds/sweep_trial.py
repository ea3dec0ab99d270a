"""A sweep's trial as a run kind: reports the loss to the sweep's study after every log and stops when the
pruner says so; a trial that runs to its end is an ordinary completed run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrexplorer.runs.kinds.kind import RunKind

SWEEP_TRIAL = "sweep_trial"


class SweepTrialRun:
    def __init__(self, run_dir: Path, settings: dict[str, Any], trainer: Any) -> None:
        from lrexplorer.tuning.study import open_sweep
        from lrexplorer.tuning.trial_callback import TrialReportCallback

        sweep = open_sweep(settings["sweep"])
        self.callback = TrialReportCallback(sweep.trial(settings["trial"]), sweep.settings.metric)
        trainer.add_callback(self.callback)

    def finish(self, stop_reason: str | None, nonfinite: str | None) -> tuple[str, str] | None:
        pruned = self.callback.handle.stored().user_attrs.get("pruned_at")
        if pruned is None or stop_reason or nonfinite:
            return None  # ends as any run does
        return "completed", f"pruned by the sweep at step {pruned}: its loss was behind the other trials'"


KIND = RunKind(SWEEP_TRIAL, "a sweep trial", SweepTrialRun)
