"""A run is a folder, and this module is the one place that knows its files and their formats.

    RUN/config.yaml     the spec (every catalogue field)
    RUN/status.json     state, pid, times, attention used, message; replaced atomically
    RUN/metrics.jsonl   one JSON object per Trainer log, appended a whole line at a time
    RUN/train.log       the worker's stdout and stderr
    RUN/stop.request    present while a graceful stop is asked for
    RUN/checkpoint-N/   Trainer checkpoints;  RUN/final_model/  the trained model (or LoRA adapter) and tokenizer
    RUN/base_model/     a LoRA run of a built-in model: the base weights its adapter_config.json names

Folders are read while a worker writes them and after it crashed, so the readers never raise for a
missing or damaged file: a status or config that cannot be read is {}, a metrics line not yet
complete (or not a JSON object) is skipped. The exceptions are `load_config` and `read_spec`, which
say why a config cannot be used (`ConfigUnreadable`), for the callers that must report it.

Only the worker writes a live run's status. `reconcile` writes it for a run whose process has gone
without saying how it ended (killed, crashed, machine restarted), after checking that the pid in
status.json is not now some other process.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .process import process_matches

if TYPE_CHECKING:
    from .spec import RunSpec
    from .validate import Facts

CONFIG, STATUS, METRICS, LOG, STOP = "config.yaml", "status.json", "metrics.jsonl", "train.log", "stop.request"
FINAL = "final_model"
BASE = "base_model"  # a built-in model's initial weights, saved for its LoRA adapters
ACTIVE = ("queued", "running")
FINAL_STATES = ("completed", "failed", "stopped")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
TAIL_BYTES = 32_768  # the end of metrics.jsonl that holds the last records, without reading it all


class RunNotFound(LookupError):
    pass


class ConfigUnreadable(ValueError):
    """A run's config.yaml is missing, unreadable, not YAML, or not a mapping of field: value."""


