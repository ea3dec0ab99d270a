"""Helpers for the training-run tests: isolated runs/lock folders, waiting on a run folder, the exact
LR curve a run must log, a tiny model saved in the Hub's format, small datasets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lrexplorer.runs.folder import store
from lrexplorer.runs.steps import plan_steps
from lrexplorer.schedules import compute_curve


def isolate_env(mp: pytest.MonkeyPatch, root: Path) -> Path:
    """A private runs directory and device-lock folder under `root`, so tests never meet each other's runs."""
    mp.setenv("LRX_RUNS_DIR", str(root / "runs"))
    mp.setenv("LRX_LOCK_DIR", str(root / "locks"))
    return root / "runs"


def wait_for(run_dir: Path, check: Callable[[dict, list], bool], timeout: float = 300.0, what: str = "") -> dict:
    """Poll the run folder until `check(status, metrics)` holds; fail with the log tail on timeout.

    Timeouts are generous: CI machines are shared, and a loaded 2-core box slows every step tenfold."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = store.reconcile(run_dir)
        if check(status, store.read_metrics(run_dir)):
            return status
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for {what}; status {store.read_status(run_dir)}\n{store.log_tail(run_dir, 40)}"
    )


def wait_ended(run_dir: Path, timeout: float = 400.0) -> dict:
    return wait_for(run_dir, lambda s, m: s.get("state") in store.FINAL_STATES, timeout, "the run to end")


def step_logs(run_dir: Path) -> list[dict[str, Any]]:
    return [r for r in store.read_metrics(run_dir) if "loss" in r and "learning_rate" in r]


def expected_curve(values: dict[str, Any], num_examples: int) -> Any:
    """The Schedules engine's curve for a run of this spec over `num_examples` training rows."""
    plan = plan_steps(
        num_examples=num_examples,
        per_device_train_batch_size=values["per_device_train_batch_size"],
        gradient_accumulation_steps=values["gradient_accumulation_steps"],
        num_train_epochs=values["num_train_epochs"],
        max_steps=values["max_steps"],
        warmup_steps=values["warmup_steps"],
    )
    curve = compute_curve(
        values["lr_scheduler_type"],
        values["learning_rate"],
        plan.total_steps,
        plan.warmup_steps,
        values["lr_scheduler_kwargs"],
    )
    return plan, curve


def assert_lr_matches_curve(run_dir: Path, values: dict[str, Any], num_examples: int) -> list[dict]:
    """Every logged step's learning_rate equals the curve at that step (log at step s = LR of update s-1)."""
    _plan, curve = expected_curve(values, num_examples)
    logs = step_logs(run_dir)
    assert logs, "no step was logged"
    for record in logs:
        s = record["step"]
        assert record["learning_rate"] == pytest.approx(curve.lr[s - 1], rel=1e-9, abs=1e-15), f"step {s}"
    return logs


def count_lines(path: str | Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def save_tiny_hub_model(folder: Path) -> Path:
    """A ~30k-parameter Llama plus the bundled tokenizer, saved with save_pretrained: a local model
    folder in the Hub's format."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from lrexplorer.catalogues.builtin import load_tokenizer

    tok = load_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def token_dataset(n: int, length: int = 8, vocab: int = 64) -> list[dict]:
    """n causal-LM examples of random token ids, labels equal to inputs."""
    import torch

    g = torch.Generator().manual_seed(n)
    rows = []
    for _ in range(n):
        ids = torch.randint(0, vocab, (length,), generator=g)
        rows.append({"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones(length, dtype=torch.long)})
    return rows


def run_cli(args: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """`python -m lrexplorer ARGS` in a subprocess of its own (signals, exit codes, stdout as a user sees them)."""
    return subprocess.run(
        [sys.executable, "-m", "lrexplorer", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m lrexplorer ARGS` in this environment; with `check`, it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "lrexplorer", *args], capture_output=True, text=True, env=dict(os.environ), timeout=600
    )
    assert not check or done.returncode == 0, done.stderr + done.stdout
    return done


RUN_ONLY_FLAGS = ("dataset", "logging_steps", "save_steps")  # train flags `lrexplorer schedule` does not take


def cli_schedule(flags: dict[str, str], num_examples: int, world_size: int) -> list[float]:
    """The learning rate of each update as `lrexplorer schedule` prints it for these train flags."""
    given = [f"--{k}={v}" for k, v in flags.items() if k not in RUN_ONLY_FLAGS]
    out = cli(
        "schedule", f"--num_examples={num_examples}", f"--world_size={world_size}", "--format=json", *given
    ).stdout
    data = json.loads(out)
    rows = data["lr"] if isinstance(data, dict) else [row["lr"] for row in data]
    return [float(x) for x in rows]
