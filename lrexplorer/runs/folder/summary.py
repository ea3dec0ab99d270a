"""Summaries of run folders for the pages: table rows, progress and ETA, final metrics, config diffs, folder
sizes. Pure library code (no streamlit); the folder is read through `store` (which also deletes a run).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from lrexplorer.catalogues.params import CATALOGUE
from lrexplorer.core.units import format_duration
from lrexplorer.runs.folder import store
from lrexplorer.runs.folder.peak import peak_text
from lrexplorer.runs.imported import is_imported

# Fields that differ between any two runs by construction: left out of config diffs.
ALWAYS_DIFFERENT = ("output_dir",)
EARLIER = "earlier_s"  # status.json: seconds the run trained before its latest resume


def last_value(records: Sequence[dict[str, Any]], key: str) -> float | None:
    for record in reversed(records):
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # the worker writes non-finite values as "nan" / "inf"
            return float(value)
    return None


def duration_s(status: dict[str, Any], now: float | None = None) -> float | None:
    """Time spent training, over every start of the run: a resumed run adds its earlier parts."""
    start = status.get("started_at") or status.get("created_at")
    if not start:
        return None
    end = status.get("ended_at") if status.get("state") not in store.ACTIVE else None
    earlier = float(status.get(EARLIER) or 0.0)
    return earlier + max(0.0, float(end or now or time.time()) - float(start))


def length_text(config: dict[str, Any]) -> str:
    steps = config.get("max_steps", -1)
    if isinstance(steps, int) and steps > 0:
        return f"{steps} steps"
    epochs = config.get("num_train_epochs")
    if not isinstance(epochs, (int, float)):
        return "?"
    return f"{epochs:g} epoch" + ("" if epochs == 1 else "s")


def table_row(status: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """One row of the Runs table for a `index.list_runs` entry."""
    run_dir = Path(status["path"])
    config = store.read_config(run_dir)
    records = store.tail_metrics(run_dir)
    imported = is_imported(run_dir)  # trained elsewhere: its duration is the Trainer's train_runtime, if logged
    lr = config.get("learning_rate")
    batch = config.get("per_device_train_batch_size")
    accum = config.get("gradient_accumulation_steps", 1)
    precision = "bf16" if config.get("bf16") else "fp16" if config.get("fp16") else str(config.get("dtype", ""))
    return {
        "run": status["run_id"],
        "name": config.get("run_name") or "",
        "status": status.get("state", "?") + (" (imported)" if imported else ""),
        "model": config.get("model", "?"),
        "dataset": config.get("dataset", "?"),
        "learning_rate": f"{lr:g}" if isinstance(lr, (int, float)) else "?",
        "schedule": config.get("lr_scheduler_type", "?"),
        "warmup": config.get("warmup_steps"),
        "batch": f"{batch}×{accum}" if batch else "?",
        "length": length_text(config),
        "optim": config.get("optim", "?"),
        "precision": precision,
        "steps": f"{status.get('global_step', 0)}/{status.get('max_steps', '?')}",
        "final loss": last_value(records, "loss"),
        "eval loss": last_value(records, "eval_loss"),
        "duration": format_duration(last_value(records, "train_runtime") if imported else duration_s(status, now)),
        "predicted / measured peak": peak_text(store.read_memory_record(run_dir)),
        "attention": status.get("attn_implementation") or config.get("attn_implementation", "?"),
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(status.get("created_at") or 0)),
    }


def progress(status: dict[str, Any]) -> float:
    """Fraction of the planned updates done, 0 before the trainer knows its length."""
    total = status.get("max_steps") or 0
    done = status.get("global_step") or 0
    if status.get("state") == "completed":
        return 1.0
    return min(1.0, done / total) if total else 0.0


def eta_s(steps: np.ndarray, times: np.ndarray, status: dict[str, Any], window: int = 20) -> float | None:
    """Seconds left at the pace of the last `window` logged steps (evaluations and saves included, as
    they will recur), or None before two steps are logged."""
    total = status.get("max_steps") or 0
    if status.get("state") not in store.ACTIVE or not total:
        return None
    ok = np.isfinite(steps) & np.isfinite(times)
    steps, times = steps[ok][-window:], times[ok][-window:]
    if steps.size < 2 or steps[-1] <= steps[0]:
        return None
    per_step = (times[-1] - times[0]) / (steps[-1] - steps[0])
    since_last = max(0.0, time.time() - float(times[-1]))
    return max(0.0, (total - steps[-1]) * per_step - since_last)


def final_metrics(
    status: dict[str, Any], train: dict[str, np.ndarray], evaluation: dict[str, np.ndarray], summary: dict[str, Any]
) -> dict[str, str]:
    """label -> value of a finished run, for st.metric."""
    out: dict[str, str] = {}
    loss = train["loss"][np.isfinite(train["loss"])]
    if loss.size:
        out["last loss"] = f"{loss[-1]:.4f}"
        out["lowest loss"] = f"{loss.min():.4f}"
    if isinstance(summary.get("train_loss"), (int, float)):
        out["mean train loss"] = f"{summary['train_loss']:.4f}"
    ev = evaluation["eval_loss"][np.isfinite(evaluation["eval_loss"])]
    if ev.size:
        out["last eval loss"] = f"{ev[-1]:.4f}"
    out["steps"] = f"{status.get('global_step', 0)}/{status.get('max_steps', '?')}"
    runtime = summary.get("train_runtime")
    out["train time"] = format_duration(runtime if isinstance(runtime, (int, float)) else duration_s(status))
    return out


def config_diff(configs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (field, then one column per run) for every field whose values differ, in catalogue order."""
    names = [n for n in CATALOGUE if n not in ALWAYS_DIFFERENT]
    extra = sorted({k for c in configs.values() for k in c} - set(CATALOGUE) - set(ALWAYS_DIFFERENT))
    rows = []
    for name in names + extra:
        values = [c.get(name) for c in configs.values()]
        if any(_canon(v) != _canon(values[0]) for v in values[1:]):
            rows.append({"field": name, **{run: _show(v) for run, v in zip(configs, values)}})
    return rows


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "null" if value is None else str(value)


