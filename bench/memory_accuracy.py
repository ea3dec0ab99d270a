"""How close the analytic memory estimate is to the truth, beside two public rules of thumb.

Truth, CPU matrix: a real training step of small Llama-style models built from configs, with real
tensors, the way the Trainer runs it; its peak as torch's MemTracker counts every tensor storage
(`lrexplorer.memory.pytorch.measure`). Truth, SFT matrix: step 2 of a real TRL SFTTrainer run of such models
(`lrexplorer.memory.pytorch.measure_sft`), counted the same way; its extra column is the error the plain
Trainer's figure would make on it. Truth, presets (--presets): the same steps of the real-size models
under FakeTensorMode (`lrexplorer.memory.pytorch.simulate`), where nothing is allocated. On a machine with a
CUDA GPU, --gpu adds the peak `torch.cuda.max_memory_allocated` reports.

Rules of thumb: "4 x model size" (accelerate's estimate-memory for Adam training) and the
Transformer-Math 101 bytes per parameter plus Korthikanti et al.'s activation formula.

    python bench/memory_accuracy.py                  # both CPU matrices (ten minutes or more)
    python bench/memory_accuracy.py --trainer sft    # only the SFTTrainer matrices (with the scripts that
                                                     # leave bf16 / checkpointing to TRL's SFTConfig)
    python bench/memory_accuracy.py --presets        # + simulated real-size presets (tens of minutes)
    python bench/memory_accuracy.py --only base,tied # a few cases
    python bench/memory_accuracy.py --fsdp           # only FSDP2 per rank: real-size presets at 2, 8, 64 GPUs
    python bench/memory_accuracy.py --task generate  # only generation: real generate calls, counted op by op

--fsdp compares the analytic per-rank peak with one rank of an FSDP2 step simulated on a fake process
group (`lrexplorer.memory.pytorch.simulate_parallel`), each case in its own process (the process group is global):
wrapped by accelerate's fsdp2_prepare_model, then (the "per-layer groups" cases) by a fully_shard per decoder
layer and one on the model.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import warnings

warnings.filterwarnings("ignore")

from lrexplorer.core.units import MIB
from lrexplorer.memory.advice.accuracy import (
    CPU_MATRIX,
    FSDP_LAYERS_CASES,
    FSDP_PRESET_CASES,
    FSDP_WORLD_SIZES,
    PRESET_CASES,
    SFT_MATRIX,
    SFT_PRESET_CASES,
    SFT_TRL_DEFAULTS,
    Case,
    error,
    summary,
)
from lrexplorer.memory.advice.rules_of_thumb import rule_four_times, rule_transformer_math
from lrexplorer.memory.analytic.estimate import estimate


def row(
    name: str, truth: int, ours: int, four: int, tm: int, phase: str, plain: int | None = None
) -> tuple[float, float, float]:
    e, f, t = error(ours, truth), error(four, truth), error(tm, truth)
    extra = ""
    if plain is not None:
        extra = f" {100 * error(plain, truth):+.0f}% |" if plain else " n/a |"
    print(
        f"| {name} | {truth / MIB:,.1f} | {ours / MIB:,.1f} | {100 * e:+.2f}% | {100 * f:+.0f}% | {100 * t:+.0f}% |"
        f"{extra} {phase} |",
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


def plain_figure(case_setup: Any, arch: Any) -> int:
    """The plain Trainer's estimate of the same setup (0 where it has none: packing is SFTTrainer's)."""
    if case_setup.one_row:
        return 0
    return estimate(arch, case_setup.with_(trainer="transformers")).peak_bytes


def run_matrix(cases: tuple[Case, ...], only: set[str], gpu: bool, sft: bool) -> tuple[list, list]:
    import torch

    from lrexplorer.memory.pytorch.measure import measure_step

    print()
    if sft:
        print("| case | truth MiB | ours MiB | ours | 4 x size | T-Math | as plain Trainer | peak phase |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
    else:
        print("| case | truth MiB | ours MiB | ours | 4 x size | T-Math | peak phase |")
        print("|---|---:|---:|---:|---:|---:|---|")
    cpu_errs, gpu_errs, plain_errs = [], [], []
    for case in cases:
        if only and case.name not in only:
            continue
        config, arch, setup = case.build()
        truth = measure_step(config, arch, setup)
        est = estimate(arch, setup)
        plain = plain_figure(setup, arch) if sft else None
        rules = (rule_four_times(arch, setup), rule_transformer_math(arch, setup))
        cpu_errs.append(row(case.name, truth.peak_bytes, est.peak_bytes, *rules, est.peak_phase, plain))
        if plain:
            plain_errs.append(error(plain, truth.peak_bytes))
        if gpu and torch.cuda.is_available():
            gpu_setup = setup.with_(device="cuda")
            g = measure_step(config, arch, gpu_setup)
            ge = estimate(arch, gpu_setup)
            # max_memory_allocated excludes the CUDA context, so compare without it.
            ours = ge.peak_bytes - ge.components["cuda_context"]
            gplain = None
            if sft:
                gplain = plain_figure(gpu_setup, arch)
                gplain = gplain - ge.components["cuda_context"] if gplain else 0
            gpu_errs.append(row(case.name + " (GPU)", g.peak_bytes, ours, *rules, ge.peak_phase, gplain))
    if plain_errs:
        med, worst = summary(plain_errs)
        print(
            f"\nThe plain Trainer's figure on these steps ({len(plain_errs)} unpacked cases): {100 * med:.2f}% / {100 * worst:.2f}%"
        )
    return cpu_errs, gpu_errs


def run_trl_defaults(only: set[str]) -> list[float]:
    """SFTTrainer scripts that leave bf16 / activation_checkpointing to SFTConfig: the figure the CLI gives
    for TRL's defaults against the step that ran, beside the figure of lrexplorer's own defaults."""
    from lrexplorer.memory.pytorch.measure_sft import measure_sft_step

    print()
    print(
        "| case | SFTConfig ran with | truth MiB | TRL-defaults figure MiB | error | lrexplorer's defaults MiB | error |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    errs = []
    for case in SFT_TRL_DEFAULTS:
        if only and case.name not in only:
            continue
        config, arch, setup = case.build()
        truth = measure_sft_step(config, arch, setup, left_to_trl=case.left_to_trl, text_rows=case.text_rows)
        trl, ours = estimate(arch, case.trl_setup(setup)).peak_bytes, estimate(arch, setup).peak_bytes
        e = error(trl, truth.peak_bytes)
        errs.append(e)
        ran = (
            truth.notes[0].removeprefix("SFTConfig ran with ")
            if truth.notes
            else "bf16=False, activation_checkpointing=False (given)"
        )
        print(
            f"| {case.name} | {ran} | {truth.peak_bytes / MIB:,.1f} | {trl / MIB:,.1f} | {100 * e:+.2f}% "
            f"| {ours / MIB:,.1f} | {100 * error(ours, truth.peak_bytes):+.2f}% |",
            flush=True,
        )
    if errs:
        med, worst = summary(errs)
        print(
            f"\nScripts leaving fields to SFTConfig ({len(errs)} cases): median |error| {100 * med:.2f}%, worst {100 * worst:.2f}%"
        )
    return errs


def run_presets(cases: tuple[Case, ...], only: set[str], sft: bool) -> list:
    from lrexplorer.memory.pytorch.simulate import simulate_step

    print()
    if sft:
        print("| preset case | simulated MiB | ours MiB | ours | 4 x size | T-Math | as plain Trainer | peak phase |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
    else:
        print("| preset case | simulated MiB | ours MiB | ours | 4 x size | T-Math | peak phase |")
        print("|---|---:|---:|---:|---:|---:|---|")
    sim_errs = []
    for case in cases:
        if only and case.name not in only:
            continue
        config, arch, setup = case.build()
        truth = simulate_step(config, arch, setup)
        est = estimate(arch, setup)
        rules = (rule_four_times(arch, setup), rule_transformer_math(arch, setup))
        plain = plain_figure(setup, arch) if sft else None
        name = f"{case.name} ({truth.seconds:.0f} s)"
        sim_errs.append(row(name, truth.peak_bytes, est.peak_bytes, *rules, est.peak_phase, plain))
    return sim_errs


def run_fsdp(only: set[str]) -> list[float]:
    """Analytic vs simulated per-rank peak (CUDA constants left out of both), each case in a worker process."""
    import json
    import subprocess
    from dataclasses import asdict

    from lrexplorer.memory.analytic.estimate import CUBLAS_WORKSPACE, CUDA_CONTEXT

    fixed = CUDA_CONTEXT + CUBLAS_WORKSPACE
    print()
    print(
        "| FSDP2 case | GPUs | simulated MiB | ours MiB | error | simulated phase | ours phase | CPU RAM/rank MiB | s |"
    )
    print("|---|---:|---:|---:|---:|---|---|---:|---:|")
    errs = []
    for case in (*FSDP_PRESET_CASES, *FSDP_LAYERS_CASES):
        if only and case.name not in only:
            continue
        _, arch, setup = case.build()
        for n in FSDP_WORLD_SIZES:
            spec = {"mode": "simulate", "model": case.preset, "setup": {**asdict(setup), "num_gpus": n}}
            out = subprocess.run(
                [sys.executable, "-m", "lrexplorer.memory.pytorch.engine_process", json.dumps(spec)],
                capture_output=True,
                text=True,
                check=False,
            )
            last = json.loads(out.stdout.strip().splitlines()[-1])
            if "result" not in last:
                print(f"| {case.name} | {n} | failed: {last.get('error')} |")
                continue
            sim = last["result"]
            est = estimate(arch, setup.with_(num_gpus=n))
            truth, ours = sim["peak_bytes"] - fixed, est.peak_bytes - fixed
            e = error(ours, truth)
            errs.append(e)
            print(
                f"| {case.name} | {n} | {truth / MIB:,.0f} | {ours / MIB:,.0f} | {100 * e:+.2f}% | {sim['peak_phase']} "
                f"| {est.peak_phase} | {sim['host_bytes'] / MIB:,.0f} | {sim['seconds']:.0f} |",
                flush=True,
            )
    if errs:
        med, worst = summary(errs)
        print(f"\nFSDP2 per rank ({len(errs)} cases): median |error| {100 * med:.2f}%, worst {100 * worst:.2f}%")
    return errs


def naive_generate(arch: Any, setup: Any) -> int:
    """The common rule: weights + a KV cache of every token (the window's when sliding) + the last logits."""
    from lrexplorer.memory.analytic.generate import weight_bytes

    e = 4 if setup.dtype == "float32" else 2
    window = arch.sliding_window or setup.total_length
    tokens = sum(
        min(setup.total_length, window if t == "sliding_attention" else setup.total_length) for t in arch.layer_types
    )
    return (
        weight_bytes(arch, setup)
        + 2 * tokens * setup.batch_size * arch.num_kv_heads * arch.head_dim * e
        + 4 * setup.batch_size * arch.vocab_size
    )


def run_generate(only: set[str]) -> list[float]:
    """The generation estimate against real generate calls counted op by op, beside the common rule."""
    from lrexplorer.memory.advice.accuracy_generate import GENERATE_MATRIX
    from lrexplorer.memory.analytic.generate import estimate_generation
    from lrexplorer.memory.pytorch.measure_generate import measure_generate

    print()
    print("| case | measured MiB | ours MiB | ours | weights + KV + logits | measured peak at | ours | s |")
    print("|---|---:|---:|---:|---:|---|---|---:|")
    errs, naive_errs = [], []
    for case in GENERATE_MATRIX:
        if only and case.name not in only:
            continue
        config, arch, setup = case.build()
        truth = measure_generate(config, arch, setup)
        est = estimate_generation(arch, setup)
        e, n = error(est.peak_bytes, truth.peak_bytes), error(naive_generate(arch, setup), truth.peak_bytes)
        errs.append(e)
        naive_errs.append(n)
        print(
            f"| {case.name} | {truth.peak_bytes / MIB:,.3f} | {est.peak_bytes / MIB:,.3f} | {100 * e:+.2f}% | {100 * n:+.0f}% "
            f"| {truth.peak_phase} ({truth.peak_op}) | {est.peak_phase} | {truth.seconds:.0f} |",
            flush=True,
        )
    if errs:
        print(f"\nGeneration, real generate calls ({len(errs)} cases): median |error| / worst |error|")
        for label, values in (("ours (analytic)", errs), ("weights + KV cache + last logits", naive_errs)):
            med, worst = summary(values)
            print(f"  {label:34s} {100 * med:6.2f}% / {100 * worst:6.2f}%")
    return errs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument(
        "--trainer", choices=("transformers", "sft", "both"), default="both", help="which matrices to run"
    )
    parser.add_argument("--presets", action="store_true", help="also simulate the real-size presets")
    parser.add_argument("--gpu", action="store_true", help="also measure the CPU matrix on the first CUDA GPU")
    parser.add_argument("--fsdp", action="store_true", help="only the FSDP2 per-rank presets (simulated)")
    parser.add_argument(
        "--task", choices=("train", "generate"), default="train", help="generate: only the generation matrix"
    )
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}

    import torch
    import transformers
    import trl

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"trl {trl.__version__}"
    )
    start = time.perf_counter()
    if args.task == "generate":
        run_generate(only)
        print(f"\n{time.perf_counter() - start:.0f} s in all")
        return 0
    if args.fsdp:
        run_fsdp(only)
        print(f"\n{time.perf_counter() - start:.0f} s in all")
        return 0
    trainers = ("transformers", "sft") if args.trainer == "both" else (args.trainer,)
    labels = {"transformers": "CPU matrix, plain Trainer, measured", "sft": "CPU matrix, SFTTrainer, measured"}
    for trainer in trainers:
        matrix = SFT_MATRIX if trainer == "sft" else CPU_MATRIX
        cpu_errs, gpu_errs = run_matrix(matrix, only, args.gpu, sft=trainer == "sft")
        report(labels[trainer], cpu_errs)
        report(f"{labels[trainer].split(', measured')[0]}, GPU, torch.cuda.max_memory_allocated", gpu_errs)
        if trainer == "sft":
            run_trl_defaults(only)
    if args.presets:
        for trainer in trainers:
            cases = SFT_PRESET_CASES if trainer == "sft" else PRESET_CASES
            name = "SFTTrainer" if trainer == "sft" else "plain Trainer"
            report(f"Real-size presets, {name}, simulated", run_presets(cases, only, sft=trainer == "sft"))
    print(f"\n{time.perf_counter() - start:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
