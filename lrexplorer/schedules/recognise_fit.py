"""The arithmetic of schedule recognition: a log of (update, LR) pairs, a schedule's values at those updates,
and the unknowns that enter a schedule linearly, solved from logged points instead of searched.

Every catalogue LR is `eta * A(k) + mu * B(k)`: eta the peak, mu the schedule's floor where it has one (lr_end,
min_lr_rate x eta, min_lr_ratio x eta, eta_min). A and B come from the catalogue's own curve code at eta = 1, so
one logged point gives eta, two give eta and the floor. A continuous shape parameter (num_cycles, power) is
the root of the residual at a further logged point once those two are eliminated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrexplorer.core.fields import FieldError
from lrexplorer.schedules.curves import lr_at

TOL = 1e-12  # accepted error, relative to the largest logged LR (the true schedule gives ~1e-16)
NEAR = 1e-6  # a solved candidate this close is retried with its floats rounded (an ill-conditioned solve)
# Curve evaluations one recognition may make (each ~50 us): dense logs need a few thousand, a log every 25 steps
# up to ~200,000; beyond, the result says the search was cut short.
MAX_EVALUATIONS = 250_000

# schedule -> (floor argument, whether it is relative to eta): the LR is affine in (eta, floor)
FLOORS = {
    "polynomial": ("lr_end", False),
    "cosine_with_min_lr": ("min_lr_rate", True),
    "cosine_warmup_with_min_lr": ("min_lr_rate", True),
    "warmup_stable_decay": ("min_lr_ratio", True),
    "CosineAnnealingLR": ("eta_min", False),
    "CosineAnnealingWarmRestarts": ("eta_min", False),
}
ERRORS = (FieldError, ValueError, ZeroDivisionError, OverflowError, IndexError, KeyError, TypeError)


class OutOfBudget(Exception):
    """The search evaluated as many curves as it may (a sparse log leaves too many warmups and shapes open)."""


@dataclass
class Budget:
    """How many schedule evaluations a search may still make: a sparse log can leave millions of candidates."""

    left: int

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise OutOfBudget


@dataclass(frozen=True)
class Log:
    """Logged learning rates: update k (the Trainer logs update s - 1's LR at step s) and its LR, in order."""

    k: np.ndarray
    y: np.ndarray
    n: int  # the run's total updates (trainer_state.json's max_steps): the schedule's length
    budget: Budget = field(default_factory=lambda: Budget(MAX_EVALUATIONS))

    @property
    def peak(self) -> float:
        return float(self.y.max())

    def after(self, w: int) -> np.ndarray:
        """Indices of the logged points at or after update w."""
        return np.flatnonzero(self.k >= w)

    def head(self, count: int) -> Log:
        return Log(self.k[:count], self.y[:count], self.n, self.budget)


def values(name: str, eta: float, log: Log, w: int, kwargs: dict[str, Any], k: np.ndarray | None = None) -> Any:
    """The schedule's LR at the logged updates (or at `k`), or None when these arguments are invalid."""
    log.budget.spend()
    try:
        return lr_at(name, eta, log.n, w, kwargs, log.k if k is None else k)[0]
    except ERRORS:
        return None


def error(log: Log, name: str, eta: float, w: int, kwargs: dict[str, Any]) -> float | None:
    """The largest difference from the logged LRs, or None for invalid arguments."""
    v = values(name, eta, log, w, kwargs)
    return None if v is None else float(np.max(np.abs(v - log.y)))


def snaps(x: float) -> list[float]:
    """0, then x rounded to 1..15 significant digits (shortest first), then x: a user's 2e-4 comes back as typed."""
    if not math.isfinite(x):
        return []
    out = [0.0]
    for digits in range(1, 16):
        v = float(f"{x:.{digits}g}")
        if v not in out:
            out.append(v)
    if x not in out:
        out.append(float(x))
    return out


def first_index(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def roots(f: Callable[[float], float], grid: np.ndarray) -> list[float]:
    """Where f changes sign between grid points, refined by bisection to the last bit."""
    fs = [f(float(x)) for x in grid]
    out = []
    for a, b, fa, fb in zip(grid[:-1], grid[1:], fs[:-1], fs[1:]):
        if not (math.isfinite(fa) and math.isfinite(fb)):
            continue
        if fa == 0:
            out.append(float(a))
        elif fa * fb < 0:
            lo, hi, flo = float(a), float(b), fa
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if mid in (lo, hi):
                    break
                fm = f(mid)
                if not math.isfinite(fm):
                    break
                if (fm < 0) == (flo < 0):
                    lo, flo = mid, fm
                else:
                    hi = mid
            out.append(0.5 * (lo + hi))
    return out


def _basis(log: Log, name: str, w: int, theta: dict[str, Any], k: np.ndarray) -> tuple[Any, Any] | None:
    """(A, B) at updates k: the LR at eta = 1 without its floor, and per unit of floor."""
    key, _relative = FLOORS[name]
    a = values(name, 1.0, log, w, {**theta, key: 0.0}, k)
    v = values(name, 1.0, log, w, {**theta, key: 0.5}, k)
    if a is None or v is None:
        return None
    return a, (v - a) / 0.5


def solve_linear(
    log: Log, name: str, w: int, theta: dict[str, Any], points: np.ndarray | None = None
) -> tuple[float, dict[str, Any]] | None:
    """(eta, kwargs) making the schedule pass exactly through one logged point (no floor: the one with the
    largest A) or two (the best-conditioned pair among the largest A and B), taken among `points` (indices of
    logged points; all by default)."""
    kk = log.k if points is None else log.k[points]
    yy = log.y if points is None else log.y[points]
    if name not in FLOORS:
        a = values(name, 1.0, log, w, theta, kk)
        if a is None or not a.size:
            return None
        j = int(np.argmax(a))
        return (float(yy[j] / a[j]), dict(theta)) if a[j] > 0 else None
    basis = _basis(log, name, w, theta, kk)
    if basis is None:
        return None
    a, b = basis
    pairs = [(i, j) for i in np.argsort(-a)[:3] for j in np.argsort(-b)[:3] if i != j]
    if not pairs:
        return None
    det, i, j = max(((a[i] * b[j] - a[j] * b[i], i, j) for i, j in pairs), key=lambda t: abs(t[0]))
    if det == 0:
        return None
    eta = (yy[i] * b[j] - yy[j] * b[i]) / det
    mu = (a[i] * yy[j] - a[j] * yy[i]) / det
    if not eta > 0:
        return None
    key, relative = FLOORS[name]
    floor = mu / eta if relative else mu
    if floor < 0 and abs(floor) <= 1e-9 * (1 if relative else eta):
        floor = 0.0  # rounding noise around a floor of 0
    return float(eta), {**theta, key: float(floor)}


def continuous(log: Log, name: str, w: int, base: dict[str, Any], key: str, grid: np.ndarray) -> Iterator[dict]:
    """Values of the argument `key` for which the schedule, through fixed solve points, also passes a test point.

    With eta (and the floor) eliminated through fixed logged points, the residual at the test point is a
    continuous function of the argument: its sign changes on the grid, refined, are the candidates."""
    post = log.after(w)
    floor = name in FLOORS
    if post.size < (3 if floor else 2):
        return
    first, last = int(post[0]), int(post[-1])
    idx = [first, last, int(post[post.size // 2])] if floor else [first, last]
    kk, yy = log.k[idx], log.y[idx]

    def residual(x: float) -> float:
        theta = {**base, key: float(x)}
        if not floor:
            a = values(name, 1.0, log, w, theta, kk)
            if a is None or not a[0] > 0:
                return math.nan
            return float(yy[0] / a[0] * a[1] - yy[1]) / log.peak
        basis = _basis(log, name, w, theta, kk)
        if basis is None:
            return math.nan
        a, b = basis
        det = a[0] * b[1] - a[1] * b[0]
        if det == 0:
            return math.nan
        eta = (yy[0] * b[1] - yy[1] * b[0]) / det
        mu = (a[0] * yy[1] - a[1] * yy[0]) / det
        return float(eta * a[2] + mu * b[2] - yy[2]) / log.peak

    for x in roots(residual, grid):
        yield {**base, key: float(x)}
