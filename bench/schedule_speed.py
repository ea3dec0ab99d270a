"""How fast the schedule curves are: `compute_curve` versus stepping the real scheduler.

For every catalogued schedule, with default kwargs (run-derived ones such as OneCycleLR's
total_steps follow the run), it times:
- ours: the median of `--runs` calls of `compute_curve` for a `--steps` curve with `--warmup`;
- real: `build_scheduler` on a torch optimizer stepped `--real-steps` times (`step()` then
  `get_last_lr()`, as a training loop does), extrapolated linearly to `--steps`, because stepping
  a million times per schedule would take minutes and the cost per step is constant.

    python bench/schedule_speed.py [--update-readme]

`--update-readme` writes the printed table into bench/README.md, replacing only this benchmark's
section so that other benchmarks' sections stay as they are.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrexplorer.schedules import CATALOGUE, compute_curve

LR = 3e-4
TARGET_MS = 50.0
SECTION = "## Schedule curves, 1,000,000 steps"
README = Path(__file__).with_name("README.md")


@dataclass(frozen=True)
class Row:
    name: str
    ours_ms: float
    real_s: float | None  # None: the Trainer never steps it per update (metric-driven)


def time_ours(name: str, steps: int, warmup: int, runs: int) -> float:
    compute_curve(name, LR, steps, warmup, {})  # first call pays one-off costs (imports, caches); not counted
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        compute_curve(name, LR, steps, warmup, {})
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def time_real(name: str, steps: int, warmup: int, real_steps: int) -> float | None:
    """Seconds to step the real scheduler `steps` times, measured over `real_steps` and scaled."""
    if CATALOGUE[name].metric_driven:
        return None
    import torch

    from lrexplorer.schedules.build import build_scheduler

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    scheduler = build_scheduler(name, opt, steps, warmup, {})
    n = min(real_steps, steps)
    with warnings.catch_warnings():
        # torch warns once that step() is called without optimizer.step(); the optimizer is not what is timed.
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        for _ in range(n):
            scheduler.step()
            scheduler.get_last_lr()
        elapsed = time.perf_counter() - start
    return elapsed * steps / n


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch
    import transformers

    # Timings on a shared machine move with its load; print it so a reader can judge a noisy row.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{cpu}, {os.cpu_count()} cores, load average {load}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}"
    )


def table(rows: list[Row], steps: int, real_steps: int) -> str:
    lines = [
        "| schedule | ours ms (median) | real s (extrapolated) | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        if r.real_s is None:
            real, speed = "n/a (steps only on evaluation)", "n/a"
        else:
            real, speed = f"{r.real_s:.2f}", f"{r.real_s * 1e3 / r.ours_ms:,.0f}x"
        lines.append(f"| {r.name} | {r.ours_ms:.1f} | {real} | {speed} |")
    worst = max(rows, key=lambda r: r.ours_ms)
    verdict = "all within" if worst.ours_ms <= TARGET_MS else "ABOVE"
    lines += [
        "",
        f"Max of ours: {worst.ours_ms:.1f} ms ({worst.name}); target {TARGET_MS:.0f} ms per curve: {verdict} target.",
        f"Real: stepped {real_steps:,} times and scaled linearly to {steps:,} steps.",
    ]
    return "\n".join(lines)


def update_readme(command: str, body: str) -> None:
    """Replace (or append) this benchmark's section of bench/README.md, leaving other sections alone."""
    intro = (
        "ours: median of the `compute_curve` calls for a whole curve (warmup 1000, default kwargs); real: "
        "`build_scheduler` on a torch AdamW, `step()` + `get_last_lr()` once per update, as a training loop "
        "steps it. Every curve must take at most 50 ms."
    )
    section = f"{SECTION}\n\n{intro}\n\n```\n{command}\n```\n\n{body}\n"
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == SECTION)
    except StopIteration:
        README.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    README.write_text("".join(lines[:start]) + section + ("\n" + tail if tail else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000, help="updates in each curve (default: 1,000,000)")
    parser.add_argument("--warmup", type=int, default=1000, help="warmup updates (default: 1000)")
    parser.add_argument(
        "--runs", type=int, default=7, help="timed compute_curve calls per schedule; the median is shown"
    )
    parser.add_argument("--real-steps", type=int, default=100_000, help="real scheduler steps measured before scaling")
    parser.add_argument("--update-readme", action="store_true", help="write the table into bench/README.md")
    args = parser.parse_args(argv)

    # All curves first, then all real schedulers: importing and stepping torch in between would
    # disturb the millisecond timings (allocator state, caches).
    ours = {name: time_ours(name, args.steps, args.warmup, args.runs) for name in CATALOGUE}
    rows = []
    for name in CATALOGUE:
        rows.append(Row(name, ours[name], time_real(name, args.steps, args.warmup, args.real_steps)))
        print(f"  stepped {name}", file=sys.stderr, flush=True)
    body = f"Machine: {machine()}.\n\n{table(rows, args.steps, args.real_steps)}"
    print(body)
    if args.update_readme:
        shown = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--update-readme"]
        update_readme(" ".join(["python bench/schedule_speed.py", *shown]), body)
    return 0 if max(r.ours_ms for r in rows) <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
