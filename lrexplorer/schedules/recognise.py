"""Which catalogue schedule produced a run's logged learning rates: an exact search, not a curve fit.

The Trainer logs at step s the LR of update s - 1, so a run's log gives the curve at some updates. For every
schedule and every warmup the log allows, candidate arguments are derived from the log (`recognise_shapes`),
the peak LR and floor are solved exactly from logged points (`recognise_fit`), and the candidate is accepted
only if the catalogue's own curve reproduces every logged LR to 1e-12 of the largest (the true schedule does to
~1e-16). Floats are then rounded to the shortest decimals that still reproduce the log, so a 2e-4 comes back
as 2e-4. Among exact candidates the one with the fewest arguments away from their defaults wins; the others are
`alternatives` (ties are real: cosine is CosineAnnealingLR with T_max = N - W). When nothing reproduces the
whole log, the longest reproducible prefix says which schedule the run followed and where it departs from it
(a run resumed with another schedule departs two steps after the checkpoint it resumed from).

The total number of updates N is given (trainer_state.json's max_steps), not searched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrexplorer.schedules.curves import CATALOGUE, compute_curve, span_of
from lrexplorer.schedules.recognise_fit import (
    ERRORS,
    MAX_EVALUATIONS,
    NEAR,
    TOL,
    Budget,
    Log,
    OutOfBudget,
    error,
    snaps,
    solve_linear,
)
from lrexplorer.schedules.recognise_shapes import FROM_FIRST_POINT, SEARCH, warmup_candidates, warmups_for

BIT_EXACT = 1e-14  # relative: a reproduction to the last bits ranks before one merely within TOL


@dataclass(frozen=True)
class Match:
    lr_scheduler_type: str
    learning_rate: float
    warmup_steps: int
    lr_scheduler_kwargs: dict[str, Any]
    max_abs_error: float

    def nondefault(self, n: int) -> int:
        """Arguments that differ from the schedule's defaults for this run (the plainest reading wins)."""
        schedule = CATALOGUE[self.lr_scheduler_type]
        span = max(1, span_of(schedule, n, self.warmup_steps))
        count = 0
        for p in schedule.params:
            if p.name in self.lr_scheduler_kwargs:
                default = p.run_default(span)
                if p.derived_from_lr is not None and default is None:
                    default = p.derived_from_lr * self.learning_rate
                count += self.lr_scheduler_kwargs[p.name] != default
        return count


@dataclass(frozen=True)
class Recognition:
    match: Match | None  # the schedule that reproduces every logged LR, or None
    alternatives: list[Match] = field(default_factory=list)  # other exact readings, best first
    departs_at_step: int | None = None  # no match: the first logged step the followed schedule cannot give
    followed: Match | None = None  # no match: what reproduces the log up to departs_at_step
    points: int = 0  # logged LRs used
    complete: bool = True  # False: the search reached its budget (MAX_EVALUATIONS) before trying every candidate


def recognise(steps: Any, lrs: Any, max_steps: int, budget: int = MAX_EVALUATIONS) -> Recognition:
    """The schedule behind the LRs a Trainer logged at `steps` (global steps, from 1) in a run of `max_steps`."""
    steps = np.asarray(steps, dtype=np.int64)
    lrs = np.asarray(lrs, dtype=np.float64)
    keep = (steps >= 1) & (steps <= max_steps) & np.isfinite(lrs)
    log = Log(steps[keep] - 1, lrs[keep], int(max_steps), Budget(budget))
    points = int(log.k.size)
    if not points or not log.peak > 0:
        return Recognition(None, points=points)
    ranked, complete = best_match(log)
    if ranked:
        return Recognition(ranked[0], ranked[1:6], points=points, complete=complete)
    if not complete:
        return Recognition(None, points=points, complete=False)
    try:
        end, followed = longest_prefix(Log(log.k, log.y, log.n, Budget(budget)))
    except OutOfBudget:
        return Recognition(None, points=points, complete=False)
    return Recognition(None, departs_at_step=int(log.k[end]) + 1, followed=followed, points=points)


def best_match(log: Log) -> tuple[list[Match], bool]:
    """(the exact candidates, best first; whether every candidate was tried): defaults and closed forms, then,
    if none of them reproduces the log, the root searches."""
    found: list[Match] = []
    complete = True
    try:
        found.extend(candidates(log, deep=False))
        if not found:
            found.extend(candidates(log, deep=True))
    except OutOfBudget:
        complete = False
    return sorted(found, key=lambda m: _rank(m, log)), complete


def _rank(m: Match, log: Log) -> tuple[int, bool, int, int]:
    # fewest arguments away from their defaults; a reproduction to the last bits; catalogue order; the shorter warmup
    order = list(CATALOGUE)
    return m.nondefault(log.n), m.max_abs_error > BIT_EXACT * log.peak, order.index(m.lr_scheduler_type), m.warmup_steps


