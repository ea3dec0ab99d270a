"""A run is a folder: its layout, atomic status updates, and reading runs back (also after a restart).

    RUN/config.yaml     the spec (every catalogue field)
    RUN/status.json     state, pid, times, attention used, message; replaced atomically
    RUN/metrics.jsonl   one JSON record per Trainer log
    RUN/train.log       the worker's stdout and stderr
    RUN/checkpoint-N/   Trainer checkpoints;  RUN/final_model/  the trained model and tokenizer

Only the worker writes a live run's status. `reconcile` writes it for a run whose process has gone
without saying how it ended (killed, crashed, machine restarted), after checking that the pid in
status.json is not now some other process.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CONFIG, STATUS, METRICS, LOG, STOP = "config.yaml", "status.json", "metrics.jsonl", "train.log", "stop.request"
FINAL = "final_model"
ACTIVE = ("queued", "running")
FINAL_STATES = ("completed", "failed", "stopped")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
WORKER_MODULE = "lrexplorer.runs.worker"


class RunNotFound(LookupError):
    pass


def runs_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--runs_dir, else $LRX_RUNS_DIR, else ./runs."""
    return Path(explicit or os.environ.get("LRX_RUNS_DIR") or "runs").expanduser().absolute()


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id) or run_id in (".", ".."):
        raise ValueError(f"run id {run_id!r}: use letters, digits, '.', '_' and '-' (at most 81 characters, not "
                         "starting with '.', '_' or '-')")
    return run_id


def run_path(root: Path, run_id: str) -> Path:
    """RUN folder of `run_id` inside `root`; refuses anything that would resolve outside it."""
    check_run_id(run_id)
    root = root.resolve()
    path = (root / run_id).resolve()
    if path.parent != root:
        raise ValueError(f"run id {run_id!r} leads outside the runs directory {root}")
    return path


def find_run(ref: str, root: Path) -> Path:
    """A run by id (inside `root`) or by the path of its folder (a run started with --output_dir)."""
    if RUN_ID.match(ref) and (root / ref).is_dir():
        return run_path(root, ref)
    path = Path(ref).expanduser()
    if (path / STATUS).is_file():
        return path.resolve()
    raise RunNotFound(f"no run {ref!r} in {root} (give a run id from `lrexplorer runs list` or a run folder)")


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    # Readers (the page, `runs show`) must never see half a file: write aside, then rename over.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(run_dir) / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@contextmanager
def status_lock(run_dir: Path) -> Iterator[None]:
    """Serialise read-modify-write of status.json between the worker, the launcher and `reconcile`."""
    with open(Path(run_dir) / ".status.lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def update_status(run_dir: Path, **fields: Any) -> dict[str, Any]:
    with status_lock(run_dir):
        status = read_status(run_dir)
        status.update(fields)
        status["updated_at"] = time.time()
        write_json_atomic(Path(run_dir) / STATUS, status)
    return status


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete record (a line being written right now is skipped)."""
    rows = []
    try:
        with open(Path(run_dir) / METRICS, encoding="utf-8") as fh:
            for line in fh:
                if line.endswith("\n"):
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return rows


def log_tail(run_dir: Path, lines: int = 25, max_bytes: int = 20000) -> str:
    try:
        with open(Path(run_dir) / LOG, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - max_bytes))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint-N folders, oldest first.

    The Trainer writes trainer_state.json last, so a folder without a readable one was cut off
    mid-save (a kill) and cannot be resumed from.
    """
    found = []
    for p in Path(run_dir).glob("checkpoint-*"):
        suffix = p.name.split("-", 1)[1]
        if p.is_dir() and suffix.isdigit():
            try:
                json.loads((p / "trainer_state.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            found.append((int(suffix), p))
    return [p for _, p in sorted(found)]


# -- is the worker of this run alive? ---------------------------------------------------------------------
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
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def reconcile(run_dir: Path) -> dict[str, Any]:
    """The run's status; an active run whose worker is gone is marked ended, with the log's tail."""
    status = read_status(run_dir)
    if status.get("state") not in ACTIVE or status.get("pid") is None:
        return status
    if process_matches(status, run_dir):
        return status
    tail = log_tail(run_dir, 15)
    stop_asked = (Path(run_dir) / STOP).exists()
    state = "stopped" if stop_asked else "failed"
    why = "stopped by force after a stop request" if stop_asked else "the training process ended without a final status (killed or crashed)"
    with status_lock(run_dir):
        status = read_status(run_dir)
        if status.get("state") not in ACTIVE or process_matches(status, run_dir):
            return status  # the worker wrote its final status, or a relaunch took over, meanwhile
        status.update(state=state, ended_at=time.time(), updated_at=time.time(), message=f"{why}. Last lines of {LOG}:\n{tail}")
        write_json_atomic(Path(run_dir) / STATUS, status)
    return status


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Every run folder under `root`, newest first, with its reconciled status and id."""
    out: list[dict[str, Any]] = []
    if not Path(root).is_dir():
        return out
    for child in Path(root).iterdir():
        if child.is_dir() and (child / STATUS).is_file() and RUN_ID.match(child.name):
            status = reconcile(child)
            status["run_id"] = child.name
            status["path"] = str(child)
            out.append(status)
    out.sort(key=lambda s: s.get("created_at") or 0, reverse=True)
    return out
