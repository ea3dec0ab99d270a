"""A real run on two CPU processes (DDP over gloo) through the `lrexplorer` CLI: its learning rates are
the Schedules engine's at the step count `lrexplorer schedule --world_size 2` gives, it stops mid-way
with a checkpoint, resumes, survives a kill of its process group (no rank left behind) and resumes to
the end; only rank 0 writes the run folder, rank 1 keeps its own log."""

from __future__ import annotations

import math
import os
import signal

import pytest
from helpers.runs import cli, cli_schedule, isolate_env, step_logs, wait_ended, wait_for

from lrexplorer.runs.folder import store
from lrexplorer.schedules import compute_curve

pytestmark = pytest.mark.slow

FLAGS = {
    "dataset": "builtin:facts",  # 120 rows: 15 batches of 8, 8 per process on 2 processes
    "per_device_train_batch_size": "8",
    "gradient_accumulation_steps": "2",
    "num_train_epochs": "5",
    "learning_rate": "2e-3",
    "lr_scheduler_type": "cosine",
    "warmup_steps": "0.1",
    "logging_steps": "1",
    "save_steps": "100",
}


def schedule(world_size: int) -> list[float]:
    return cli_schedule(FLAGS, 120, world_size)


def ranks_of(run_dir) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if "--rank-process" in line and str(run_dir) in line and "accelerate.commands.launch" not in line:
            found.append(proc)
    return found


def wait_gone(procs: list, timeout: float = 30.0) -> list:
    import psutil

    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


def test_two_cpu_processes_train_stop_and_resume_on_the_schedule(tmp_path, monkeypatch):
    isolate_env(monkeypatch, tmp_path)
    run_dir = tmp_path / "ddp"
    flags = [f"--{k}={v}" for k, v in FLAGS.items()]
    cli("train", "--num_processes=2", f"--output_dir={run_dir}", "--detach", *flags)
    wait_for(run_dir, lambda s, m: any(r.get("step", 0) >= 2 and "loss" in r for r in m), what="two logged steps")
    cli("runs", "stop", "ddp")  # an output_dir outside the runs directory is registered by its name
    stopped = wait_ended(run_dir)
    assert stopped["state"] == "stopped", stopped
    assert 2 <= stopped["global_step"] < 20 and store.checkpoints(run_dir), stopped

    cli("runs", "resume", "ddp")
    # The supervising worker killed mid-way (as the OOM killer would): accelerate's launcher and the ranks,
    # which torchrun starts in sessions of their own, die with it instead of training on.
    resumed = wait_for(
        run_dir, lambda s, m: s.get("global_step", 0) >= stopped["global_step"] + 2, what="two resumed steps"
    )
    training = ranks_of(run_dir)
    assert len(training) == 2
    os.kill(resumed["pid"], signal.SIGKILL)
    killed = wait_ended(run_dir)
    assert killed["state"] == "failed" and "killed or crashed" in killed["message"], killed
    assert not wait_gone(training), "a rank outlived its killed launcher"

    cli("runs", "resume", "ddp")
    status = wait_ended(run_dir)
    assert status["state"] == "completed", status

    two, one = schedule(2), schedule(1)
    # 8 batches per process per epoch, 4 updates with accumulation 2, 5 epochs; one process would make 40.
    assert (len(two), len(one)) == (20, 40)
    assert status["global_step"] == status["max_steps"] == len(two)
    curve = compute_curve("cosine", 2e-3, 20, 2, {})
    assert curve.lr[:20] == pytest.approx(two, rel=1e-12)
    logs = step_logs(run_dir)
    assert [r["step"] for r in logs] == list(range(1, 21))  # the steps after the checkpoint logged once
    for r in logs:
        assert math.isfinite(r["loss"]) and r["learning_rate"] == pytest.approx(two[r["step"] - 1], rel=1e-9)

    log = store.log_tail(run_dir, 400)
    assert "--num_processes 2" in log and "[lrexplorer] rank 0" in log
    rank1 = (run_dir / "ranks" / "rank-1.log").read_text()
    assert "[lrexplorer] rank 1 completed" in rank1 and "rank 1 stopped" in rank1
    assert not list((run_dir / "ranks").glob("*.error.json"))
