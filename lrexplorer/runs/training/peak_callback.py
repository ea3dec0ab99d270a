"""The worker's callback that records a run's predicted and measured peak memory (RUN/memory.json).

At train begin it writes the pre-flight's prediction. On the CPU it then tracks the second
optimizer step this process runs (the optimizer state exists, the gradients were set to None) with
the very watcher `memory/pytorch/measure_sft.py` holds the estimate to: MemTracker from `on_step_begin` to
`on_step_end`, the micro-batches fetched before it counted as live. On a CUDA GPU it takes the
allocator's peaks over the whole run at train end. Either way a measured peak more than `peak.OVER`
above the prediction is printed to train.log as a warning with both figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from lrexplorer.runs.folder import store
from lrexplorer.runs.folder.peak import cpu_measure_off, over_warning, predicted_fields

CUDA_HOW = "the CUDA allocator's max_memory_allocated over the whole run (evaluation included)"
CPU_HOW = "torch's MemTracker over one steady-state step (the second this process ran), every tensor storage counted"


class PeakCallback(TrainerCallback):
    """Set `trainer` before training starts (the CPU watcher wraps its step methods)."""

    def __init__(self, run_dir: Path, values: dict[str, Any], facts: Any) -> None:
        self.run_dir = Path(run_dir)
        self.values = values
        self.facts = facts
        self.trainer: Any = None
        self.watch: Any = None
        self.cuda = False
        self.steps = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        import torch

        record = predicted_fields(self.values, self.facts)
        self.cuda = record["device"] == "cuda" and torch.cuda.is_available()
        record.update(measured_peak_bytes=None, measured_reserved_bytes=None, measured_off=None, warning=None)
        if self.cuda:
            record["measured_how"] = CUDA_HOW
        else:
            off = cpu_measure_off(sum(p.numel() for p in model.parameters())) if model is not None else "not measured"
            if off is None and self.trainer is not None:
                from lrexplorer.memory.pytorch.measure_sft import _StepWatch
                from lrexplorer.memory.setup import TrainingSetup

                setup = TrainingSetup(device="cpu", activation_checkpointing=self.values["activation_checkpointing"])
                # The run records the peak alone: no saved-tensor count, whose hooks would break ZeRO-3.
                self.watch = _StepWatch(self.trainer, setup, count_saved=False)
                record["measured_how"] = CPU_HOW
            else:
                record["measured_off"] = off or "not measured: the callback was given no trainer"
        store.write_memory_record(self.run_dir, **record)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.watch is not None and self.steps == 1:
            self.watch.begin(kwargs["model"], kwargs["optimizer"])

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.steps += 1
        if self.watch is None or not self.watch.entered:
            return
        self.watch.end()
        peaks = self.watch.tracker.peaks
        self._measured(max(peaks.values()), measured_phase_peaks=dict(peaks), measured_step=state.global_step)
        self.watch = None

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.watch is not None:
            self.watch.end()  # the run stopped inside the tracked step: its figure is incomplete
            self.watch = None
            store.write_memory_record(self.run_dir, measured_off="not measured: the run ended before a second step")
            return
        if not self.cuda:
            return
        import torch

        records = store.read_metrics(self.run_dir)
        allocated = [r["gpu_peak_allocated_bytes"] for r in records if "gpu_peak_allocated_bytes" in r]
        reserved = [r["gpu_peak_reserved_bytes"] for r in records if "gpu_peak_reserved_bytes" in r]
        self._measured(
            max([int(torch.cuda.max_memory_allocated()), *allocated]),
            measured_reserved_bytes=max([int(torch.cuda.max_memory_reserved()), *reserved]),
        )

    def _measured(self, peak: int, **extra: Any) -> None:
        record = store.write_memory_record(self.run_dir, measured_peak_bytes=int(peak), **extra)
        warning = over_warning(record)
        if warning:
            store.write_memory_record(self.run_dir, warning=warning)
            print(f"[lrexplorer] warning: {warning}", flush=True)
