"""A run is a folder, and this module is the one place that knows its files and their formats.

    RUN/config.yaml     the spec (every catalogue field)
    RUN/status.json     state, pid, times, attention used, message; replaced atomically
    RUN/metrics.jsonl   one JSON object per Trainer log, appended a whole line at a time
    RUN/train.log       the worker's stdout and stderr
    RUN/stop.request    present while a graceful stop is asked for
    RUN/memory.json     the predicted peak memory of a step and the peak the run really used
    RUN/checkpoint-N/   Trainer checkpoints;  RUN/final_model/  the trained model (or LoRA adapter) and tokenizer
    RUN/base_model/     a LoRA run of a built-in model: the base weights its adapter_config.json names
    RUN/.lrexplorer-run the marker: this folder was created by lrexplorer for run id N (JSON)

Folders are read while a worker writes them and after it crashed, so the readers never raise for a
missing or damaged file: a status or config that cannot be read is {}, a metrics line not yet
complete (or not a JSON object) is skipped. The exceptions are `load_config` and `read_spec`, which
say why a config cannot be used (`ConfigUnreadable`), for the callers that must report it.

Only the worker writes a live run's status. `reconcile` writes it for a run whose process has gone
without saying how it ended (killed, crashed, machine restarted), after checking that the pid in
status.json is not now some other process. `delete_run` removes a run folder of the runs directory, once
`reconcile` says it is not running.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The metrics readers and writer, re-exported (noqa F401): callers use store for every file of a run.
from lrexplorer.runs.folder.metrics import (
    METRICS,
    TAIL_BYTES,  # noqa: F401
    MetricsChunk,  # noqa: F401
    MetricsReader,  # noqa: F401
    MetricsWriter,  # noqa: F401
    encode_record,
    read_metrics,  # noqa: F401
    read_metrics_from,  # noqa: F401
    tail_metrics,  # noqa: F401
)
from lrexplorer.runs.folder.process import process_matches

if TYPE_CHECKING:
    from lrexplorer.core.facts import Facts
    from lrexplorer.runs.spec import RunSpec

CONFIG, STATUS, LOG, STOP = "config.yaml", "status.json", "train.log", "stop.request"
FINAL = "final_model"
MARKER = ".lrexplorer-run"
BASE = "base_model"  # a built-in model's initial weights, saved for its LoRA adapters
ACTIVE = ("queued", "running")
FINAL_STATES = ("completed", "failed", "stopped")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


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


def marker_id(run_dir: Path) -> str | None:
    """The run id in the folder's marker file, or None when there is no valid marker."""
    try:
        data = json.loads((Path(run_dir) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    run_id = data.get("run_id") if isinstance(data, dict) else None
    return run_id if isinstance(run_id, str) and RUN_ID.match(run_id) else None


def run_id_of(run_dir: Path) -> str:
    """A run folder's id: its marker's, else (a run from before markers) its folder name."""
    return marker_id(run_dir) or Path(run_dir).name


# -- config.yaml ----------------------------------------------------------------------------------------
def write_config(run_dir: Path, spec: RunSpec) -> None:
    write_text_atomic(Path(run_dir) / CONFIG, spec.to_yaml())


def load_config(run_dir: Path) -> dict[str, Any]:
    """The run's config.yaml as written, unvalidated; raises `ConfigUnreadable` saying why it cannot be read."""
    import yaml

    path = Path(run_dir) / CONFIG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigUnreadable(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigUnreadable(f"{path}: not UTF-8 text") from None
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
    from lrexplorer.runs.spec import RunSpec

    return RunSpec.from_dict(load_config(run_dir), facts)


def config_version(run_dir: Path) -> int | None:
    """Changes whenever config.yaml is rewritten (its mtime in ns); None when there is none."""
    try:
        return os.stat(Path(run_dir) / CONFIG).st_mtime_ns
    except OSError:
        return None


# -- status.json ----------------------------------------------------------------------------------------
def write_text_atomic(path: Path, text: str) -> None:
    """Readers (the page, `runs show`) must never see half a file: write aside, then rename over. A failed
    write (a full disk) leaves the old file as it was and no temporary behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, default=str))


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


# -- metrics.jsonl (the readers and writer live in .metrics) --------------------------------------------
def write_metrics(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """Replace metrics.jsonl by `records` at once (a reader sees the old file or the new one, never a mix)."""
    write_text_atomic(Path(run_dir) / METRICS, "".join(encode_record(r) for r in records))


# -- memory.json ----------------------------------------------------------------------------------------
MEMORY = "memory.json"


def write_memory_record(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into the run's memory record (predicted and measured peak; see runs/folder/peak.py)."""
    record = {**read_memory_record(run_dir), **fields}
    write_json_atomic(Path(run_dir) / MEMORY, record)
    return record


def read_memory_record(run_dir: Path) -> dict[str, Any]:
    """The run's memory record, {} when there is none (a run from before it existed, or not yet begun)."""
    try:
        data = json.loads((Path(run_dir) / MEMORY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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


def model_file(folder: Path) -> Path | None:
    """The file that makes `folder` a saved model: config.json, or a LoRA adapter's adapter_config.json."""
    for name in ("config.json", "adapter_config.json"):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def final_model(run_dir: Path) -> Path | None:
    """final_model/ once the worker has saved it (a model or a LoRA adapter is there), else None."""
    final = Path(run_dir) / FINAL
    return final if model_file(final) is not None else None


# -- runs whose worker has gone ------------------------------------------------------------------------
def reconcile(run_dir: Path) -> dict[str, Any]:
    """The run's status; an active run whose worker is gone is marked ended, with the log's tail. The
    ended status is returned even when it cannot be written (a full or read-only disk): the next read
    reconciles again."""
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
    full = disk_full(run_dir)
    if full:
        why += f"; disk full: {full}"
    try:
        with status_lock(run_dir):
            status = read_status(run_dir)
            if status.get("state") not in ACTIVE or process_matches(status, run_dir):
                return status  # the worker wrote its final status, or a relaunch took over, meanwhile
            status.update(state=state, ended_at=time.time(), message=f"{why}. Last lines of {LOG}:\n{tail}")
            status["updated_at"] = time.time()
            write_json_atomic(Path(run_dir) / STATUS, status)
    except OSError:
        status.update(state=state, ended_at=time.time(), message=f"{why} (status.json could not be updated)")
    return status


FULL_BELOW = 1 << 20  # bytes free under which a dead worker is blamed on the disk


def delete_run(run_dir: Path, root: Path) -> None:
    """Remove a run folder that lives in `root` and is not running (checked again here, not trusted
    from the page that asked)."""
    run_dir = Path(run_dir).resolve()
    if run_dir.parent != Path(root).resolve() or not is_run(run_dir):
        raise ValueError(f"{run_dir} is not a run folder of {root}; delete it by hand if you mean it")
    status = reconcile(run_dir)
    if status.get("state") in ACTIVE:
        raise RuntimeError(f"run {run_dir.name} is {status['state']}; stop it before deleting it")
    shutil.rmtree(run_dir)


def disk_full(run_dir: Path) -> str | None:
    """'N KiB free on the disk of RUN' when that disk is (nearly) full, else None."""
    try:
        info = os.statvfs(run_dir)
    except OSError:
        return None
    free = info.f_bavail * info.f_frsize
    return f"{free // 1024} KiB free on the disk of {run_dir}" if free < FULL_BELOW else None
