"""What schedule recognition costs, and what it finds, on long runs logged densely and sparsely.

The logged LRs come from the real schedulers lrexplorer runs build (`schedules.build.build_scheduler` on a
one-parameter AdamW), read before each `scheduler.step()` the way the Trainer logs them (update s - 1 at step
s), kept every `logging_steps`. "changed" runs follow schedule A up to checkpoint r and B afterwards (the update
right after the resume still uses A's LR, as resumed Trainer runs do). Prints one row per case: what was found
(same: the truth itself; alt: an exactly equivalent schedule, the truth among the alternatives; cut: the search
stopped at its budget), seconds and curve evaluations.

    python bench/schedule_match.py [--every 1,10,25,500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lrexplorer.schedules.build import build_scheduler
from lrexplorer.schedules.recognise import recognise
from lrexplorer.schedules.recognise_fit import MAX_EVALUATIONS

CASES = [
    ("linear", 2e-5, 5000, 100, {}),
    ("cosine", 1e-4, 3000, 90, {}),
    ("cosine", 3e-4, 2000, 0, {"num_cycles": 0.75}),
    ("cosine_with_restarts", 2e-4, 4000, 40, {"num_cycles": 4}),
    ("constant_with_warmup", 5e-5, 2000, 150, {}),
    ("polynomial", 1e-4, 3000, 30, {"power": 0.5, "lr_end": 1e-6}),
    ("inverse_sqrt", 1e-3, 3000, 100, {}),
    ("cosine_with_min_lr", 2e-4, 2500, 50, {"min_lr": 1e-5}),
    ("warmup_stable_decay", 3e-4, 4000, 200, {"num_decay_steps": 800}),
    ("StepLR", 1e-3, 2000, 20, {"step_size": 300, "gamma": 0.5}),
    ("ExponentialLR", 1e-3, 2000, 0, {"gamma": 0.999}),
    ("CosineAnnealingLR", 1e-3, 3000, 100, {"eta_min": 1e-5}),
    ("OneCycleLR", 1e-3, 2000, 0, {}),
]
CHANGED = [
    (("linear", 1e-4, 3000, 100, {}), ("cosine", 1e-4, 3000, 100, {}), 1500),
    (("constant_with_warmup", 1e-4, 3000, 100, {}), ("linear", 1e-4, 3000, 100, {}), 700),
]


def lrs(name: str, lr: float, n: int, w: int, kw: dict) -> np.ndarray:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = build_scheduler(name, opt, n, w, kw)
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return np.array(out)


def timed(values: np.ndarray, every: int) -> tuple[object, float]:
    steps = np.arange(every, values.size + 1, every)
    start = time.perf_counter()
    found = recognise(steps, values[steps - 1], values.size)
    return found, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", default="1,10,25,500", help="logging_steps to try, comma-separated")
    args = parser.parse_args()
    everies = [int(x) for x in args.every.split(",")]
    print(f"budget: {MAX_EVALUATIONS:,} curve evaluations per search\n")
    print("| schedule | N | W | logged every | found | seconds |")
    print("| --- | --- | --- | --- | --- | --- |")
    for every in everies:
        for name, lr, n, w, kw in CASES:
            found, seconds = timed(lrs(name, lr, n, w, kw), every)
            m = found.match
            if m is None:
                tag = "cut" if not found.complete else f"none (departs {found.departs_at_step})"
            else:
                same = (m.lr_scheduler_type, m.learning_rate, m.warmup_steps) == (name, lr, w)
                alt = any((a.lr_scheduler_type, a.learning_rate) == (name, lr) for a in found.alternatives)
                tag = ("same" if same else "alt" if alt else f"other: {m.lr_scheduler_type} W={m.warmup_steps}") + (
                    "" if found.complete else " (cut)"
                )
            print(f"| {name} {kw or ''} | {n} | {w} | {every} | {tag} | {seconds:.2f} |")
    for a, b, r in CHANGED:
        values = np.concatenate([lrs(*a)[: r + 1], lrs(*b)[r + 1 :]])
        for every in everies[:2]:
            found, seconds = timed(values, every)
            print(
                f"| {a[0]} -> {b[0]} at checkpoint {r} | {values.size} | {a[3]} | {every} | "
                f"departs at {found.departs_at_step} | {seconds:.2f} |"
            )


if __name__ == "__main__":
    main()
