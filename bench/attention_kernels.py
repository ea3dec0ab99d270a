"""Each attention kernel in a short real run of the built-in model: tokens/s, peak memory, the kernel that ran.

Every kernel transformers offers is tried (eager, sdpa, flash_attention_2/3/4); one that cannot run on
this machine is listed with the reason and not started. Each run is a normal lrexplorer run (the same
worker, callbacks and records as the Train page), with padded batches and, for sdpa and the flash
kernels, padding_free batches (one row, no mask). Throughput is the mean `tokens_per_s` of the steps
after the first two (start-up and the profiled step excluded); peak memory is the run's measured peak
(the CUDA allocator's over the run on a GPU, MemTracker's step on the CPU).

    python bench/attention_kernels.py                  # on GPU 0 in bf16, every kernel, 30 updates each
    python bench/attention_kernels.py --device cpu --only sdpa --steps 4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lrexplorer.core.facts import detect_facts
from lrexplorer.core.fields import FieldError
from lrexplorer.core.kernels import KERNELS, kernel_problem
from lrexplorer.core.units import MIB
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import store
from lrexplorer.runs.spec import RunSpec

SKIPPED_STEPS = 2  # the first update pays start-up, and the kernel probe profiles it


def row_for(kernel: str, padding_free: bool, device: str, steps: int, root: Path) -> dict[str, Any]:
    facts = detect_facts()
    cap = None if device == "cpu" else facts.first_capability
    row: dict[str, Any] = {"kernel": kernel, "batches": "padding_free" if padding_free else "padded"}
    where = "this machine trains on the CPU" if cap is None else f"the GPU has compute capability {cap[0]}.{cap[1]}"
    problem = kernel_problem(kernel, facts.installed_kernels, cap, device == "cuda", where)
    if problem:
        return {**row, "skipped": problem}
    given = {
        "attn_implementation": kernel,
        "padding_free": padding_free,
        "max_length": None if padding_free else 256,
        "max_steps": steps,
        "logging_steps": 1,
        "save_strategy": "no",
        "use_cpu": device == "cpu",
        "bf16": device == "cuda",
        "per_device_train_batch_size": 8,
    }
    figures = measured_run(given, root, f"{kernel}-{row['batches']}")
    if "skipped" in figures:
        return {**row, **figures}
    return {
        **row,
        "ran": figures["status"].get("attention", {}).get("kernel"),
        "tokens_per_s": figures["tokens_per_s"],
        "peak_bytes": figures["memory"].get("measured_peak_bytes"),
    }


def measured_run(given: dict[str, Any], root: Path, run_id: str) -> dict[str, Any]:
    """A real lrexplorer run of the spec `given`, waited for: {"skipped": why} when it was refused or did
    not complete, else its folder, final status, mean tokens/s (SKIPPED_STEPS left out) and memory record."""
    try:
        spec = RunSpec.from_dict(given, detect_facts())
    except FieldError as exc:
        return {"skipped": f"refused: {exc}"}
    run_dir = launcher.start_run(spec, root, run_id=run_id)
    deadline = time.monotonic() + 900
    while store.read_status(run_dir).get("state") not in store.FINAL_STATES and time.monotonic() < deadline:
        time.sleep(1)
    status = store.read_status(run_dir)
    if status.get("state") != "completed":
        return {"skipped": f"run {status.get('state')}: {str(status.get('message', ''))[:200]}"}
    logs = [r for r in store.read_metrics(run_dir) if "tokens_per_s" in r]
    rates = [r["tokens_per_s"] for r in logs[SKIPPED_STEPS:]] or [r["tokens_per_s"] for r in logs]
    return {
        "run_dir": run_dir,
        "status": status,
        "tokens_per_s": sum(rates) / len(rates),
        "memory": store.read_memory_record(run_dir),
    }


def print_row(r: dict[str, Any]) -> None:
    if "skipped" in r:
        print(f"| {r['kernel']} | {r['batches']} | not run: {r['skipped']} | | |")
        return
    peak = "—" if r["peak_bytes"] is None else f"{r['peak_bytes'] / MIB:,.1f}"
    print(f"| {r['kernel']} | {r['batches']} | {r['ran']} | {r['tokens_per_s']:,.0f} | {peak} |")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--only", default="", help="comma-separated kernels (default: all)")
    parser.add_argument("--steps", type=int, default=30, help="optimizer updates per run")
    parser.add_argument("--batches", default="padded,padding_free", help="padded, padding_free or both")
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.exit(2, "attention_kernels.py: no CUDA GPU here; --device cpu runs the CPU path\n")
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    kinds = [k.strip() == "padding_free" for k in args.batches.split(",") if k.strip()]
    with runs_root("lrx-kernels-") as root:
        return kernel_rows(args.device, args.steps, root, only, kinds)


@contextlib.contextmanager
def runs_root(prefix: str) -> Iterator[Path]:
    """A temporary folder for the bench's runs; their device locks go there too unless LRX_LOCK_DIR is set."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ.setdefault("LRX_LOCK_DIR", str(Path(tmp) / "locks"))
        yield Path(tmp)


def kernel_rows(
    device: str, steps: int, root: Path, only: set[str] | None = None, kinds: list[bool] | None = None
) -> list[dict[str, Any]]:
    """row_for every kernel (or those in `only`) with padded and/or padding_free batches (`kinds`: the
    padding_free flags; eager takes padded batches only), printed as a table as they come."""
    print(f"Built-in model, batch 8, {steps} updates per run on the {device.upper()}.")
    print("| attn_implementation | batches | kernel that ran | tokens/s | peak MiB |")
    print("|---|---|---|---:|---:|")
    rows = []
    for kernel in KERNELS:
        if only and kernel not in only:
            continue
        for padding_free in [False] if kernel == "eager" else (kinds or [False, True]):
            rows.append(row_for(kernel, padding_free, device, steps, root))
            print_row(rows[-1])
    return rows


if __name__ == "__main__":
    main()
