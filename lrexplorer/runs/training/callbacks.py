"""The worker's Trainer callback: metrics.jsonl, status heartbeats, stop requests, non-finite loss.

Work per optimizer step is a clock read and one `stat` of the stop-request file; everything else
happens at log time, so a run through lrexplorer steps as fast as a bare SFTTrainer. On several
processes every rank runs this callback but only rank 0 (`writes`) writes; the ranks agree on stopping
(one small all-reduce per step), since a rank that leaves the loop alone would hang the others.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from lrexplorer.runs.folder import store
from lrexplorer.runs.training.diverge import divergence_message

# Trainer's end-of-training summary keys: kept in the record, but not confused with a step log.
STATUS_EVERY_S = 1.0  # status.json progress at most this often; metrics.jsonl gets every log
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss")


def memory_fields() -> dict[str, int]:
    """GPU memory allocated/reserved/peak since the last log on CUDA, else the process RSS."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out = {
            "gpu_allocated_bytes": int(torch.cuda.memory_allocated()),
            "gpu_reserved_bytes": int(torch.cuda.memory_reserved()),
            "gpu_peak_allocated_bytes": int(torch.cuda.max_memory_allocated()),
            "gpu_peak_reserved_bytes": int(torch.cuda.max_memory_reserved()),
        }
        torch.cuda.reset_peak_memory_stats()
        return out
    return {"rss_bytes": int(_this_process().memory_info().rss)}


_PROCESS: list[Any] = []


def _this_process() -> Any:
    if not _PROCESS:
        import psutil

        _PROCESS.append(psutil.Process())
    return _PROCESS[0]


class RunCallback(TrainerCallback):
    """Writes the run folder as training goes; `trainer` is the LrxSFTTrainer (token counters)."""

    def __init__(self, run_dir: Path, trainer_ref: Any = None, writes: bool = True, world_size: int = 1) -> None:
        self.run_dir = Path(run_dir)
        self.trainer = trainer_ref
        self.writes = writes
        self.world_size = world_size
        self.metrics = store.MetricsWriter(self.run_dir) if writes else None
        self.step_started = 0.0
        self.step_time = 0.0  # seconds inside optimizer steps since the last log
        self.steps = 0
        self.stop_reason: str | None = None
        self.nonfinite: str | None = None
        self.status_written = 0.0
        self.global_step = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.writes:
            return
        store.update_status(
            self.run_dir,
            state="running",
            max_steps=state.max_steps,
            global_step=state.global_step,
            num_train_epochs=state.num_train_epochs,
        )

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step_started = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step_time += time.perf_counter() - self.step_started
        self.steps += 1
        self.global_step = state.global_step
        bad = self.trainer.lrx_take_nonfinite() if self.trainer is not None else None
        stop = self.stop_reason is not None or store.stop_requested(self.run_dir)
        if self.world_size > 1:
            bad, stop = self._agree(bad, stop)
        if bad is not None:
            self.nonfinite = divergence_message(bad, state.global_step, args)
            control.should_training_stop = True
        elif stop:
            # A SIGTERM (see worker) sets stop_reason; a stop request leaves its file.
            self.stop_reason = f"{self.stop_reason or 'stopped on request'} at step {state.global_step}"
            control.should_training_stop = True
            control.should_save = True  # the checkpoint to resume from, whatever save_strategy says

    def _agree(self, bad: str | None, stop: bool) -> tuple[str | None, bool]:
        """What every rank decides: stop when any rank must; a non-finite loss on any rank is the run's."""
        import torch

        flags = torch.tensor([stop, bad == "nan", bad == "inf"], dtype=torch.float32)
        flags = self.trainer.accelerator.reduce(flags.to(self.trainer.accelerator.device), "max").cpu()
        agreed = "nan" if flags[1] else "inf" if flags[2] else None
        if flags[0] and self.stop_reason is None and not stop:
            self.stop_reason = "stopped on request"
        return agreed, bool(flags[0])

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        record: dict[str, Any] = {"step": state.global_step, "epoch": state.epoch, "time": time.time()}
        for key, value in (logs or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                record[key] = value
        if "loss" in record and self.steps:
            tokens, samples = self.trainer.lrx_take_counts() if self.trainer is not None else (0, 0)
            if self.world_size > 1:  # every rank logs the same step: the run's throughput is their sum
                tokens, samples = self._summed(tokens, samples)
            record["step_time_s"] = self.step_time / self.steps
            if self.step_time > 0:
                record["tokens_per_s"] = tokens / self.step_time
                record["samples_per_s"] = samples / self.step_time
            self.step_time, self.steps = 0.0, 0
        if self.metrics is None:
            return
        if not any(k in record for k in SUMMARY_KEYS):
            record.update(memory_fields())
        self.metrics.write(record)
        now = time.monotonic()
        if now - self.status_written >= STATUS_EVERY_S:  # a heartbeat, not a log: readers poll at this pace
            store.update_status(self.run_dir, global_step=state.global_step, epoch=state.epoch)
            self.status_written = now

    def _summed(self, tokens: int, samples: int) -> tuple[int, int]:
        import torch

        both = torch.tensor([tokens, samples], dtype=torch.float64).to(self.trainer.accelerator.device)
        total = self.trainer.accelerator.reduce(both, "sum").cpu()
        return int(total[0]), int(total[1])

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.writes:
            store.update_status(self.run_dir, last_checkpoint=f"checkpoint-{state.global_step}")

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
