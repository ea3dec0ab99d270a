"""How long a run's updates take on this machine, measured by earlier runs: the Train page's predicted
duration before Start and the sweep planner's predicted time both come from here."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrexplorer.runs.folder import index, store

# What sets the cost of one update: the same model and batch shape on the same device take the same time.
BATCH_FIELDS = ("model", "max_length", "per_device_train_batch_size", "gradient_accumulation_steps", "use_peft")


@dataclass(frozen=True)
class StepTime:
    seconds: float  # median seconds per optimizer update
    run_id: str  # the run it was measured on
    updates: int  # how many updates the median is over


def measured_step(values: dict[str, Any], root: str | Path | None = None) -> StepTime | None:
    """The median seconds per optimizer update of the newest ended run on the same device with the same
    model and batch shape (a range test counts); None when no such run has been measured."""
    for status in index.list_runs(store.runs_dir(root)):
        if status.get("state") not in store.FINAL_STATES:
            continue
        config = store.read_config(Path(status["path"]))
        if any(config.get(k) != values.get(k) for k in (*BATCH_FIELDS, "use_cpu")):
            continue
        times = [r["step_time_s"] for r in store.read_metrics(Path(status["path"])) if "step_time_s" in r]
        if times:
            return StepTime(float(statistics.median(times)), str(status["run_id"]), len(times))
    return None


def measured_step_time(values: dict[str, Any], root: str | Path | None = None) -> float | None:
    step = measured_step(values, root)
    return step.seconds if step is not None else None
