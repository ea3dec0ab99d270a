"""A run whose worker was killed (kill -9: no final status) is reconciled from its folder: ended, and at the
step its metrics.jsonl reached, not at the step of the last status heartbeat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from helpers.run_folders import append, make_run, record
from helpers.runs import run_cli, wait_for

from lrexplorer.cli import main
from lrexplorer.runs.folder import index, store


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_run_ends_at_the_step_its_metrics_reached(isolated, capsys):
    run = make_run(isolated, state="running", pid=_dead_pid(), pid_create_time=1.0, global_step=1, max_steps=40)
    append(run, *(record(step) for step in range(1, 7)))
    assert main(["runs", "show", "r1"]) == 0
    out = capsys.readouterr().out
    assert "state   failed" in out and "global_step 6" in out, out
    status = store.read_status(run)
    assert status["global_step"] == 6 and status["epoch"] == pytest.approx(0.6)
    assert index.run_row(run, "r1")["global_step"] == 6


def test_a_status_ahead_of_its_metrics_is_kept(isolated):
    run = make_run(isolated, state="running", pid=_dead_pid(), pid_create_time=1.0, global_step=9)
    append(run, record(3))
    assert store.reconcile(run)["global_step"] == 9


@pytest.mark.slow
def test_kill_9_of_a_real_worker(isolated):
    args = ["train", "--max_steps", "400", "--logging_steps", "1", "--save_strategy", "no", "--run_id", "k", "--detach"]
    assert run_cli(args, cwd=isolated.parent).returncode == 0
    run = isolated / "k"
    wait_for(run, lambda s, m: len([r for r in m if "loss" in r]) >= 6, what="six logged steps")
    pid = store.read_status(run)["pid"]
    os.killpg(pid, signal.SIGKILL)
    wait_for(run, lambda s, m: s.get("state") == "failed", what="the run to be reconciled")
    last = max(r["step"] for r in store.read_metrics(run))
    result = run_cli(["runs", "show", "k"], cwd=isolated.parent)
    assert f"global_step {last}" in result.stdout, result.stdout
