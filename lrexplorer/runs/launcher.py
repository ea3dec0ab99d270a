"""Start, stop and resume runs without ever blocking the caller (the page, the CLI, a notebook).

A run starts as `python -m lrexplorer.runs.training.worker RUN_DIR` in a new session (its own process
group), so stopping it reaches the dataloader workers too. Stopping is graceful first (a stop-request
file the worker checks after every optimizer step: checkpoint, then `stopped`), then SIGTERM, then
SIGKILL of the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from lrexplorer.core.facts import Facts, detect_facts
from lrexplorer.core.fields import FieldError
from lrexplorer.core.resources import SOURCE_ROOT
from lrexplorer.runs.folder import health, lock, store
from lrexplorer.runs.folder.destination import check_new_folder
from lrexplorer.runs.folder.process import WORKER_MODULE, is_worker, process_matches
from lrexplorer.runs.imported import refuse_control
from lrexplorer.runs.spec import RunSpec


def new_run_id(spec: RunSpec, root: Path, base: str | None = None) -> str:
    """A readable id unique in `root` and its registry: `base` when given and valid, else the time and
    the dataset's short name."""
    from lrexplorer.runs.folder import registry

    if base is None or not store.RUN_ID.match(base):
        data = spec["dataset"].rstrip("/").split("/")[-1].split(":")[-1]
        base = f"{datetime.now():%Y%m%d-%H%M%S}-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in data)[:40]
    taken = registry.entries(root)
    run_id, n = base, 1
    while (root / run_id).exists() or run_id in taken:
        n += 1
        run_id = f"{base[:70]}-{n}"
    return store.check_run_id(run_id)


def _claim(run_dir: Path, root: Path) -> None:
    """Create `run_dir`, or take it when it is an empty folder (`destination`'s rule, checked again once the
    folder exists): anything already there would be the Trainer's to rotate or overwrite."""
    check_new_folder(run_dir, "output_dir", root)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FieldError("output_dir", f"{run_dir} cannot be used: {exc.strerror or exc}") from None
    check_new_folder(run_dir, "output_dir", root)


def prepare_run(
    spec: RunSpec, root: Path | None = None, run_id: str | None = None, output_dir: str | None = None
) -> Path:
    """Create the run folder with its marker, config.yaml and a `queued` status; returns the folder.

    The folder is `root/run_id`, or a user-chosen output_dir (new or empty), registered in `root` so
    the run stays reachable by id."""
    from lrexplorer.runs.folder import registry

    root = store.runs_dir(root)
    target = output_dir or spec["output_dir"]
    if run_id is not None:
        try:
            store.check_run_id(run_id)
        except ValueError as exc:
            raise FieldError("run_id", str(exc)) from None
    if target:  # checked before anything is created, the runs directory included
        run_dir = check_new_folder(target, "output_dir", root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FieldError("runs_dir", f"{root} cannot be created: {exc.strerror or exc}") from None
    if target:
        if inside_root(run_dir, root):
            try:
                run_id = store.check_run_id(run_dir.name)
            except ValueError as exc:
                raise FieldError("output_dir", str(exc)) from None
        else:
            run_id = new_run_id(spec, root, run_id or run_dir.name)
    else:
        run_id = run_id or new_run_id(spec, root)
        run_dir = store.run_path(root, run_id)
    _claim(run_dir, root)
    try:
        store.write_json_atomic(run_dir / store.MARKER, {"run_id": run_id, "created_at": time.time()})
        store.write_config(run_dir, RunSpec(dict(spec.values, output_dir=str(run_dir))))
        status = {"state": "queued", "run_id": run_id, "created_at": time.time(), "pid": None}
        store.write_json_atomic(run_dir / store.STATUS, dict(status, message="starting", notes=spec.notes))
        if not inside_root(run_dir, root):
            registry.add(root, run_id, run_dir)
    except OSError:
        _unclaim(run_dir)  # a full or read-only disk: leave no half-made run behind
        raise
    return run_dir


def _unclaim(run_dir: Path) -> None:
    for name in (store.STATUS, store.CONFIG, store.MARKER):
        with contextlib.suppress(OSError):
            (run_dir / name).unlink()
    with contextlib.suppress(OSError):
        run_dir.rmdir()  # only when empty: never what someone else put there meanwhile


def inside_root(run_dir: Path, root: Path) -> bool:
    return Path(run_dir).resolve().parent == Path(root).resolve()


def _worker_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    # Works from a source checkout that is not pip-installed: the worker must import this package.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def launch(
    run_dir: Path,
    *,
    resume: bool = False,
    queue: bool = False,
    facts: Facts | None = None,
    held: list[IO[str]] | None = None,
) -> int:
    """Start the worker of a prepared run and return its pid at once.

    Without `queue` the device locks (the CPU, or each GPU of the run) are taken here (or `held`, taken
    by the caller) and handed to the worker: `lock.DeviceBusy` when a device is taken, before anything is
    written. With `queue` the worker waits for the devices in state `queued`.
    """
    run_dir = Path(run_dir).resolve()
    if held is None and not queue:
        spec = store.read_spec(run_dir, facts)
        held = lock.acquire_all(_devices(spec, facts or detect_facts()), str(run_dir), wait=False)
    try:
        return _spawn(run_dir, resume, queue, held or [])
    finally:
        for fh in held or []:
            fh.close()  # the worker keeps its inherited copies, and with them the locks


