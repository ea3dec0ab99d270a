"""Candidate arguments of each schedule, read off the structure of a log: where the LR drops, rises or
flattens, and closed forms from two logged points. Nothing here fits: every candidate is verified afterwards
on every logged point (`recognise`).

`SEARCH` maps a schedule to ("theta", generator of its shape arguments; eta and the floor are then solved
exactly) or ("full", generator of (eta, arguments) in closed form). `deep` adds the root searches over a
continuous argument (num_cycles, power), tried only when nothing simpler reproduced the log.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from lrexplorer.schedules.recognise_fit import Log, continuous, first_index

MAX_RESTART_CYCLES = 200
EPS = 1e-12  # relative: two logged LRs this close are the same value


def warmup_candidates(log: Log) -> list[int]:
    """Warmups the log allows: 0; those ending at (or one update after) the first logged maximum; and those of a
    linear rise through the origin (eta k / W), which ends at or after its last logged point."""
    k, y = log.k, log.y
    found = {0}
    i = first_index(y >= log.peak * (1 - EPS))
    before = int(k[i - 1]) if i else -1
    found.update(range(before + 1, int(k[i or 0]) + 2))
    positive = [(int(a), float(b)) for a, b in zip(k, y) if a > 0]
    starts_at_zero = bool(k.size) and k[0] == 0 and y[0] == 0
    if positive and (starts_at_zero or len(positive) >= 2):
        slope = positive[0][1] / positive[0][0]
        last, following = positive[0][0], None
        for a, b in positive[1:]:
            if abs(b - slope * a) <= 1e-9 * max(b, 1e-300):
                last = a
            else:
                following = a
                break
        found.update(range(last, (following if following is not None else last) + 2))
    return sorted(w for w in found if 0 <= w <= log.n)


def warmups_for(name: str, log: Log, warmups: list[int]) -> list[int]:
    """The warmups worth trying for `name`. warmup_stable_decay's LR after its warmup depends only on where the
    decay starts (W + S), so warmups with no logged point inside them give the same values and the same number
    of arguments: of those only the shortest can win, and the others are skipped."""
    if name != "warmup_stable_decay":
        return warmups
    inside = [w for w in warmups if w > 0 and not ((log.k > 0) & (log.k < w)).any()]
    return [w for w in warmups if w not in inside or w == min(inside)]


def _after(log: Log, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(updates counted from the end of warmup, LRs) of the points after warmup."""
    post = log.after(w)
    return log.k[post] - w, log.y[post]


def _rises(log: Log, w: int) -> list[tuple[int, int]]:
    """(update before, update at) around each rise of the LR after warmup."""
    m, y = _after(log, w)
    return [(int(m[j - 1]), int(m[j])) for j in range(1, len(m)) if y[j] > y[j - 1] * (1 + EPS)]


def th_none(log: Log, w: int, deep: bool) -> Iterator[dict]:
    yield {}


def th_cosine(log: Log, w: int, deep: bool) -> Iterator[dict]:
    yield {}
    if deep:
        yield from continuous(log, "cosine", w, {}, "num_cycles", np.arange(0.01, 10.0, 0.05))


def th_restarts(log: Log, w: int, deep: bool) -> Iterator[dict]:
    yield {}
    rises, span = _rises(log, w), max(1, log.n - w)
    guesses = set(range(2, MAX_RESTART_CYCLES + 1)) if not rises and deep else set()
    for a, b in rises[:1]:  # the first restart lies in (a, b]: num_cycles is about span / its position
        for r in range(a + 1, b + 1):
            guesses.update({math.floor(span / r), math.ceil(span / r)})
    for c in sorted(g for g in guesses if g >= 2):
        yield {"num_cycles": c}


def th_polynomial(log: Log, w: int, deep: bool) -> Iterator[dict]:
    yield {}
    if deep:
        yield from continuous(log, "polynomial", w, {}, "power", np.geomspace(0.02, 20, 150))


def th_inverse_sqrt(log: Log, w: int, deep: bool) -> Iterator[dict]:
    """eta sqrt(tau / (k - W + tau)) after warmup: two points give tau in closed form (eta cancels)."""
    yield {}
    post = log.after(w)
    post = post[log.k[post] > w]
    if post.size < 2:
        return
    i, j = int(post[0]), int(post[-1])
    r = (log.y[i] / log.y[j]) ** 2
    if r == 1:
        return
    tau = (r * (log.k[i] - w) - (log.k[j] - w)) / (1 - r)
    for v in sorted({math.floor(tau), math.ceil(tau)}):
        if v >= 1:
            yield {"timescale": int(v)}


def th_cosine_min(log: Log, w: int, deep: bool) -> Iterator[dict]:
    yield {}
    if deep:
        yield from continuous(log, "cosine_with_min_lr", w, {}, "num_cycles", np.arange(0.01, 5, 0.05))