def runs_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--runs_dir, else $LRX_RUNS_DIR, else ./runs."""
    return Path(explicit or os.environ.get("LRX_RUNS_DIR") or "runs").expanduser().absolute()


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id) or run_id in (".", ".."):
        raise ValueError(
            f"run id {run_id!r}: use letters, digits, '.', '_' and '-' (at most 81 characters, not "
            "starting with '.', '_' or '-')"
        )
    return run_id


def run_path(root: Path, run_id: str) -> Path:
    """RUN folder of `run_id` inside `root`; refuses anything that would resolve outside it."""
    check_run_id(run_id)
    root = root.resolve()
    path = (root / run_id).resolve()
    if path.parent != root:
        raise ValueError(f"run id {run_id!r} leads outside the runs directory {root}")
    return path


def is_run(path: Path) -> bool:
    """Whether `path` is a run folder (it has a status file)."""
    return (Path(path) / STATUS).is_file()


def find_run(ref: str, root: Path) -> Path:
    """A run by id (inside `root`) or by the path of its folder (a run started with --output_dir)."""
    if RUN_ID.match(ref) and (root / ref).is_dir():
        return run_path(root, ref)
    path = Path(ref).expanduser()
    if is_run(path):
        return path.resolve()
    raise RunNotFound(f"no run {ref!r} in {root} (give a run id from `lrexplorer runs list` or a run folder)")


# -- config.yaml ----------------------------------------------------------------------------------------
def write_config(run_dir: Path, spec: RunSpec) -> None:
    (Path(run_dir) / CONFIG).write_text(spec.to_yaml(), encoding="utf-8")


def load_config(run_dir: Path) -> dict[str, Any]:
    """The run's config.yaml as written, unvalidated; raises `ConfigUnreadable` saying why it cannot be read."""
    import yaml

    path = Path(run_dir) / CONFIG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigUnreadable(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # yaml's own text spans several lines: keep one
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigUnreadable(f"{path}: not valid YAML ({where}{getattr(exc, 'problem', None) or exc})") from None
    if data is None:  # an empty file: every field at its default
        return {}
    if not isinstance(data, dict):
        raise ConfigUnreadable(f"{path}: must be a mapping of field: value, not a {type(data).__name__}")
    return data


def read_config(run_dir: Path) -> dict[str, Any]:
    """`load_config`, or {} when it cannot be read (a table must list even a damaged run, or one a newer
    catalogue would refuse)."""
    try:
        return load_config(run_dir)
    except ConfigUnreadable:
        return {}


def read_spec(run_dir: Path, facts: Facts | None = None) -> RunSpec:
    """The run's config as a validated spec; raises `ConfigUnreadable`, or a FieldError naming every field at fault."""
    from .spec import RunSpec

    return RunSpec.from_dict(load_config(run_dir), facts)


def config_version(run_dir: Path) -> int | None:
    """Changes whenever config.yaml is rewritten (its mtime in ns); None when there is none."""
    try:
        return os.stat(Path(run_dir) / CONFIG).st_mtime_ns
    except OSError:
        return None


# -- status.json ----------------------------------------------------------------------------------------
def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    # Readers (the page, `runs show`) must never see half a file: write aside, then rename over.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(run_dir) / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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


# -- metrics.jsonl --------------------------------------------------------------------------------------
def encode_record(record: dict[str, Any]) -> str:
    """One metrics line. JSON has no nan or inf, so non-finite numbers are written as the strings
    "nan", "inf", "-inf" (readers turn them back into floats)."""
    clean = {k: str(v) if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}
    return json.dumps(clean) + "\n"


def _records(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects among the newline-separated lines of `data`; other lines are skipped."""
    out = []
    for line in data.split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def read_metrics_from(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(records, new offset): the complete records of the metrics file `path` from byte `offset` on.

    A last line without its newline is being written right now: it is left for the next read, which
    starts at the returned offset (just after the last newline)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return _records(data[:end]), offset + end


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete record of the run, oldest first."""
    return read_metrics_from(Path(run_dir) / METRICS)[0]


def tail_metrics(run_dir: Path, max_bytes: int = TAIL_BYTES) -> list[dict[str, Any]]:
    """The complete records in the last `max_bytes` of metrics.jsonl, oldest first."""
    try:
        with open(Path(run_dir) / METRICS, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    start = data.find(b"\n") + 1 if size > max_bytes else 0  # the seek cut the first line
    return _records(data[start : data.rfind(b"\n") + 1])


@dataclass(frozen=True)
class MetricsChunk:
    records: list[dict[str, Any]]  # complete records appended since the previous read
    restarted: bool  # the file was replaced, truncated or removed: `records` start from its beginning
    bytes_read: int


class MetricsReader:
    """metrics.jsonl read incrementally: each `read()` parses only the lines appended since the last.

    A resume replaces the file with the records up to its checkpoint; the reader notices (another
    inode, a shorter file, or no file) and starts over, saying so in `MetricsChunk.restarted`.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / METRICS
        self.offset = 0
        self._inode: int | None = None

    def read(self) -> MetricsChunk:
        try:
            info = os.stat(self.path)
        except OSError:
            restarted = self.offset > 0
            self.offset, self._inode = 0, None
            return MetricsChunk([], restarted, 0)
        restarted = (self._inode is not None and info.st_ino != self._inode) or info.st_size < self.offset
        if restarted:
            self.offset = 0
        self._inode = info.st_ino
        if info.st_size == self.offset:
            return MetricsChunk([], restarted, 0)
        records, end = read_metrics_from(self.path, self.offset)
        chunk = MetricsChunk(records, restarted, end - self.offset)
        self.offset = end
        return chunk


class MetricsWriter:
    """Appends records to a run's metrics.jsonl, each flushed as a whole line (readers skip a partial one)."""

    def __init__(self, run_dir: Path) -> None:
        self._fh: IO[str] = open(Path(run_dir) / METRICS, "a", encoding="utf-8")  # noqa: SIM115 - held for the run

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(encode_record(record))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def write_metrics(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """Replace metrics.jsonl by `records` at once (a reader sees the old file or the new one, never a mix)."""
    tmp = Path(run_dir) / f".{METRICS}.tmp"
    tmp.write_text("".join(encode_record(r) for r in records), encoding="utf-8")
    os.replace(tmp, Path(run_dir) / METRICS)


# -- train.log, the stop request, checkpoints, the trained model ----------------------------------------
def log_tail(run_dir: Path, lines: int = 25, max_bytes: int = 20000) -> str:
    try:
        with open(Path(run_dir) / LOG, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - max_bytes))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / STOP).exists()


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


def final_model(run_dir: Path) -> Path | None:
    """final_model/ once the worker has saved it (config.json is there), else None."""
    final = Path(run_dir) / FINAL
    return final if (final / "config.json").is_file() else None


# -- runs whose worker has gone ------------------------------------------------------------------------
def reconcile(run_dir: Path) -> dict[str, Any]:
    """The run's status; an active run whose worker is gone is marked ended, with the log's tail."""
    status = read_status(run_dir)
    if status.get("state") not in ACTIVE or status.get("pid") is None:
        return status
    if process_matches(status, run_dir):
        return status
    tail = log_tail(run_dir, 15)
    stop_asked = stop_requested(run_dir)
    state = "stopped" if stop_asked else "failed"
    why = (
        "stopped by force after a stop request"
        if stop_asked
        else "the training process ended without a final status (killed or crashed)"
    )
    with status_lock(run_dir):
        status = read_status(run_dir)
        if status.get("state") not in ACTIVE or process_matches(status, run_dir):
            return status  # the worker wrote its final status, or a relaunch took over, meanwhile
        status.update(
            state=state, ended_at=time.time(), updated_at=time.time(), message=f"{why}. Last lines of {LOG}:\n{tail}"
        )
        write_json_atomic(Path(run_dir) / STATUS, status)
    return status


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Every run folder under `root`, newest first, with its reconciled status and id."""
    out: list[dict[str, Any]] = []
    if not Path(root).is_dir():
        return out
    for child in Path(root).iterdir():
        if child.is_dir() and is_run(child) and RUN_ID.match(child.name):
            status = reconcile(child)
            status["run_id"] = child.name
            status["path"] = str(child)
            out.append(status)
    out.sort(key=lambda s: s.get("created_at") or 0, reverse=True)
    return out
