"""A sweep's trials as runs: planned before the start, then launched one at a time on the device lock.

`plan_sweep` says, for the trials known before the start (every grid combination; for random and TPE,
the corners of the space, which bound what any trial can need, or a seeded sample of at most
MAX_PLANNED_CORNERS of them), each one's schedule, length, memory
estimate and time, from the same preflight the Train page shows. `run_sweep` asks the study for a trial,
starts it as an ordinary run folder marked `sweep_trial` (its worker reports the loss to the study),
waits for it, and tells the study its last reported loss. A trial whose values make an invalid run, or
one the memory estimate says will not fit, is recorded as failed with the reason and skipped. Stopping
leaves the running trial stopped with a checkpoint; resuming the sweep resumes that run.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrexplorer.core.limits import MAX_TRIALS
from lrexplorer.core.units import GIB
from lrexplorer.frontend.tuning_launch import start_kind_run
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import store
from lrexplorer.runs.folder.step_time import measured_step_time
from lrexplorer.runs.kinds.sweep_trial import SWEEP_TRIAL
from lrexplorer.tuning.study import Sweep, TrialHandle, TrialSkipped, run_trials

POLL_S = 0.5


@dataclass
class TrialPlan:
    params: dict[str, Any]
    preflight: Any  # lrexplorer.frontend.preflight.Preflight
    seconds_per_step: float | None = None

    @property
    def skip_reason(self) -> str | None:
        """Why this trial would be skipped: an invalid run, or one that will not fit in memory."""
        pre = self.preflight
        if pre.errors:
            return "; ".join(str(e) for e in pre.errors)
        memory = pre.memory
        if memory is not None and memory.fits is False:
            return f"needs about {memory.peak_bytes / GIB:.1f} GiB per device; {memory.capacity_label}"
        return None

    @property
    def total_steps(self) -> int | None:
        return self.preflight.plan.total_steps if self.preflight.plan is not None else None

    @property
    def seconds(self) -> float | None:
        if self.seconds_per_step is None or self.total_steps is None:
            return None
        return self.seconds_per_step * self.total_steps


def plan_trial(base: dict[str, Any], params: dict[str, Any], root: str | Path | None = None) -> TrialPlan:
    from lrexplorer.core.facts import detect_facts
    from lrexplorer.core.hardware import detect
    from lrexplorer.frontend.preflight import preflight

    pre = preflight({**base, **params}, detect_facts(), detect())
    per_step = measured_step_time(pre.spec.values, root) if pre.spec is not None else None
    return TrialPlan(params, pre, per_step)


# The random and TPE samplers' plan: the corners of the space, at most this many. Past it the corners are a
# seeded sample (the all-low and all-high corners first), never an enumeration: six fields of ten values
# already make a million corners, each of which would be planned (a pre-flight and a memory estimate).
MAX_PLANNED_CORNERS = 64


def _corner_values(sweep: Sweep) -> list[list[Any]]:
    return [list(d.values) if d.values is not None else [d.low, d.high] for d in sweep.space.dimensions]


def corner_count(sweep: Sweep) -> int:
    """How many trials a full plan holds: the grid's points, or the corners of the space."""
    if sweep.settings.sampler == "grid":
        return math.prod(len(d.values or ()) for d in sweep.space.dimensions)
    return math.prod(len(values) for values in _corner_values(sweep))


def planned_params(sweep: Sweep) -> list[dict[str, Any]]:
    """The trials known before the start: every grid point (the study refuses a grid over its limit), or for
    random and TPE the corners of the space (each range's low and high with each listed value), which bound
    what any of their trials needs; past MAX_PLANNED_CORNERS, a seeded sample of them."""
    space = sweep.space
    if sweep.settings.sampler == "grid":
        return space.grid_points()
    corners = _corner_values(sweep)
    if corner_count(sweep) <= MAX_PLANNED_CORNERS:
        return [dict(zip(space.names, combo)) for combo in itertools.product(*corners)]
    rng = random.Random(0)
    chosen = [tuple(v[0] for v in corners), tuple(v[-1] for v in corners)]
    for _ in range(MAX_PLANNED_CORNERS * 20):  # duplicates are drawn rarely: the space has > 64 corners
        if len(chosen) == MAX_PLANNED_CORNERS:
            break
        combo = tuple(rng.choice(values) for values in corners)
        if combo not in chosen:
            chosen.append(combo)
    return [dict(zip(space.names, combo)) for combo in chosen]


