"""A real DeepSpeed ZeRO-3 run on two CPU processes (gloo) through the `lrexplorer` CLI: it stops mid-way
with a sharded DeepSpeed checkpoint (one optimizer-state file per rank), resumes from it, logs the
learning rates `lrexplorer schedule --world_size 2` gives, each step once, and saves the whole model
gathered from the shards. Its memory watcher (rank 0) runs in step 2, as in every run."""

from __future__ import annotations

import math

import pytest
from helpers.runs import cli, cli_schedule, isolate_env, step_logs, wait_ended, wait_for

from lrexplorer.runs.folder import store
from lrexplorer.schedules import compute_curve

pytest.importorskip("deepspeed")
pytestmark = pytest.mark.slow

FLAGS = {
    "dataset": "builtin:facts",  # 120 rows: 8 batches of 8 per process on 2 processes
    "per_device_train_batch_size": "8",
    "gradient_accumulation_steps": "2",
    # 24 updates: enough that the stop, asked after step 2 by a CLI process that takes seconds to start on
    # a loaded machine, lands before the run's end.
    "num_train_epochs": "6",
    "learning_rate": "2e-3",
    "lr_scheduler_type": "cosine",
    "warmup_steps": "0.25",
    "logging_steps": "1",
    "save_steps": "100",
}


def test_zero3_on_two_cpu_processes_stops_resumes_and_follows_the_schedule(tmp_path, monkeypatch):
    isolate_env(monkeypatch, tmp_path)
    run_dir = tmp_path / "zero3"
    flags = [f"--{k}={v}" for k, v in FLAGS.items()]
    cli("train", "--num_processes=2", "--deepspeed=zero3", f"--output_dir={run_dir}", "--detach", *flags)
    wait_for(run_dir, lambda s, m: any(r.get("step", 0) >= 2 and "loss" in r for r in m), what="two logged steps")
    cli("runs", "stop", "zero3")
    stopped = wait_ended(run_dir)
    assert stopped["state"] == "stopped", stopped
    assert stopped["distributed_type"] == "DEEPSPEED" and stopped["num_processes"] == 2
    checkpoint = store.checkpoints(run_dir)[-1]
    assert 2 <= stopped["global_step"] < 24 and checkpoint.name == f"checkpoint-{stopped['global_step']}"
    # DeepSpeed's own checkpoint: each rank saved its partition of the optimizer states.
    shards = sorted(p.name for p in checkpoint.glob("global_step*/*optim_states.pt"))
    assert len(shards) == 2 and "zero_pp_rank_1" in shards[1], shards

    cli("runs", "resume", "zero3")
    status = wait_ended(run_dir)
    assert status["state"] == "completed", status
    log = (run_dir / store.LOG).read_text()
    assert f"resuming from {checkpoint}" in log
    assert "FutureWarning" not in log, "torch's deprecation of ZeRO-3's collectives, once per call, is kept out"

    two = cli_schedule(FLAGS, 120, 2)
    assert len(two) == 24 and status["global_step"] == 24
    assert compute_curve("cosine", 2e-3, 24, 6, {}).lr == pytest.approx(two, rel=1e-12)
    logs = step_logs(run_dir)
    assert [r["step"] for r in logs] == list(range(1, 25))  # the steps after the checkpoint logged once
    for r in logs:
        assert math.isfinite(r["loss"]) and r["learning_rate"] == pytest.approx(two[r["step"] - 1], rel=1e-9)
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert not list((run_dir / "ranks").glob("*.error.json"))
    from transformers import AutoModelForCausalLM

    final = AutoModelForCausalLM.from_pretrained(run_dir / store.FINAL)
    assert sum(p.numel() for p in final.parameters()) == status["parameters"]  # gathered, not rank 0's shard
    assert store.read_memory_record(run_dir)["measured_peak_bytes"] > 0
