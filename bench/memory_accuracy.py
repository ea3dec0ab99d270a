"""How close the analytic memory estimate is to the truth, beside two public rules of thumb.

Truth, CPU matrix: a real training step of small Llama-style models built from configs, with real
tensors, the way the Trainer runs it; its peak as torch's MemTracker counts every tensor storage
(`lrexplorer.memory.measure`). Truth, presets (--presets): the same step of the real-size model
under FakeTensorMode (`lrexplorer.memory.simulate`), where nothing is allocated. On a machine with a
CUDA GPU, --gpu adds the peak `torch.cuda.max_memory_allocated` reports.

Rules of thumb: "4 x model size" (accelerate's estimate-memory for Adam training) and the
Transformer-Math 101 bytes per parameter plus Korthikanti et al.'s activation formula.

    python bench/memory_accuracy.py                  # the CPU matrix (a few minutes)
    python bench/memory_accuracy.py --presets        # + simulated real-size presets (tens of minutes)
    python bench/memory_accuracy.py --only base,tied # a few cases
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import warnings

warnings.filterwarnings("ignore")

from lrexplorer.memory.accuracy import (
    CPU_MATRIX,
    PRESET_CASES,
    error,
    rule_four_times,
    rule_transformer_math,
    summary,
)
from lrexplorer.memory.estimate import estimate
from lrexplorer.units import MIB


def row(name: str, truth: int, ours: int, four: int, tm: int, phase: str) -> tuple[float, float, float]:
    e, f, t = error(ours, truth), error(four, truth), error(tm, truth)
    print(
        f"| {name} | {truth / MIB:,.1f} | {ours / MIB:,.1f} | {100 * e:+.2f}% | {100 * f:+.0f}% | {100 * t:+.0f}% | {phase} |",
        flush=True,
    )
    return e, f, t


def report(title: str, errs: list[tuple[float, float, float]]) -> None:
    if not errs:
        return
    print()
    print(f"{title} ({len(errs)} cases): median |error| / worst |error|")
    for label, k in (("ours (analytic)", 0), ("4 x model size", 1), ("Transformer-Math + Korthikanti", 2)):
        med, worst = summary([e[k] for e in errs])
        print(f"  {label:32s} {100 * med:6.2f}% / {100 * worst:6.2f}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--presets", action="store_true", help="also simulate the real-size presets")
    parser.add_argument("--gpu", action="store_true", help="also measure the CPU matrix on the first CUDA GPU")
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}

    import torch
    import transformers

    from lrexplorer.memory.measure import measure_step

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}"
    )
    print()
    print("| case | truth MiB | ours MiB | ours | 4 x size | T-Math | peak phase |")
    print("|---|---:|---:|---:|---:|---:|---|")
    start = time.perf_counter()
    cpu_errs = []
    gpu_errs = []
    for case in CPU_MATRIX:
        if only and case.name not in only:
            continue
        config, arch, setup = case.build()
        truth = measure_step(config, arch, setup)
        est = estimate(arch, setup)
        cpu_errs.append(
            row(
                case.name,
                truth.peak_bytes,
                est.peak_bytes,
                rule_four_times(arch, setup),
                rule_transformer_math(arch, setup),
                est.peak_phase,
            )
        )
        if args.gpu and torch.cuda.is_available():
            gpu_setup = setup.with_(device="cuda")
            g = measure_step(config, arch, gpu_setup)
            ge = estimate(arch, gpu_setup)
            # max_memory_allocated excludes the CUDA context, so compare without it.
            ours = ge.peak_bytes - ge.components["cuda_context"]
            gpu_errs.append(
                row(
                    case.name + " (GPU)",
                    g.peak_bytes,
                    ours,
                    rule_four_times(arch, setup),
                    rule_transformer_math(arch, setup),
                    ge.peak_phase,
                )
            )
    report("CPU matrix, measured", cpu_errs)
    report("GPU, torch.cuda.max_memory_allocated", gpu_errs)

    if args.presets:
        from lrexplorer.memory.simulate import simulate_step

        print()
        print("| preset case | simulated MiB | ours MiB | ours | 4 x size | T-Math | peak phase |")
        print("|---|---:|---:|---:|---:|---:|---|")
        sim_errs = []
        for case in PRESET_CASES:
            if only and case.name not in only:
                continue
            config, arch, setup = case.build()
            truth = simulate_step(config, arch, setup)
            est = estimate(arch, setup)
            sim_errs.append(
                row(
                    f"{case.name} ({truth.seconds:.0f} s)",
                    truth.peak_bytes,
                    est.peak_bytes,
                    rule_four_times(arch, setup),
                    rule_transformer_math(arch, setup),
                    est.peak_phase,
                )
            )
        report("Real-size presets, simulated", sim_errs)
    print(f"\n{time.perf_counter() - start:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