def _devices(spec: RunSpec, facts: Facts) -> list[str]:
    return facts.lock_names(spec["use_cpu"], spec["num_processes"])


def _spawn(run_dir: Path, resume: bool, queue: bool, held: list[IO[str]]) -> int:
    (run_dir / store.STOP).unlink(missing_ok=True)
    earlier: dict[str, float | None] = {}
    if resume:  # the relaunch restarts the clock: keep the time the run trained before
        from lrexplorer.runs.folder.summary import EARLIER, duration_s

        earlier[EARLIER] = duration_s(store.read_status(run_dir))
    store.update_status(
        run_dir,
        **earlier,
        state="queued",
        pid=None,
        pid_create_time=None,
        ended_at=None,
        message="waiting for the device" if queue else "starting",
    )
    cmd = [sys.executable, "-m", WORKER_MODULE, str(run_dir)] + (["--resume"] if resume else [])
    cmd += ["--queue"] if queue else []
    cmd += [arg for fh in held for arg in ("--lock-fd", str(fh.fileno()))]
    with open(run_dir / store.LOG, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=_worker_env(),
            close_fds=True,
            pass_fds=tuple(fh.fileno() for fh in held),
        )
    import psutil

    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        created = None
    # The worker writes the same two fields when it starts (and only those overlap, so the order of
    # the two writes does not matter); writing them here lets a restart find a worker that dies early.
    store.update_status(run_dir, pid=proc.pid, pid_create_time=created)
    return proc.pid


def start_run(
    spec: RunSpec | dict[str, Any],
    root: Path | None = None,
    *,
    run_id: str | None = None,
    output_dir: str | None = None,
    queue: bool = False,
    before_launch: Callable[[Path], None] | None = None,
) -> Path:
    """Validate, take the device (unless queued), create the folder, launch; returns the run folder
    without waiting. `before_launch` adds to the folder before its worker starts (a run kind's marker)."""
    if not isinstance(spec, RunSpec):
        spec = RunSpec.from_dict(spec)
    from lrexplorer.runs.training.sources import check_sources

    problems = check_sources(spec.values)
    if problems:
        raise FieldError.collect(problems)
    facts = detect_facts()
    # Taken before the folder exists: a refused start leaves nothing behind.
    held = None if queue else lock.acquire_all(_devices(spec, facts), "(a run being created)", wait=False)
    try:
        run_dir = prepare_run(spec, root, run_id, output_dir)
        for fh in held or []:
            lock.describe(fh, str(run_dir))
        if before_launch is not None:
            before_launch(run_dir)
        launch(run_dir, queue=queue, facts=facts, held=held)
    finally:
        for fh in held or []:
            fh.close()
    return run_dir


def request_stop(run_dir: Path) -> None:
    """Ask the worker to stop after the current optimizer step (it saves a checkpoint first)."""
    (Path(run_dir) / store.STOP).write_text(str(time.time()), encoding="utf-8")


def stop_run(run_dir: Path, grace_s: float = 15.0, term_s: float = 5.0) -> dict[str, Any]:
    """Stop gracefully, escalating to SIGTERM then SIGKILL of the process group; returns the status."""
    run_dir = Path(run_dir)
    refuse_control(run_dir, "stopped")
    status = store.reconcile(run_dir)
    if status.get("state") not in store.ACTIVE:
        return status
    request_stop(run_dir)
    if _wait_ended(run_dir, grace_s):
        return store.reconcile(run_dir)
    for sig, wait in ((signal.SIGTERM, term_s), (signal.SIGKILL, 2.0)):
        status = store.read_status(run_dir)
        if is_worker(status, run_dir, store.MARKER):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(status["pid"], sig)  # the worker leads its own session: pgid == pid
        if _wait_ended(run_dir, wait):
            break
    return store.reconcile(run_dir)


def _wait_ended(run_dir: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = store.read_status(run_dir)
        if status.get("state") not in store.ACTIVE or not process_matches(status, run_dir):
            return True
        time.sleep(0.1)
    return False


def resume_run(run_dir: Path, queue: bool = False) -> int:
    """Relaunch a stopped or failed run from its newest checkpoint.

    Everything that can refuse (an active or completed run, no checkpoint, a config the catalogue
    refuses, a busy device) is checked before any file changes; the worker itself drops the metrics
    after the checkpoint once it holds the device, because the resumed run logs those steps again."""
    run_dir = Path(run_dir).resolve()
    refuse_control(run_dir, "resumed")
    problem = health.status_problem(run_dir)
    if problem is not None:
        raise RuntimeError(f"run {run_dir.name} is broken: {problem}")
    status = store.reconcile(run_dir)
    if status.get("state") in store.ACTIVE:
        raise RuntimeError(f"run {run_dir.name} is still {status['state']}; stop it before resuming")
    if status.get("state") == "completed":
        raise RuntimeError(
            f"run {run_dir.name} completed all its {status.get('global_step', '?')} steps; there is nothing to "
            "resume (start a new run from its config to train longer)"
        )
    facts = detect_facts()
    store.read_spec(run_dir, facts)  # ConfigUnreadable or FieldError: refused before anything is written
    if not store.checkpoints(run_dir):
        raise FileNotFoundError(
            f"run {run_dir.name} has no checkpoint to resume from (save_strategy was no, or it "
            "ended before the first save)"
        )
    return launch(run_dir, resume=True, queue=queue, facts=facts)
