"""Run folders written by hand, as a worker would leave them: no training."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lrexplorer.runs import store


def make_run(root: Path, run_id: str = "r1", state: str = "completed", config: dict | None = None, **status) -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    base = {
        "model": "builtin:tiny",
        "dataset": "builtin:arithmetic",
        "learning_rate": 1e-3,
        "lr_scheduler_type": "linear",
        "warmup_steps": 2.0,
        "max_grad_norm": 1.0,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "num_train_epochs": 1.0,
        "max_steps": -1,
        "optim": "adamw_torch",
        "output_dir": str(run_dir),
    }
    (run_dir / store.CONFIG).write_text(json.dumps({**base, **(config or {})}), encoding="utf-8")  # JSON is YAML
    store.write_json_atomic(
        run_dir / store.STATUS,
        {
            "state": state,
            "run_id": run_id,
            "created_at": time.time() - 60,
            "started_at": time.time() - 50,
            "ended_at": time.time(),
            **status,
        },
    )
    return run_dir


def record(step: int, **extra) -> dict:
    return {
        "step": step,
        "epoch": step / 10,
        "time": 1000.0 + step,
        "loss": 5.0 - step * 0.01,
        "grad_norm": 1.5,
        "learning_rate": 1e-3,
        "tokens_per_s": 900.0,
        "rss_bytes": 2**30,
        **extra,
    }


def append(run_dir: Path, *records: dict, raw: str = "") -> None:
    with open(run_dir / store.METRICS, "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in records) + raw)
