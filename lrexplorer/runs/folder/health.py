"""Whether a run folder can be used: its status.json and config.yaml read, with fields of the right types.

A folder damaged by hand, by a full disk or by a crash mid-write is reported with the reason, so the
Runs page and the launcher can show it as broken instead of failing on it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lrexplorer.runs.folder.store import ACTIVE, FINAL_STATES, STATUS, ConfigUnreadable, load_config

TIMES = ("created_at", "started_at", "ended_at", "updated_at")
COUNTS = ("global_step", "max_steps", "pid")


def status_problem(run_dir: Path) -> str | None:
    """Why status.json cannot be used (not JSON, not an object, a field of the wrong type), or None."""
    try:
        data = json.loads((Path(run_dir) / STATUS).read_bytes())
    except OSError as exc:
        return f"{STATUS} cannot be read ({exc.strerror or exc})"
    except ValueError:
        return f"{STATUS} is not valid JSON"
    if not isinstance(data, dict):
        return f"{STATUS} holds a {type(data).__name__}, not an object"
    for key in TIMES:
        if data.get(key) is not None and not _is_number(data[key]):
            return f"{STATUS}: {key} is {data[key]!r}, not a time"
    for key in COUNTS:
        if data.get(key) is not None and not (isinstance(data[key], int) and not isinstance(data[key], bool)):
            return f"{STATUS}: {key} is {data[key]!r}, not a whole number"
    if data.get("state") not in (*ACTIVE, *FINAL_STATES):
        return f"{STATUS}: state is {data.get('state')!r}, not one of {', '.join((*ACTIVE, *FINAL_STATES))}"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def run_problem(run_dir: Path) -> str | None:
    """Why this run folder is broken (its status or its config cannot be used), or None."""
    problem = status_problem(run_dir)
    if problem is None:
        try:
            load_config(run_dir)
        except ConfigUnreadable as exc:
            problem = str(exc)
    return problem
