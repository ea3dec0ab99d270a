"""The schedule a run's logged learning rates follow (`schedules.recognise`), kept in its folder.

Recognition takes from a fraction of a second (a log of every update) to tens of seconds (a sparse log leaves
many warmups open), so the result is written to RUN/schedule_match.json with the signature of the log it came
from (metrics.jsonl's size and mtime, max_steps): a page or `runs show` reads it back until the log changes.
Any run that logged its LR qualifies, lrexplorer's own or imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from lrexplorer.runs.folder import store
from lrexplorer.schedules.recognise import Match, Recognition, recognise

FILE = "schedule_match.json"
VERSION = 1  # of the search: a newer one recomputes old results


def logged_lrs(run_dir: Path) -> tuple[list[int], list[float]]:
    """(steps, learning rates) of the run's training logs, a later record of a step replacing an earlier one."""
    seen: dict[int, float] = {}
    for record in store.read_metrics(run_dir):
        step, lr = record.get("step"), record.get("learning_rate")
        if isinstance(step, int) and not isinstance(step, bool) and isinstance(lr, (int, float)):
            seen[step] = float(lr)
    steps = sorted(seen)
    return steps, [seen[s] for s in steps]


def signature(run_dir: Path) -> list[Any] | None:
    """What the result depends on: the log (size, mtime) and the run's length; None before the run has one."""
    max_steps = store.read_status(run_dir).get("max_steps")
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        return None
    try:
        info = os.stat(Path(run_dir) / store.METRICS)
    except OSError:
        return None
    return [VERSION, info.st_size, info.st_mtime_ns, max_steps]


def cached(run_dir: Path) -> dict[str, Any] | None:
    """The stored result when it describes the current log, else None."""
    sig = signature(run_dir)
    try:
        data = json.loads((Path(run_dir) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and sig is not None and data.get("signature") == sig else None


def schedule_match(run_dir: Path) -> dict[str, Any] | None:
    """The result for the run's current log (computed and stored when there is none); None when the run has
    no length yet. Keys: match, alternatives, departs_at_step, followed, points, complete, seconds."""
    found = cached(run_dir)
    if found is not None:
        return found
    sig = signature(run_dir)
    if sig is None:
        return None
    steps, lrs = logged_lrs(run_dir)
    start = time.perf_counter()
    result = as_json(recognise(steps, lrs, sig[-1]))
    result.update(seconds=round(time.perf_counter() - start, 3), signature=sig)
    with contextlib.suppress(OSError):  # a read-only folder: the result is only not kept
        store.write_json_atomic(Path(run_dir) / FILE, result)
    return result


def match_json(m: Match | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "lr_scheduler_type": m.lr_scheduler_type,
        "learning_rate": m.learning_rate,
        "warmup_steps": m.warmup_steps,
        "max_abs_error": m.max_abs_error,
        "lr_scheduler_kwargs": m.lr_scheduler_kwargs,
    }


def as_json(r: Recognition) -> dict[str, Any]:
    return {
        "match": match_json(r.match),
        "alternatives": [match_json(a) for a in r.alternatives],
        "departs_at_step": r.departs_at_step,
        "followed": match_json(r.followed),
        "points": r.points,
        "complete": r.complete,
    }


def describe(result: dict[str, Any] | None) -> str:
    """The result in one sentence."""
    if result is None:
        return "no schedule yet: the run has not said how many updates it makes"
    m = result["match"]
    if m is not None:
        cut = "" if result["complete"] else "; the search stopped at its budget, so other exact readings may exist"
        return (
            f"{schedule_text(m)} reproduces all {result['points']:,} logged learning rates "
            f"(largest difference {m['max_abs_error']:.1e}){cut}"
        )
    if not result["points"]:
        return "no learning rate was logged"
    if not result["complete"]:
        return (
            f"no schedule found within the search's budget: {result['points']:,} logged learning rates leave too "
            "many warmups and shapes open"
        )
    followed = result["followed"]
    before = f"it follows {schedule_text(followed)} until then" if followed else "not even its first value fits one"
    return (
        f"no catalogue schedule reproduces the whole log: the logged LR departs at step {result['departs_at_step']:,}"
        f" ({before}); a schedule changed on resume, skipped steps or a scheduler owned elsewhere do this"
    )


def schedule_text(m: dict[str, Any]) -> str:
    kwargs = ", ".join(f"{k}={v}" for k, v in m["lr_scheduler_kwargs"].items())
    return (
        f"{m['lr_scheduler_type']}{f' ({kwargs})' if kwargs else ''} at learning_rate {m['learning_rate']:g} "
        f"with {m['warmup_steps']:,} warmup update{'s' if m['warmup_steps'] != 1 else ''}"
    )
