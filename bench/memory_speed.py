"""How long one analytic memory estimate takes (target: at most 5 ms), alone and in a sweep.

A sweep is what the page draws: every preset x batch sizes x sequence lengths x checkpointing and
attention choices. "first" is an estimate whose parameter figures are not cached yet (a new model
or optimizer); the others reuse them, as a slider move does.

    python bench/memory_speed.py
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lrexplorer.catalogues.presets import preset_names
from lrexplorer.memory.analytic import estimate as estimate_module
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import TrainingSetup


def main() -> int:
    archs = [resolve_model(n).architecture for n in preset_names()]
    grid = list(
        itertools.product(
            archs,
            (1, 4, 16),
            (512, 2048, 8192),
            (False, True),
            ("sdpa", "eager"),
            ("adamw_torch", "adamw_8bit"),
            (False, True),
        )
    )
    setups = []
    for arch, b, s, ckpt, wanted_attn, optim, lora in grid:
        attn = "eager" if wanted_attn == "sdpa" and not arch.supports_sdpa else wanted_attn
        setups.append(
            (
                arch,
                TrainingSetup(
                    per_device_train_batch_size=b,
                    max_length=s,
                    activation_checkpointing=ckpt,
                    attn_implementation=attn,
                    optim=optim,
                    use_peft=lora,
                    bf16=True,
                    dtype="bfloat16",
                ),
            )
        )
    estimate_module._parameter_figures.cache_clear()
    first, best = [], []
    sweep_start = time.perf_counter()
    for arch, setup in setups:
        t = time.perf_counter()
        estimate(arch, setup)
        first.append(time.perf_counter() - t)
    sweep = time.perf_counter() - sweep_start
    for arch, setup in setups:  # best of 3: what the code costs, without the machine's other load
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            estimate(arch, setup)
            runs.append(time.perf_counter() - t)
        best.append(min(runs))
    ms = 1000
    first.sort()
    best.sort()
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; Python {platform.python_version()}"
    )
    print(
        f"sweep of {len(setups)} setups over {len(archs)} presets, first pass (cold caches): {sweep * ms:.0f} ms "
        f"in all; per estimate median {statistics.median(first) * ms:.2f} ms, p99 "
        f"{first[int(0.99 * (len(first) - 1))] * ms:.2f} ms, max {first[-1] * ms:.2f} ms"
    )
    print(
        f"one estimate, best of 3: median {statistics.median(best) * ms:.2f} ms, p99 "
        f"{best[int(0.99 * (len(best) - 1))] * ms:.2f} ms, max {best[-1] * ms:.2f} ms"
    )
    print("target (at most 5 ms each, best of 3):", "met" if best[-1] <= 0.005 else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
