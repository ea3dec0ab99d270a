"""One run per device, across processes: an fcntl lock file per device (`cpu`, `gpu0`, ...).

The worker holds the lock for its whole life; the kernel releases it when the process ends, however
it ends, so a killed run never leaves a stale lock. The holder writes its run folder and pid into
the file, so a refused start can say which run is in the way.

One protocol, no check-then-act: a start that must not wait takes the lock itself, before it creates
the run folder, and hands the open lock file to the worker (an inherited descriptor keeps the same
flock), so two starts at the same moment cannot both pass. A queued worker takes the lock itself,
waiting for it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO, Any

PROBE_RETRIES = 10


class DeviceBusy(RuntimeError):
    def __init__(self, device: str, holder: dict[str, Any]) -> None:
        self.device = device
        self.holder = holder
        who = holder.get("run_dir") or "another run"
        super().__init__(
            f"the {device} is busy with run {who} (pid {holder.get('pid', '?')}); lrexplorer trains one run per device "
            "at a time. Stop that run, wait for it, or queue this one."
        )


def lock_dir() -> Path:
    """$LRX_LOCK_DIR, else a per-user folder: the lock must be shared by every runs directory."""
    explicit = os.environ.get("LRX_LOCK_DIR")
    base = (
        Path(explicit)
        if explicit
        else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lrexplorer" / "locks"
    )
    base.mkdir(parents=True, exist_ok=True)
    return base


def _path(device: str) -> Path:
    return lock_dir() / f"{device}.lock"


def read_holder(device: str) -> dict[str, Any]:
    try:
        return json.loads(_path(device).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def acquire(device: str, run_dir: str, wait: bool) -> IO[str]:
    """Take the device's lock (blocking when `wait`); keep the returned file open to keep the lock."""
    fh = open(_path(device), "a+", encoding="utf-8")  # noqa: SIM115 (the open file is the lock: the caller keeps it)
    for attempt in range(PROBE_RETRIES):
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            break
        except BlockingIOError:
            if attempt == PROBE_RETRIES - 1:
                fh.close()
                raise DeviceBusy(device, read_holder(device)) from None
            time.sleep(0.02)  # an `is_busy` probe holds the lock for microseconds: not a run
    describe(fh, run_dir)
    return fh


def acquire_all(devices: list[str], run_dir: str, wait: bool) -> list[IO[str]]:
    """Take every lock of a run on several devices, in order; none is kept when one is busy."""
    held: list[IO[str]] = []
    try:
        for device in devices:
            held.append(acquire(device, run_dir, wait))
    except BaseException:
        for fh in held:
            fh.close()
        raise
    return held


def describe(fh: IO[str], run_dir: str) -> None:
    """Write the holder's run folder and pid into the held lock file."""
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"run_dir": run_dir, "pid": os.getpid()}))
    fh.flush()


def adopt(fd: int, run_dir: str) -> IO[str]:
    """The worker's side of the hand-over: the lock file its launcher took, inherited as descriptor `fd`."""
    fh = open(fd, "a+", encoding="utf-8")  # noqa: SIM115 (the open file is the lock)
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # already ours: succeeds at once, else raises
    describe(fh, run_dir)
    return fh


def is_busy(device: str) -> dict[str, Any] | None:
    """The holder's record when the device is locked, else None (a probe: takes and drops the lock)."""
    with open(_path(device), "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(device) or {"run_dir": None}
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return None
