"""The supervising worker of a multi-process run, and what each rank leaves for it.

The worker the launcher started stays the run's one supervised process (its pid in status.json, the
device locks in its hands): it starts `accelerate launch` under it, in the same process group, so a
stop or a kill of the group reaches every rank. Rank 0 writes the run folder as a single-process
worker does, except its end (`ranks/rank-0.end.json`); every other rank writes only `ranks/rank-K.log`
and, when it fails, `ranks/rank-K.error.json`. When the ranks have exited, the supervisor writes the
run's end: a rank's failure with its rank ("rank 1: ..."), earliest first, else rank 0's end, else
what the launcher's exit says.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrexplorer.runs.folder import store
from lrexplorer.runs.training.distributed import RANKS_DIR, free_port, launch_command, rank_end_path, rank_log_path


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux). torchrun starts each rank in a
    session of its own, out of reach of a signal to the run's process group: without this, a killed
    supervisor would leave its launcher, and a killed launcher its ranks, training on."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def adopt_rank(run_dir: Path, rank: int) -> None:
    """What a rank does first: die with the launcher, and (ranks above 0) write into its own log."""
    die_with_parent()
    if os.getppid() == 1:  # the launcher died before the line above took effect
        os._exit(1)
    if rank != 0:
        redirect_output(run_dir, rank)


def redirect_output(run_dir: Path, rank: int) -> None:
    """Send this rank's stdout and stderr to its own log (rank 0 keeps train.log)."""
    path = rank_log_path(run_dir, rank)
    path.parent.mkdir(exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def record_end(run_dir: Path, rank: int, state: str, message: str, extra: dict[str, Any]) -> None:
    """How this rank ended, for the supervisor: a failure of any rank, and rank 0's end whatever it is."""
    if state != "failed" and rank != 0:
        return
    record = {"rank": rank, "time": time.time(), "state": state, "message": message, "extra": extra}
    with contextlib.suppress(OSError):  # a full disk: the rank's log still has the traceback
        store.write_json_atomic(rank_end_path(run_dir, rank, state == "failed"), record)


def rank_errors(run_dir: Path) -> list[dict[str, Any]]:
    """The failures the ranks recorded, the earliest (the likely cause) first."""
    found = []
    for path in (Path(run_dir) / RANKS_DIR).glob("rank-*.error.json"):
        record = _read_json(path)
        if record is not None:
            found.append(record)
    return sorted(found, key=lambda e: (e.get("time", 0), e.get("rank", 0)))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def rank_log_tail(run_dir: Path, rank: int, lines: int = 12) -> str:
    if rank == 0:
        return store.log_tail(run_dir, lines)
    try:
        text = rank_log_path(run_dir, rank).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def supervise(
    run_dir: Path, values: dict[str, Any], resume: bool, finish: Callable[..., None], env: dict[str, str] | None = None
) -> int:
    """Run the ranks to their end and leave the run's final status; returns the launcher's exit code."""
    terminated: list[int] = []
    # A SIGTERM to the group reaches accelerate's launcher, which passes it to every rank: they checkpoint
    # and stop, and this process waits for them.
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
    folder = Path(run_dir) / RANKS_DIR
    folder.mkdir(exist_ok=True)
    for old in [*folder.glob("rank-*.error.json"), *folder.glob("rank-*.end.json")]:  # an earlier attempt's
        old.unlink(missing_ok=True)
    cmd = launch_command(values, Path(run_dir), resume, free_port())
    print(f"[lrexplorer] {values['num_processes']} processes: {shlex.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent)  # noqa: PLW1509
    code = proc.wait()
    settle(run_dir, values["num_processes"], code, bool(terminated), finish)
    return code


def settle(run_dir: Path, processes: int, code: int, terminated: bool, finish: Callable[..., None]) -> None:
    """The run's end once its ranks have exited, from what they recorded and the launcher's exit code."""
    errors = rank_errors(run_dir)
    end = _read_json(rank_end_path(run_dir, 0, False))
    if errors:
        known = [r["extra"]["global_step"] for r in [*errors, end] if r and "global_step" in r.get("extra", {})]
        steps = {"global_step": known[0]} if known else {}
        finish(run_dir, "failed", "\n".join(f"rank {e['rank']}: {e['message']}" for e in errors), **steps)
    elif end is not None:
        finish(run_dir, end["state"], end["message"], **end["extra"])
    elif terminated:
        finish(run_dir, "stopped", "terminated by SIGTERM; resume continues from the last checkpoint, if any")
    else:
        finish(
            run_dir,
            "failed",
            f"the {processes} processes ended (exit code {code}) before rank 0 recorded an end; "
            f"last lines of {store.LOG}:\n{store.log_tail(run_dir, 12)}",
        )
