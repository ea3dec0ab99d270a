"""A live run folder, read once per tick for every viewer, incrementally.

A whole class may watch one run: forty browser sessions each re-parsing `metrics.jsonl` once a
second would cost forty times the work. A `RunFeed` reads the metrics file through a
`store.MetricsReader` (a byte offset: only the lines appended since are parsed); a poll within `max_age` seconds of the
previous one returns the same `Snapshot` without touching the disk. `FeedRegistry` holds one feed
per run folder for the whole server (the pages keep it in `st.cache_resource`), so every viewer
shares the reads and whatever is derived from a snapshot (figures are built once per version).

No streamlit here: the registry is a plain object, tested and benchmarked without a browser.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrexplorer.runs.folder import store

# Columns kept for training-step records; memory is one column whatever the device (see _memory).
TRAIN_KEYS = (
    "step",
    "epoch",
    "time",
    "loss",
    "learning_rate",
    "grad_norm",
    "tokens_per_s",
    "samples_per_s",
    "step_time_s",
    "memory_bytes",
    "mean_token_accuracy",
)
EVAL_KEYS = ("step", "epoch", "time", "eval_loss")
SUMMARY_KEY = "train_runtime"  # Trainer's end-of-training record
RECONCILE_EVERY_S = 2.0  # how often an active run's worker is checked for being alive
LOG_LINES = 30


class _Column:
    """A float64 column that grows by doubling; `view()` is a stable, read-only prefix.

    Appends write past the viewed prefix, and growth allocates a new buffer, so a snapshot's arrays
    never change under a reader: no copy per snapshot, even at 100,000 points.
    """

    def __init__(self) -> None:
        self.buf = np.empty(256)
        self.n = 0

    def append(self, value: float) -> None:
        if self.n == self.buf.size:
            grown = np.empty(self.buf.size * 2)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n] = value
        self.n += 1

    def view(self) -> np.ndarray:
        out = self.buf[: self.n]
        out.flags.writeable = False
        return out


class _Table:
    def __init__(self, keys: tuple[str, ...]) -> None:
        self.columns = {k: _Column() for k in keys}

    def add(self, record: dict[str, Any]) -> None:
        for key, column in self.columns.items():
            column.append(_number(record.get(key)))

    def views(self) -> dict[str, np.ndarray]:
        return {k: c.view() for k, c in self.columns.items()}

    def __len__(self) -> int:
        return self.columns["step"].n


def _number(value: Any) -> float:
    """A metrics value as a float; missing is nan, and the worker's 'nan'/'inf' strings read as such."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _memory(record: dict[str, Any]) -> tuple[float, str | None]:
    # The peak since the previous log is what decides out-of-memory; RSS is the CPU's only figure.
    for key, label in (
        ("gpu_peak_allocated_bytes", "GPU peak allocated"),
        ("gpu_allocated_bytes", "GPU allocated"),
        ("rss_bytes", "process RSS"),
    ):
        if isinstance(record.get(key), (int, float)):
            return float(record[key]), label
    return math.nan, None


@dataclass(frozen=True)
class Snapshot:
    """What a page draws for one run at one moment; immutable, shared by every viewer."""

    run_dir: Path
    version: int  # grows whenever new records, a new status or new log lines were read
    status: dict[str, Any]
    train: dict[str, np.ndarray]  # TRAIN_KEYS -> one value per logged training step
    eval: dict[str, np.ndarray]  # EVAL_KEYS -> one value per evaluation
    summary: dict[str, Any]  # Trainer's final record (train_runtime, train_loss, ...), {} before the end
    memory_label: str | None  # what `train["memory_bytes"]` measures
    log_tail: str
    read_at: float  # time.time() of the disk read this snapshot came from

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @property
    def state(self) -> str:
        return str(self.status.get("state") or "unknown")

    @property
    def active(self) -> bool:
        return self.state in store.ACTIVE

    @property
    def points(self) -> int:
        return int(self.train["step"].size)


@dataclass
class FeedStats:
    polls: int = 0  # calls to poll()
    refreshes: int = 0  # polls that went to the disk
    records: int = 0  # metrics lines parsed in total
    bytes_read: int = 0


