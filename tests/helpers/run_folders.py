"""Run folders written by hand, as a worker would leave them: no training."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lrexplorer.runs.folder import store


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


def finished_range_test(runs: Path) -> dict:
    """A finished LR range test run `lr-range-test-1` under `runs` (a made-up loss curve); returns its result."""
    import json
    import math

    from lrexplorer.runs.kinds.range_test import RANGE_TEST, RESULT_FILE
    from lrexplorer.runs.kinds.registry import mark
    from lrexplorer.tuning.lr_range import RangeTest, range_result

    test = RangeTest(start_lr=1e-6, end_lr=1.0, num_steps=60)
    lrs = test.lrs()
    # A loss that falls between 1e-4 and 1e-2 and runs away above: the suggestions land in the fall.
    losses = [3.0 - 2.0 / (1 + math.exp(-3 * (math.log10(lr) + 3))) + (50 * lr) ** 2 for lr in lrs]
    result = range_result(lrs, losses, test)
    run_dir = make_run(runs, "lr-range-test-1", run_kind=RANGE_TEST)
    mark(run_dir, RANGE_TEST, test.settings())
    (run_dir / RESULT_FILE).write_text(json.dumps(result))
    return result