def plan_sweep(sweep: Sweep, base: dict[str, Any], root: str | Path | None = None) -> list[TrialPlan]:
    return [plan_trial(base, params, root) for params in planned_params(sweep)]


def run_sweep(
    sweep: Sweep,
    base: dict[str, Any],
    root: str | Path | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_trial: Callable[[TrialHandle, Path], None] = lambda handle, run_dir: None,
) -> dict[str, Any]:
    """Train the sweep's remaining trials one at a time; returns the sweep's summary."""

    def train(handle: TrialHandle) -> float | None:
        run_dir = _start(sweep, handle, base, root)
        on_trial(handle, run_dir)
        state = _wait(run_dir, should_stop)
        if state is None:
            return None  # stopped: the trial stays interrupted, to resume with the sweep
        if state != "completed":
            raise TrialSkipped(f"run {run_dir.name} {state}: {store.read_status(run_dir).get('message', '')}")
        reported = handle.reported
        if not reported:
            raise TrialSkipped(f"run {run_dir.name} logged no {sweep.settings.metric}")
        return reported[max(reported)]

    run_trials(sweep, train, should_stop)
    return sweep.summary()


def _start(sweep: Sweep, handle: TrialHandle, base: dict[str, Any], root: str | Path | None) -> Path:
    if handle.run:  # an interrupted trial: resume its run from its checkpoint, if it has one
        run_dir = Path(handle.run)
        if store.checkpoints(run_dir) and store.reconcile(run_dir).get("state") not in store.ACTIVE:
            launcher.resume_run(run_dir, queue=True)
            return run_dir
    plan = plan_trial(base, handle.params, root)
    if plan.skip_reason:
        raise TrialSkipped(plan.skip_reason)
    run_id, n = trial_run_id(sweep.folder, handle.number), 1
    while (store.runs_dir(root) / run_id).exists():
        n += 1
        run_id = trial_run_id(sweep.folder, handle.number, n)
    settings = {"sweep": str(sweep.folder.resolve()), "trial": handle.number}
    fields = {**base, **handle.params, "output_dir": None}
    run_dir = start_kind_run(fields, SWEEP_TRIAL, settings, root, run_id=run_id, queue=True)
    handle.set_run(str(run_dir))
    return run_dir


def trial_run_id(folder: Path, number: int, n: int = 1) -> str:
    """The run id of trial `number` of the sweep in `folder` (the n-th try at a free one)."""
    return f"{Path(folder).resolve().name}-t{number:03d}" + (f"-{n}" if n > 1 else "")


def check_sweep_folder(folder: Path, root: str | Path | None = None) -> Path:
    """The sweep's folder, resolved, when a sweep may use it: a sweep's folder (to start in or resume), or a
    new or empty one (`destination`'s rule); and a name that makes valid run ids for its trials, checked
    now rather than at trial 0. FieldError naming output_dir otherwise; nothing is written."""
    from lrexplorer.core.fields import FieldError
    from lrexplorer.runs.folder.destination import check_new_folder
    from lrexplorer.tuning.sweep_folder import STUDY_FILE, check_database, is_sweep_folder

    try:
        target = Path(folder).expanduser().resolve()
        existing = is_sweep_folder(target)
    except (OSError, ValueError, RuntimeError):
        existing = False  # check_new_folder says why it cannot be used
    if not existing:
        target = check_new_folder(folder, "output_dir", root)
    elif (target / STUDY_FILE).exists():
        check_database(target / STUDY_FILE)
    longest = trial_run_id(target, MAX_TRIALS - 1, 99)
    if not store.RUN_ID.match(longest):
        raise FieldError(
            "output_dir",
            f"the sweep folder's name {target.name[:100]!r} would make trial run ids such as {longest[:120]!r}, which "
            f"are not valid: name the folder with letters, digits, '.', '_' and '-' (at most {81 - len(longest) + len(target.name)} "
            "characters, starting with a letter or digit)",
        )
    return target


def _wait(run_dir: Path, should_stop: Callable[[], bool]) -> str | None:
    """The run's final state, or None once `should_stop()` said so and the run was stopped."""
    while True:
        state = store.reconcile(run_dir).get("state")
        if state in store.FINAL_STATES:
            return str(state)
        if should_stop():
            launcher.stop_run(run_dir)
            return None
        time.sleep(POLL_S)