class RunFeed:
    """The incremental reader of one run folder; thread-safe (Streamlit serves sessions on threads)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.stats = FeedStats()
        self._lock = threading.Lock()
        self._metrics = store.MetricsReader(self.run_dir)
        self._reset_metrics()
        self._status: dict[str, Any] = {}
        self._status_sig: tuple[int, int] | None = None
        self._log_sig: tuple[int, int] | None = None
        self._log_tail = ""
        self._reconciled_at = 0.0
        self._version = 0
        self._snapshot: Snapshot | None = None
        self._polled_at = -math.inf
        self._derived: dict[str, tuple[int, Any]] = {}

    def _reset_metrics(self) -> None:
        self._train = _Table(TRAIN_KEYS)
        self._eval = _Table(EVAL_KEYS)
        self._summary: dict[str, Any] = {}
        self._memory_label: str | None = None

    def poll(self, max_age: float = 0.5) -> Snapshot:
        """The current snapshot; goes to the disk only if the last read is older than `max_age` s."""
        with self._lock:
            self.stats.polls += 1
            now = time.monotonic()
            if self._snapshot is not None and now - self._polled_at < max_age:
                return self._snapshot
            self._polled_at = now
            self.stats.refreshes += 1
            changed = self._read_status(now) | self._read_metrics() | self._read_log()
            if changed or self._snapshot is None:
                self._version += 1
                self._snapshot = Snapshot(
                    run_dir=self.run_dir,
                    version=self._version,
                    status=dict(self._status),
                    train=self._train.views(),
                    eval=self._eval.views(),
                    summary=dict(self._summary),
                    memory_label=self._memory_label,
                    log_tail=self._log_tail,
                    read_at=time.time(),
                )
            return self._snapshot

    def derived(self, name: str, snapshot: Snapshot, build: Callable[[Snapshot], Any]) -> Any:
        """`build(snapshot)` computed once per snapshot version for all viewers (figures, summaries)."""
        with self._lock:
            hit = self._derived.get(name)
            if hit is not None and hit[0] == snapshot.version:
                return hit[1]
        value = build(snapshot)  # outside the lock: a slow figure must not stall other runs' polls
        with self._lock:
            self._derived[name] = (snapshot.version, value)
        return value

    # -- the three files ----------------------------------------------------------------------------------
    def _read_status(self, now: float) -> bool:
        path = self.run_dir / store.STATUS
        sig = _signature(path)
        # An active run is also re-checked every few seconds even if its status file is unchanged:
        # a worker killed with SIGKILL never writes again, and reconcile notices it has gone.
        due = self._status.get("state") in store.ACTIVE and now - self._reconciled_at >= RECONCILE_EVERY_S
        if sig == self._status_sig and not due:
            return False
        status = store.read_status(self.run_dir)
        if status.get("state") in store.ACTIVE:
            status = store.reconcile(self.run_dir)
            self._reconciled_at = now
        self._status_sig = _signature(path)
        if status == self._status:
            return False
        self._status = status
        return True

    def _read_metrics(self) -> bool:
        chunk = self._metrics.read()
        if chunk.restarted:
            self._reset_metrics()  # resume_run rewrites the file without the records after its checkpoint
        self.stats.bytes_read += chunk.bytes_read
        for record in chunk.records:
            self._add(record)
        return chunk.restarted or chunk.bytes_read > 0

    def _add(self, record: dict[str, Any]) -> None:
        self.stats.records += 1
        if SUMMARY_KEY in record:
            self._summary = record
        elif "eval_loss" in record:
            self._eval.add(record)
        elif "loss" in record or "learning_rate" in record:
            memory, label = _memory(record)
            self._memory_label = label or self._memory_label
            self._train.add(dict(record, memory_bytes=memory))

    def _read_log(self) -> bool:
        sig = _signature(self.run_dir / store.LOG)
        if sig == self._log_sig:
            return False
        self._log_sig = sig
        tail = store.log_tail(self.run_dir, LOG_LINES)
        if tail == self._log_tail:
            return False
        self._log_tail = tail
        return True


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


@dataclass
class FeedRegistry:
    """One `RunFeed` per run folder for the whole server, least recently used dropped beyond `capacity`."""

    capacity: int = 64
    _feeds: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, run_dir: Path | str) -> RunFeed:
        key = str(Path(run_dir).resolve())
        with self._lock:
            feed = self._feeds.get(key)
            if feed is None:
                feed = self._feeds[key] = RunFeed(Path(key))
                while len(self._feeds) > self.capacity:
                    self._feeds.popitem(last=False)
            self._feeds.move_to_end(key)
            return feed

    def forget(self, run_dir: Path | str) -> None:
        """Drop a deleted run's feed (a new run may later reuse its folder name)."""
        with self._lock:
            self._feeds.pop(str(Path(run_dir).resolve()), None)