def th_cosine_warmup_min(log: Log, w: int, deep: bool) -> Iterator[dict]:
    yield {}
    if log.k.size and log.k[0] == 0 and w > 1:
        yield {"warmup_lr_rate": FROM_FIRST_POINT}  # set once eta is known: the first logged LR / eta


FROM_FIRST_POINT = "from the first logged point"


def th_wsd(log: Log, w: int, deep: bool) -> Iterator[dict]:
    """Warmup, stable, decay: the decay starts before the first logged point below the peak and ends at the
    run's end or where the LR first reaches its floor; the nine warmup x decay shapes enumerated."""
    k, y, peak = log.k, log.y, log.peak
    below = first_index((k >= w) & (y < peak * (1 - EPS)))
    if below is None:
        return
    previous = int(k[below - 1]) if below > 0 else w - 1
    on_floor = [int(k[j]) for j in log.after(w) if abs(y[j] - y[-1]) <= EPS * peak]
    ends: set[tuple[int, int]] = set()
    for stable in range(max(0, previous - w), max(0, int(k[below]) - w)):
        decays = {log.n - w - stable}
        if on_floor and on_floor[0] < log.n - 1:
            decays.update(point - w - stable for point in (on_floor[0] - 1, on_floor[0], on_floor[0] + 1))
        ends.update((stable, d) for d in decays if d >= 1)
    # The warmup's shape shows only in points logged inside it; otherwise the default (linear) stands for all.
    warmup_types = ("linear", "cosine", "1-sqrt") if ((k > 0) & (k < w)).any() else ("linear",)
    for stable, decay in sorted(ends):
        stable_kw = {"num_stable_steps": None} if stable == log.n - w - decay else {"num_stable_steps": stable}
        for decay_type in ("cosine", "linear", "1-sqrt"):
            for warmup_type in warmup_types:
                yield {"num_decay_steps": decay, **stable_kw, "warmup_type": warmup_type, "decay_type": decay_type}


def full_steplr(log: Log, w: int, deep: bool) -> Iterator[tuple[float, dict]]:
    """eta gamma^(m // step_size): the first logged drop bounds step_size, two plateaus give gamma and eta."""
    m, y = _after(log, w)
    if m.size < 2:
        return
    j = first_index(y[1:] < y[:-1] * (1 - EPS))
    if j is None:
        return
    for size in range(max(1, int(m[j]) + 1), int(m[j + 1]) + 1):
        q = m // size
        if q[j + 1] == q[j]:
            continue
        gamma = (y[j + 1] / y[j]) ** (1.0 / (q[j + 1] - q[j]))
        yield float(y[0] / gamma ** q[0]), {"step_size": size, "gamma": float(gamma)}


def full_multistep(log: Log, w: int, deep: bool) -> Iterator[tuple[float, dict]]:
    m, y = _after(log, w)
    drops = [j for j in range(1, len(m)) if y[j] < y[j - 1] * (1 - EPS)]
    if drops:  # exact only when the log is dense around each drop
        yield float(y[0]), {"milestones": [int(m[j]) for j in drops], "gamma": float(y[drops[0]] / y[drops[0] - 1])}


def full_exponential(log: Log, w: int, deep: bool) -> Iterator[tuple[float, dict]]:
    """eta gamma^m after warmup: two points give gamma and eta in closed form."""
    post = log.after(w)
    post = post[log.y[post] > 0]
    if post.size < 2:
        return
    i, j = int(post[0]), int(post[-1])
    mi, mj = int(log.k[i]) - w, int(log.k[j]) - w
    gamma = (log.y[j] / log.y[i]) ** (1.0 / (mj - mi))
    yield float(log.y[i] / gamma**mi), {"gamma": float(gamma)}


def th_cosine_annealing(log: Log, w: int, deep: bool) -> Iterator[dict]:
    yield {}
    m, y = _after(log, w)
    if m.size > 2:
        j = int(np.argmin(y))
        # A minimum inside the run, the LR rising after it: T_max ends there and the cosine climbs back.
        if 0 < j < m.size - 1 and (y[j + 1 :] > y[j] * (1 + EPS)).any():
            for t in range(int(m[j - 1]) + 1, int(m[j + 1])):
                if t >= 1:
                    yield {"T_max": t}


