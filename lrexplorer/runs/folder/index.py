"""Runs found by id and listed: a folder of the runs directory, or a run registered there that lives
elsewhere (a user-chosen output_dir). Paths are never accepted: a page or a command reaches only
lrexplorer's runs. Above `store` (the files of one run), `registry` and `health` (is a folder usable)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lrexplorer.runs.folder import registry
from lrexplorer.runs.folder.health import run_problem, status_problem
from lrexplorer.runs.folder.store import RUN_ID, RunNotFound, check_run_id, is_run, reconcile, run_path


def find_run(ref: str, root: Path) -> Path:
    """A run by id: a folder of `root` (symlinks leading out refused), or a registered run started with an
    output_dir elsewhere. Paths are never accepted: a page or a command reaches only lrexplorer's runs."""
    try:
        check_run_id(ref)
        local = run_path(root, ref)
    except ValueError as exc:
        raise RunNotFound(str(exc)) from None
    if is_run(local):
        return local
    found = registry.lookup(root, ref)
    if found is not None and is_run(found):
        return found
    raise RunNotFound(f"no run {ref!r} in {root} (give a run id from `lrexplorer runs list`)")


def run_row(run_dir: Path, run_id: str) -> dict[str, Any]:
    """One run's reconciled status for a listing; a broken run is state `broken` with the reason in
    `problem` (and `message`), and only fields a table can show safely."""
    problem = status_problem(run_dir)
    if problem is not None:
        try:
            created = os.stat(run_dir).st_mtime
        except OSError:
            created = 0.0
        row: dict[str, Any] = {"state": "broken", "message": problem, "created_at": created}
    else:
        row = reconcile(run_dir)
        problem = run_problem(run_dir)
    row.update(run_id=run_id, path=str(run_dir), problem=problem)
    return row


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Every run of `root` and of its registry, newest first; a broken one is listed as broken, never raises."""
    root = Path(root)
    found: dict[Path, str] = {}
    if root.is_dir():
        real = root.resolve()
        for child in root.iterdir():
            if RUN_ID.match(child.name) and child.resolve().parent == real and child.is_dir() and is_run(child):
                found[child.resolve()] = child.name
    for run_id, folder in registry.entries(root).items():
        if is_run(folder):
            found.setdefault(folder, run_id)
    out = [run_row(path, run_id) for path, run_id in found.items()]
    out.sort(key=lambda s: s.get("created_at") or 0, reverse=True)
    return out