def folder_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(dirpath, name)).st_size
    return total


@lru_cache(maxsize=32)
def _predicted(path: str, version: int, total_steps: int) -> tuple[np.ndarray, np.ndarray] | None:
    # `version` is part of the cache key only: a rewritten config.yaml gets a new curve.
    from lrexplorer.runs.steps import warmup_steps_for
    from lrexplorer.schedules import compute_curve

    config = store.read_config(Path(path))
    try:
        warmup = warmup_steps_for(total_steps, config.get("warmup_steps") or 0)
        curve = compute_curve(
            config["lr_scheduler_type"],
            config["learning_rate"],
            total_steps,
            warmup,
            dict(config.get("lr_scheduler_kwargs") or {}),
        )
    except Exception:  # noqa: BLE001 - a config the engine refuses just has no predicted line
        return None
    return np.arange(1, total_steps + 1, dtype=float), curve.lr


def predicted_lr(run_dir: Path, total_steps: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(steps, lr) the Schedules engine predicts for the run, drawn where the Trainer logs it: the LR of
    update k is logged at step k + 1. None until the trainer has said how many steps it makes."""
    if not total_steps:
        return None
    version = store.config_version(run_dir)
    if version is None:
        return None
    return _predicted(str(run_dir), version, int(total_steps))


def sample_prompt(config: dict[str, Any]) -> str:
    """The first user message of the run's evaluation data (built-in datasets), to try the model on."""
    from lrexplorer.catalogues import builtin

    ref = str(config.get("dataset", ""))
    files = builtin.dataset_files(builtin.builtin_name(ref)) if builtin.is_builtin(ref) else {}
    path = files.get("test") or files.get("train")
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                first = json.loads(fh.readline())
            for message in first.get("messages", []):
                if message.get("role") == "user":
                    return str(message.get("content", ""))
        except (OSError, ValueError):
            pass
    return "Hello!"


def model_folder(run_dir: Path) -> Path | None:
    """The trained model: final_model/ when the run completed, else its newest checkpoint."""
    final = store.final_model(run_dir)
    if final is not None:
        return final
    found = store.checkpoints(run_dir)
    return found[-1] if found else None