def th_warm_restarts(log: Log, w: int, deep: bool) -> Iterator[dict]:
    yield {}
    rises = _rises(log, w)
    if not rises:
        return
    a, b = rises[0]
    for t0 in range(a + 1, b + 1):
        mults = [1]
        if len(rises) > 1:
            a2, b2 = rises[1]
            mults = sorted({(r - t0) // t0 for r in range(a2 + 1, b2 + 1) if r > t0 and (r - t0) % t0 == 0} or {1})
        for mult in mults:
            yield {"T_0": t0, "T_mult": mult}


def full_constantlr(log: Log, w: int, deep: bool) -> Iterator[tuple[float, dict]]:
    m, y = _after(log, w)
    if not m.size or m[0] != 0:
        return
    i = first_index(y > y[0] * (1 + EPS))
    if i is None:
        return
    eta = float(y[i])
    for t in range(int(m[i - 1]) + 1, int(m[i]) + 1):
        yield eta, {"factor": float(y[0] / eta), "total_iters": t}


def full_linearlr(log: Log, w: int, deep: bool) -> Iterator[tuple[float, dict]]:
    m, y = _after(log, w)
    if m.size < 2 or m[0] != 0:
        return
    last = y[-1]
    i = first_index(np.abs(y - last) <= EPS * log.peak) or 0
    previous = int(m[i - 1]) if i > 0 else 0
    # A warmup pins eta (its slope); without one, end_factor 1 (the default) is the plainest reading.
    etas = [float(last)]
    warm = [j for j in range(log.k.size) if 0 < log.k[j] < w]
    if w > 0 and warm:
        etas.append(float(log.y[warm[-1]] * w / log.k[warm[-1]]))
    for eta in etas:
        for t in range(max(1, previous + 1), int(m[i]) + 1):
            yield eta, {"start_factor": float(y[0] / eta), "end_factor": float(last / eta), "total_iters": t}


def full_polynomiallr(log: Log, w: int, deep: bool) -> Iterator[tuple[float, dict]]:
    m, y = _after(log, w)
    if m.size < 2 or m[0] != 0:
        return
    eta = float(y[0])
    z = first_index(y <= 0)
    totals = {log.n - w} if z is None else set(range(int(m[z - 1]) + 1, int(m[z]) + 1))
    for t in sorted(totals):
        inside = (m > 0) & (m < t) & (y > 0)
        if inside.any():
            mm, yy = m[inside][-1], y[inside][-1]
            yield eta, {"total_iters": t, "power": math.log(yy / eta) / math.log(1 - mm / t)}
        else:
            yield eta, {"total_iters": t}


def full_cyclic(log: Log, w: int, deep: bool) -> Iterator[tuple[float, dict]]:
    m, y = _after(log, w)
    if m.size < 3 or m[0] != 0:
        return
    j = int(np.argmax(y))
    up = int(m[j])
    jj = j + int(np.argmin(y[j:]))
    down = int(m[jj]) - up if jj > j else None
    eta = float(y[j])
    yield eta, {}
    for mode in ("triangular", "triangular2"):
        yield (
            eta,
            {
                "base_lr": float(y[0]),
                "max_lr": float(y[j]),
                "step_size_up": max(1, up),
                "step_size_down": down if down and down != up else None,
                "mode": mode,
            },
        )


def full_onecycle(log: Log, w: int, deep: bool) -> Iterator[tuple[float, dict]]:
    m, y = _after(log, w)
    yield log.peak, {}
    if m.size < 3 or m[0] != 0 or y[0] <= 0:
        return
    span, top, j = log.n - w, float(y.max()), int(np.argmax(y))
    div = top / float(y[0])
    for pct in ((int(m[j]) + 1) / span, (int(m[j]) + 1.5) / span):
        for strategy in ("cos", "linear"):
            kw = {"max_lr": top, "div_factor": div, "pct_start": pct, "anneal_strategy": strategy}
            yield top, kw
            if y[-1] > 0 and m[-1] == span - 1:
                yield top, {**kw, "final_div_factor": (top / div) / float(y[-1])}


Generator = Callable[[Log, int, bool], Iterator[Any]]
# Catalogue order decides ties. reduce_lr_on_plateau and greedy move only on evaluations: without them they are
# `constant`, with them the LR is not a function of the update, so they are not searched.
SEARCH: dict[str, tuple[str, Generator]] = {
    "linear": ("theta", th_none),
    "cosine": ("theta", th_cosine),
    "cosine_with_restarts": ("theta", th_restarts),
    "polynomial": ("theta", th_polynomial),
    "constant": ("theta", th_none),
    "constant_with_warmup": ("theta", th_none),
    "inverse_sqrt": ("theta", th_inverse_sqrt),
    "cosine_with_min_lr": ("theta", th_cosine_min),
    "cosine_warmup_with_min_lr": ("theta", th_cosine_warmup_min),
    "warmup_stable_decay": ("theta", th_wsd),
    "StepLR": ("full", full_steplr),
    "MultiStepLR": ("full", full_multistep),
    "ConstantLR": ("full", full_constantlr),
    "LinearLR": ("full", full_linearlr),
    "ExponentialLR": ("full", full_exponential),
    "CosineAnnealingLR": ("theta", th_cosine_annealing),
    "CosineAnnealingWarmRestarts": ("theta", th_warm_restarts),
    "CyclicLR": ("full", full_cyclic),
    "OneCycleLR": ("full", full_onecycle),
    "PolynomialLR": ("full", full_polynomiallr),
}
