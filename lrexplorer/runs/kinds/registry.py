"""Every run kind, as data (as torchtune's recipe registry lists its recipes): `KINDS` maps a kind's name to
its `RunKind`. A plain training run has no kind and no `run_kind.json`.

Whoever prepares a run of a kind writes its file (`mark`) before the worker starts; the worker reads it in
one place (`attach`) to add the kind's pieces to the trainer and, at the end, to say how the run ended.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lrexplorer.runs.kinds import imported, range_test, sweep_trial
from lrexplorer.runs.kinds.kind import KIND_FILE, Attached, RunKind

KINDS: dict[str, RunKind] = {k.name: k for k in (range_test.KIND, sweep_trial.KIND, imported.KIND)}


def mark(run_dir: Path, kind: str, settings: dict[str, Any]) -> None:
    """Record the run's kind and settings (before its worker starts)."""
    if kind not in KINDS:
        raise ValueError(f"run kind must be one of {', '.join(KINDS)}; got {kind!r}")
    text = json.dumps({"run_kind": kind, "settings": settings}, indent=1)
    (Path(run_dir) / KIND_FILE).write_text(text, encoding="utf-8")


def read_kind(run_dir: Path) -> tuple[str | None, dict[str, Any]]:
    """(kind, settings); (None, {}) for an ordinary run."""
    path = Path(run_dir) / KIND_FILE
    if not path.exists():
        return None, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["run_kind"], data["settings"]


def attach(run_dir: Path, trainer: Any) -> Attached | None:
    """Add the pieces of the run's kind to its trainer; None for an ordinary run."""
    name, settings = read_kind(run_dir)
    return None if name is None else KINDS[name].attach(Path(run_dir), settings, trainer)
