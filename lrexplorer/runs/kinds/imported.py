"""The kind of a run made elsewhere and imported from its trainer_state.json (`runs/imported.py`): its logs
only. It never has a worker, so nothing is ever attached to a trainer for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrexplorer.runs.kinds.kind import Attached, RunKind

IMPORTED = "imported"


def _no_worker(run_dir: Path, settings: dict[str, Any], trainer: Any) -> Attached:
    # The launcher refuses to start or resume an imported run; reaching this is a bug, said as such.
    raise RuntimeError(f"{run_dir} is an imported run: it has no worker and cannot train")


KIND = RunKind(IMPORTED, "an imported run", _no_worker)
