"""Is a run's worker alive? The pid in status.json, checked to be that run's worker and not a reused pid."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Any

WORKER_MODULE = "lrexplorer.runs.training.worker"


def process_matches(status: dict[str, Any], run_dir: Path) -> bool:
    """True when status.json's pid is alive and is this run's worker (pid numbers get reused)."""
    import psutil

    pid = status.get("pid")
    if not isinstance(pid, int):
        return False
    _reap(pid)
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = status.get("pid_create_time")
        if created is not None:
            # pid + start time identify a process uniquely. The command line is no use here: between
            # fork and exec a fresh worker still shows its parent's command line.
            return abs(proc.create_time() - float(created)) < 0.05
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    text = " ".join(cmdline)
    return WORKER_MODULE in text and str(Path(run_dir).resolve()) in text


def _reap(pid: int) -> None:
    # A worker launched by this very process stays a zombie until waited for.
    with suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_worker(status: dict[str, Any], run_dir: Path, marker: str) -> bool:
    """Whether status.json's pid may be signalled: alive with the recorded start time, its command line
    `python -m lrexplorer.runs.training.worker RUN_DIR`, and RUN_DIR carrying lrexplorer's marker. A crafted
    status.json naming some other process fails at least one of these."""
    import psutil

    run_dir = Path(run_dir).resolve()
    if status.get("pid_create_time") is None or not (run_dir / marker).is_file():
        return False
    if not process_matches(status, run_dir):
        return False
    try:
        cmdline = psutil.Process(status["pid"]).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return cmdline[1:4] == ["-m", WORKER_MODULE, str(run_dir)]
