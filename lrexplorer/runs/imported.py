"""A run made elsewhere (a plain `Trainer` or `trl sft` script, on any machine), imported from the folder it
left: its `trainer_state.json` becomes a read-only run of kind `imported` that the Runs page lists, charts and
compares like lrexplorer's own.

The state is `FOLDER/trainer_state.json` (what `trainer.save_state()` writes), else that of the newest
`checkpoint-N/` (its log_history holds every earlier log). Each logged entry becomes a metrics.jsonl record;
the arguments, when a JSON or YAML file of them lies beside it, become config.yaml (`imported_args`); the
pickled `training_args.bin` is never loaded. Everything is read and checked before the run folder is made:
a file that is too large, not JSON, or has fields of the wrong type is refused with its name and the problem,
and nothing is written. The imported run has no worker: it cannot be stopped, resumed, exported or merged.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lrexplorer.catalogues.params import FieldError
from lrexplorer.core.documents import DocumentError, load_json
from lrexplorer.core.limits import MAX_STEPS
from lrexplorer.runs.folder import registry, store
from lrexplorer.runs.imported_args import PICKLE, ImportRefused, catalogue_values, find_args, load_args, read_bounded
from lrexplorer.runs.kinds.imported import IMPORTED
from lrexplorer.runs.kinds.kind import KIND_FILE
from lrexplorer.runs.kinds.registry import mark, read_kind

STATE = "trainer_state.json"
MAX_STATE_BYTES = 64 * 2**20  # a log of every step of a 10-million-step run is far smaller
MAX_ENTRIES = 1_000_000
MAX_KEYS = 256  # per log entry
MAX_KEY_CHARS = 200


class ReadOnlyRun(RuntimeError):
    """An imported run asked to do what only a run with a worker does."""


@dataclass
class Imported:
    """What an import reads, before anything is written."""

    state_file: Path
    max_steps: int
    global_step: int
    records: list[dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)
    args_file: Path | None = None
    notes: list[str] = field(default_factory=list)
    num_train_epochs: float | None = None


def find_state(folder: Path) -> Path:
    """FOLDER/trainer_state.json, or the newest checkpoint's; FOLDER may also be the file itself."""
    try:
        return _find_state(folder)
    except ImportRefused:
        raise
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte
        shown = str(folder)[:200]
        raise ImportRefused(f"{shown!r}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None


def _find_state(folder: Path) -> Path:
    if not folder.exists():
        raise ImportRefused(f"{folder}: no such file or folder")
    if not folder.is_dir():
        return folder  # the state file itself (read_bounded refuses what is not a regular file)
    if (folder / STATE).exists():
        return folder / STATE
    found = sorted(
        (int(p.name.split("-", 1)[1]), p)
        for p in folder.glob("checkpoint-*")
        if p.name.split("-", 1)[1].isdigit() and (p / STATE).is_file()
    )
    if found:
        return found[-1][1] / STATE
    raise ImportRefused(f"{folder}: no {STATE} in it nor in a checkpoint-N folder (save_state() writes one)")


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if isinstance(value, int) and abs(value) < 2**53 else float(value)


def read_state(path: Path) -> Imported:
    """The checked contents of a trainer_state.json; ImportRefused naming the file and the problem."""
    try:
        data = load_json(read_bounded(path, MAX_STATE_BYTES), max_bytes=None)  # read_bounded bounded its size
    except DocumentError as exc:
        raise ImportRefused(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ImportRefused(f"{path}: holds a {type(data).__name__}, not the object a Trainer writes")
    max_steps: Any = data.get("max_steps")
    if not _whole(max_steps, 1, MAX_STEPS):
        raise ImportRefused(f"{path}: max_steps is {max_steps!r}, not a whole number from 1 to {MAX_STEPS:,}")
    history = data.get("log_history")
    if not isinstance(history, list):
        raise ImportRefused(f"{path}: log_history is {type(history).__name__}, not a list of logs")
    if len(history) > MAX_ENTRIES:
        raise ImportRefused(f"{path}: {len(history):,} log entries; at most {MAX_ENTRIES:,}")
    records = [r for r in (_record(entry, i, path) for i, entry in enumerate(history)) if r is not None]
    last = max((r["step"] for r in records), default=0)
    global_step: Any = data.get("global_step", last)
    if not _whole(global_step, 0, MAX_STEPS):
        raise ImportRefused(f"{path}: global_step is {global_step!r}, not a whole number from 0 to {MAX_STEPS:,}")
    epochs = _number(data.get("num_train_epochs"))
    return Imported(path, max_steps, global_step, records, num_train_epochs=epochs)


def _record(entry: Any, i: int, path: Path) -> dict[str, Any] | None:
    """A log entry as a metrics record (its numbers), None for an entry without a step."""
    if not isinstance(entry, dict):
        raise ImportRefused(f"{path}: log_history[{i}] is a {type(entry).__name__}, not an object")
    if len(entry) > MAX_KEYS:
        raise ImportRefused(f"{path}: log_history[{i}] has {len(entry):,} fields; at most {MAX_KEYS}")
    if "step" not in entry:
        return None
    step = entry["step"]
    if not _whole(step, 0, MAX_STEPS):
        raise ImportRefused(f"{path}: log_history[{i}].step is {step!r}, not a whole number from 0 to {MAX_STEPS:,}")
    out: dict[str, Any] = {"step": step}
    for key, value in entry.items():
        if len(key) > MAX_KEY_CHARS:
            raise ImportRefused(f"{path}: log_history[{i}] has a field name of {len(key):,} characters")
        number = _number(value)
        if number is not None and key != "step":
            out[key] = number  # nan and inf stay floats; metrics.jsonl writes them as strings
    return out


def _path(folder: Path | str) -> Path:
    try:
        return Path(folder).expanduser().absolute()
    except RuntimeError:  # ~someone unknown: taken as written
        return Path(folder).absolute()


def read_run(folder: Path) -> Imported:
    """Everything an import of `folder` would write, read and checked (no file is written)."""
    folder = _path(folder)
    run = read_state(find_state(folder))
    if not any("learning_rate" in r or "loss" in r for r in run.records):
        run.notes.append("its log holds no loss and no learning rate: the charts will be empty")
    run.args_file = find_args(run.state_file.parent, folder)
    if run.args_file is not None:
        run.config, notes = catalogue_values(load_args(run.args_file))
        run.notes += notes
    elif (run.state_file.parent / PICKLE).exists() or (folder / PICKLE).exists():
        run.notes.append(
            f"{PICKLE} is a pickle and is never loaded: save TrainingArguments.to_json_string() as "
            "training_args.json beside trainer_state.json to import the arguments too"
        )
    run.config.setdefault("max_steps", run.max_steps)
    return run


def default_id(folder: Path, root: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", _path(folder).name).strip("-._") or "run"
    base, taken = f"imported-{name}"[:70], registry.entries(root)
    run_id, n = base, 1
    while (root / run_id).exists() or run_id in taken:
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def import_run(folder: Path, root: Path | None = None, run_id: str | None = None) -> tuple[Path, Imported]:
    """Read `folder` and write it as a run of kind `imported` in the runs directory; (run folder, what was read).

    Raises FieldError naming `folder` (a file refused) or `run_id` (invalid or taken) before writing anything."""
    root = store.runs_dir(root)
    try:
        run_dir = store.run_path(root, run_id or default_id(Path(folder), root))
    except ValueError as exc:
        raise FieldError("run_id", str(exc)) from None
    run_id = run_dir.name
    try:
        run = read_run(Path(folder))
    except ImportRefused as exc:
        raise FieldError("folder", str(exc)) from None
    if run_dir.exists() or run_id in registry.entries(root):
        raise FieldError("run_id", f"a run {run_id!r} already exists in {root}; give another --run_id")
    try:
        root.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
    except OSError as exc:
        raise FieldError("run_id", f"{run_dir} cannot be created: {exc.strerror or exc}") from None
    try:
        _write(run_dir, run_id, _path(folder), run)
    except OSError:
        for name in (store.MARKER, store.CONFIG, store.METRICS, KIND_FILE, store.STATUS):
            with contextlib.suppress(OSError):
                (run_dir / name).unlink()
        with contextlib.suppress(OSError):
            run_dir.rmdir()
        raise
    return run_dir, run


def _write(run_dir: Path, run_id: str, source: Path, run: Imported) -> None:
    now = time.time()
    store.write_json_atomic(run_dir / store.MARKER, {"run_id": run_id, "created_at": now, "imported_from": str(source)})
    store.write_text_atomic(run_dir / store.CONFIG, yaml.safe_dump(run.config, sort_keys=False, allow_unicode=True))
    store.write_metrics(run_dir, run.records)
    mark(
        run_dir,
        IMPORTED,
        {
            "source": str(source),
            "state_file": str(run.state_file),
            "args_file": str(run.args_file) if run.args_file else None,
            "notes": run.notes,
        },
    )
    finished = run.global_step >= run.max_steps
    status = {
        "state": "completed" if finished else "stopped",
        "run_id": run_id,
        "created_at": now,
        "pid": None,
        "global_step": run.global_step,
        "max_steps": run.max_steps,
        "message": f"imported from {run.state_file} (step {run.global_step:,} of {run.max_steps:,}); read-only",
    }
    if run.num_train_epochs is not None and math.isfinite(run.num_train_epochs):
        status["num_train_epochs"] = run.num_train_epochs
    store.write_json_atomic(run_dir / store.STATUS, status)  # last: until it exists the folder is not a run


def is_imported(run_dir: Path) -> bool:
    return imported_from(run_dir) is not None


def imported_from(run_dir: Path) -> str | None:
    """Where an imported run was read from; None for any other run (or a kind file that cannot be read)."""
    try:
        kind, settings = read_kind(Path(run_dir))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(settings.get("source")) if kind == IMPORTED and isinstance(settings, dict) else None


def refuse_control(run_dir: Path, action: str) -> None:
    """ReadOnlyRun when `run_dir` is an imported run: it has no worker, checkpoint or model here."""
    source = imported_from(run_dir)
    if source is not None:
        raise ReadOnlyRun(
            f"run {Path(run_dir).name} was imported from {source}: it holds the logs of a run made elsewhere and "
            f"cannot be {action} here"
        )
