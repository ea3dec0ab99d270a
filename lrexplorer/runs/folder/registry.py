"""Runs that live outside the runs directory (a user-chosen output_dir), reachable by id all the same.

RUNS/.registry.json maps run id -> absolute folder. It is written atomically under a lock and never
trusted on read: an entry counts only when its id is a valid run id and its folder carries the marker
file lrexplorer wrote there for that very id, so a hand-edited registry cannot point a page or a
`runs` command at some other folder.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lrexplorer.runs.folder import store

REGISTRY = ".registry.json"


def _raw(root: Path) -> dict[str, object]:
    try:
        data = json.loads((Path(root) / REGISTRY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def entries(root: Path) -> dict[str, Path]:
    """The valid entries: id -> resolved folder whose marker names that id."""
    out = {}
    for run_id, folder in _raw(root).items():
        if not isinstance(folder, str) or not store.RUN_ID.match(run_id) or not Path(folder).is_absolute():
            continue
        path = Path(folder)
        if store.marker_id(path) == run_id:
            out[run_id] = path.resolve()
    return out


def lookup(root: Path, run_id: str) -> Path | None:
    return entries(root).get(run_id)


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    with open(Path(root) / ".registry.lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield


def add(root: Path, run_id: str, folder: Path) -> None:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        kept: dict[str, object] = {k: str(v) for k, v in entries(root).items()}
        kept[store.check_run_id(run_id)] = str(Path(folder).resolve())
        store.write_json_atomic(root / REGISTRY, kept)