def reproducible(log: Log) -> bool:
    """Whether any candidate reproduces the log (stops at the first)."""
    return any(True for _ in candidates(log, deep=False)) or any(True for _ in candidates(log, deep=True))


def candidates(log: Log, deep: bool) -> Iterator[Match]:
    """For every schedule and warmup, the first candidate that reproduces the log."""
    tol = TOL * log.peak
    warmups = warmup_candidates(log)
    for name, (kind, generate) in SEARCH.items():
        for w in warmups_for(name, log, warmups) if CATALOGUE[name].uses_warmup else [0]:
            with np.errstate(all="ignore"):
                for item in generate(log, w, deep):
                    solved = item if kind == "full" else _solve(log, name, w, item)
                    if solved is None or not (solved[0] > 0 and math.isfinite(solved[0])):
                        continue
                    hit = verify(log, name, solved[0], w, solved[1], tol)
                    if hit is not None:
                        yield hit
                        break


def _solve(log: Log, name: str, w: int, theta: dict[str, Any]) -> tuple[float, dict[str, Any]] | None:
    if theta.get("warmup_lr_rate") != FROM_FIRST_POINT:
        return solve_linear(log, name, w, theta)
    # The warmup starts at warmup_lr_rate x eta: solve eta after the warmup, then read the rate off update 0.
    rest = {k: v for k, v in theta.items() if k != "warmup_lr_rate"}
    solved = solve_linear(log, name, w, rest, log.after(w))
    if solved is None or not solved[0] > 0:
        return None
    return solved[0], {**solved[1], "warmup_lr_rate": float(log.y[0] / solved[0])}


def _floats(kwargs: dict[str, Any]) -> list[str]:
    return [k for k, v in kwargs.items() if isinstance(v, (float, np.floating))]


def verify(log: Log, name: str, eta: float, w: int, kwargs: dict[str, Any], tol: float) -> Match | None:
    """The candidate as a Match when the catalogue's curve reproduces every logged LR within `tol`."""
    e = error(log, name, eta, w, kwargs)
    if e is None:
        return None
    if e > tol:
        # Rounding rescues a candidate that is already nearly right (an ill-conditioned solve), nothing else.
        if e > NEAR * log.peak:
            return None
        for digits in range(1, 16):
            rounded = {k: float(f"{v:.{digits}g}") if k in _floats(kwargs) else v for k, v in kwargs.items()}
            e2 = error(log, name, float(f"{eta:.{digits}g}"), w, rounded)
            if e2 is not None and e2 <= tol:
                eta, kwargs = float(f"{eta:.{digits}g}"), rounded
                break
        else:
            return None
    eta, kwargs = _shortest(log, name, eta, w, kwargs, tol)
    try:  # the answer is checked by compute_curve itself, as lrexplorer draws and runs it
        curve = compute_curve(name, eta, log.n, w, kwargs).lr
    except ERRORS:
        return None
    err = float(np.max(np.abs(curve[log.k] - log.y)))
    if err > tol:
        return None
    params = {p.name: p for p in CATALOGUE[name].params}
    kwargs = {k: v for k, v in kwargs.items() if not (k in params and v == params[k].default)}
    return Match(name, eta, w, kwargs, err)


def _shortest(log: Log, name: str, eta: float, w: int, kwargs: dict, tol: float) -> tuple[float, dict[str, Any]]:
    """Each float (eta first) replaced by its shortest rounding that keeps every logged LR within tol."""
    for v in snaps(eta):
        e = error(log, name, v, w, kwargs)
        if e is not None and e <= tol:
            eta = v
            break
    for key in _floats(kwargs):
        for v in snaps(float(kwargs[key])):
            e = error(log, name, eta, w, {**kwargs, key: v})
            if e is not None and e <= tol:
                kwargs = {**kwargs, key: v}
                break
    return float(eta), {k: float(v) if isinstance(v, np.floating) else v for k, v in kwargs.items()}


def longest_prefix(log: Log) -> tuple[int, Match | None]:
    """(number of leading logged points one schedule reproduces, the best such schedule): a binary search, since a
    prefix of a reproducible prefix is reproducible. Raises OutOfBudget."""
    lo, hi = (1 if reproducible(log.head(1)) else 0), int(log.k.size)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reproducible(log.head(mid)):
            lo = mid
        else:
            hi = mid
    followed = _best(log.head(lo)) if lo else None
    # One extra point can always be absorbed by a one-drop StepLR: step back (at most 2 points) while a shorter
    # prefix has a plainer explanation.
    for _ in range(2):
        if lo <= 2 or followed is None:
            break
        shorter = _best(log.head(lo - 1))
        if shorter is None or shorter.nondefault(log.n) >= followed.nondefault(log.n):
            break
        lo, followed = lo - 1, shorter
    return lo, followed


def _best(log: Log) -> Match | None:
    ranked, complete = best_match(log)
    if not complete:
        raise OutOfBudget
    return ranked[0] if ranked else None
