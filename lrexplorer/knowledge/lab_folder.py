"""A knowledge lab as a folder under the runs directory, so a page can start it, follow it and show it again.

    LAB/settings.json   the lab's settings and the fact set it uses
    LAB/facts.jsonl     a fact file given by the user (absent for the built-in fact set)
    LAB/status.json     state, progress fraction, message, ETA, pid; replaced atomically
    LAB/log.jsonl       every fine-tuning log record, tagged with method, paraphrases and seed
    LAB/results.json    the results (the `lrexplorer knowledge --json` shape), partial when stopped
    LAB/lab.log         the process's stdout and stderr
    LAB/stop.request    present while a stop is asked for

`lrexplorer knowledge --output_dir LAB` writes these as it runs, into a new or empty folder (`claim`) or one
`start_lab` prepared (marked by `.lrexplorer-lab`), which then starts that command in a process of its own, so the lab goes on when the page is closed. Readers never
raise for a missing or half-written file. A lab whose process has gone without a final state is marked
failed by `reconcile`, with the end of its log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from lrexplorer.core.fields import FieldError
from lrexplorer.knowledge.facts import parse_text
from lrexplorer.runs.folder import store
from lrexplorer.runs.folder.destination import ASK, check_new_folder
from lrexplorer.runs.folder.process import process_matches

SETTINGS, STATUS, LOG, RESULTS, OUTPUT, FACTS, STOP = (
    "settings.json",
    "status.json",
    "log.jsonl",
    "results.json",
    "lab.log",
    "facts.jsonl",
    store.STOP,
)
MARKER = ".lrexplorer-lab"
ACTIVE = ("queued", "running")
FINAL_STATES = ("completed", "stopped", "failed")
SUBDIR = "knowledge"


def labs_dir(root: str | Path | None = None) -> Path:
    return store.runs_dir(root) / SUBDIR


class LabFolder:
    """The writer's hooks (`progress`, `should_stop`, `log`) and the readers, over one lab folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._log_file: Any = None

    # -- writing (the lab's process) ------------------------------------------------------------------
    def begin(self, settings: dict[str, Any]) -> None:
        """Take the folder (`claim` checked it): its log is created exclusively, so of two processes given the
        same folder one begins and the other is refused, before either writes anything else."""
        import psutil

        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._log_file = open(self.path / LOG, "x", encoding="utf-8")  # noqa: SIM115 (closed in finish)
        except FileExistsError:
            raise FieldError("output_dir", f"{self.path} is taken by another lab; {ASK}") from None
        if not (self.path / SETTINGS).exists():
            self.write_settings(settings)
        me = psutil.Process()
        self.update(state="running", pid=me.pid, pid_create_time=me.create_time(), started_at=time.time())

    def write_settings(self, settings: dict[str, Any]) -> None:
        store.write_json_atomic(self.path / SETTINGS, settings)

    def update(self, **fields: Any) -> None:
        status = self.status()
        status.update(fields, updated_at=time.time())
        store.write_json_atomic(self.path / STATUS, status)

    def progress(self, fraction: float, message: str, eta_s: float | None) -> None:
        self.update(fraction=round(fraction, 4), message=message, eta_s=None if eta_s is None else round(eta_s, 1))

    def should_stop(self) -> bool:
        return (self.path / STOP).exists()

    def log(self, record: dict[str, Any]) -> None:
        if self._log_file is not None:
            self._log_file.write(json.dumps(record) + "\n")
            self._log_file.flush()  # the page draws the curves while the lab runs

    def finish(self, state: str, message: str, results: dict[str, Any] | None = None) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if results is not None:
            store.write_json_atomic(self.path / RESULTS, results)
        self.update(state=state, message=message, ended_at=time.time(), eta_s=0.0)

    # -- reading (the page) -----------------------------------------------------------------------------
    def _json(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def status(self) -> dict[str, Any]:
        return self._json(STATUS)

    def settings(self) -> dict[str, Any]:
        return self._json(SETTINGS)

    def results(self) -> dict[str, Any] | None:
        return self._json(RESULTS) or None

    def records(self) -> list[dict[str, Any]]:
        return store.read_metrics_from(self.path / LOG)[0]

    def request_stop(self) -> None:
        (self.path / STOP).touch()

    def reconcile(self) -> dict[str, Any]:
        """The status; an active lab whose process is gone is marked failed (or stopped, if asked)."""
        status = self.status()
        if status.get("state") not in ACTIVE or process_matches(status, self.path):
            return status
        state = "stopped" if self.should_stop() else "failed"
        tail = "\n".join(_tail(self.path / OUTPUT, 12))
        self.update(state=state, ended_at=time.time(), message=f"the lab's process ended without a result:\n{tail}")
        return self.status()


def claim(path: str | Path, root: str | Path | None = None) -> Path:
    """The folder `lrexplorer knowledge --output_dir` may write, resolved: a new or empty folder (the rule of
    every command, `runs/folder/destination.py`), or one `start_lab` prepared for that very command (its
    marker, still queued, nothing begun). FieldError naming output_dir otherwise; nothing is written."""
    try:
        target = Path(path).expanduser().resolve()
        if _prepared(target):
            return target
    except (OSError, ValueError, RuntimeError):
        pass  # check_new_folder says why the path cannot be used
    return check_new_folder(path, "output_dir", root)


def _prepared(folder: Path) -> bool:
    status = LabFolder(folder).status()
    return (
        (folder / MARKER).is_file()
        and status.get("state") == "queued"
        and "started_at" not in status
        and not (folder / LOG).exists()
        and not (folder / RESULTS).exists()
    )


def _tail(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def lab_command(folder: Path, settings: dict[str, Any], facts_file: Path | None) -> list[str]:
    """The `lrexplorer knowledge` command line that runs `settings` into `folder`."""
    cmd = [sys.executable, "-m", "lrexplorer", "knowledge", "--output_dir", str(folder), "--quiet"]
    cmd += ["--methods", ",".join(settings["methods"]), "--paraphrases", ",".join(map(str, settings["paraphrases"]))]
    cmd += ["--seeds", str(settings["seeds"]), "--epochs", repr(float(settings["epochs"]))]
    cmd += ["--budget", settings["budget"]]
    if facts_file is not None:
        cmd += ["--facts", str(facts_file)]
    return cmd


def start_lab(
    settings: dict[str, Any], facts_text: str | None = None, facts_name: str = "", root: str | Path | None = None
) -> Path:
    """Create a lab folder, write its settings (and fact file), start the lab's process; returns the folder.

    `settings`: methods, paraphrases, seeds, epochs, budget (validated by the process; a bad value ends
    the lab as failed with the message that names the field).
    """
    if facts_text is not None:
        parse_text(facts_text, facts_name or FACTS)  # raises FactFileError naming field and line
    parent = labs_dir(root)
    parent.mkdir(parents=True, exist_ok=True)
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    folder, n = parent / stamp, 1
    while folder.exists():
        n += 1
        folder = parent / f"{stamp}-{n}"
    folder.mkdir()
    (folder / MARKER).touch()  # prepared for the lab command started below, which `claim` lets write here
    facts_file = None
    if facts_text is not None:
        facts_file = folder / FACTS
        facts_file.write_text(facts_text, encoding="utf-8")
    lab = LabFolder(folder)
    lab.write_settings({**settings, "facts": facts_name or "built-in"})
    lab.update(state="queued", message="starting", fraction=0.0, created_at=time.time())
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(folder / OUTPUT, "ab") as out:
        proc = subprocess.Popen(
            lab_command(folder, settings, facts_file),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    import psutil

    lab.update(pid=proc.pid, pid_create_time=psutil.Process(proc.pid).create_time())
    return folder


def list_labs(root: str | Path | None = None) -> list[Path]:
    """Lab folders, newest first."""
    parent = labs_dir(root)
    if not parent.is_dir():
        return []
    found = [p for p in parent.iterdir() if p.is_dir() and (p / SETTINGS).exists()]
    return sorted(found, key=lambda p: p.name, reverse=True)  # names are start times
