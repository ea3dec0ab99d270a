"""The built-in model trained by two processes at once: FSDP2 full shard and plain DDP on two GPUs, tokens/s
and rank 0's measured peak beside the run's own per-rank estimate (gpu_check.py's `processes` part).

Each row is a normal lrexplorer run of a spec (the launcher, the supervising worker, `accelerate launch`
and its ranks, as from the Train page). Tokens/s is the run's (rank 0 logs every rank's tokens summed), the
peak is rank 0's memory record (the CUDA allocator over the run; on the CPU MemTracker over its second
step) and the estimate is the one the run recorded beside it: the pre-flight's per-device figure for the
same spec (num_processes GPUs sharing the weights under fsdp; on the CPU one process's whole copy).

On the CPU the same rows run two processes over gloo: the FSDP2 spec is refused by the run's own
validation (accelerate shards only GPU process groups) and the row says so; DDP trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attention_kernels import measured_run

from lrexplorer.core.facts import detect_facts
from lrexplorer.core.units import MIB

PROCESSES = 2
RUNS = (("FSDP2 full shard", True), ("DDP", False))  # (label, fsdp)


def spec_for(device: str, steps: int, fsdp: bool) -> dict[str, Any]:
    """The spec values of one row: the built-in model, batch 8 per process, padded to at most 256 tokens."""
    return {
        "num_processes": PROCESSES,
        "fsdp": fsdp,
        "fsdp_config": {"reshard_after_forward": True} if fsdp else {},
        "max_length": 256,
        "per_device_train_batch_size": 8,
        "max_steps": steps,
        "logging_steps": 1,
        "save_strategy": "no",
        "use_cpu": device == "cpu",
        "bf16": device == "cuda",
    }


def row_for(label: str, given: dict[str, Any], root: Path) -> dict[str, Any]:
    """One row from a spec's values: the run's figures, or why it did not run (the validation's reason)."""
    row: dict[str, Any] = {"run": label}
    figures = measured_run(given, root, label.lower().replace(" ", "-"))
    if "skipped" in figures:
        return {**row, **figures}
    memory = figures["memory"]
    peak, estimate = memory.get("measured_peak_bytes"), memory.get("predicted_peak_bytes")
    return {
        **row,
        "run_dir": figures["run_dir"],
        "tokens_per_s": figures["tokens_per_s"],
        "peak_bytes": peak,
        "estimate_bytes": estimate,
        "error": estimate / peak - 1 if peak and estimate else None,
        "missing": memory.get("measured_off") or memory.get("predicted_unavailable"),
    }


def process_rows(device: str, steps: int, root: Path) -> list[dict[str, Any]]:
    """Every row of the part, printed as they come; on CUDA with fewer than two GPUs one row saying so."""
    gpus = len(detect_facts().gpu_capabilities)
    where = f"{PROCESSES} GPUs" if device == "cuda" else f"{PROCESSES} CPU processes over gloo"
    print(f"Built-in model on {where}, batch 8 per process, {steps} updates; peak and estimate are per rank.")
    if device == "cuda" and gpus < PROCESSES:
        row = {"run": "FSDP2 full shard and DDP", "skipped": f"needs {PROCESSES} GPUs; this machine has {gpus}"}
        print(f"Not run: {row['skipped']}.")
        return [row]
    print("| run | tokens/s | rank 0 peak MiB | estimate per rank MiB | est. error |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for label, fsdp in RUNS:
        rows.append(row_for(label, spec_for(device, steps, fsdp), root))
        print_row(rows[-1])
    return rows


def print_row(r: dict[str, Any]) -> None:
    if "skipped" in r:
        print(f"| {r['run']} | not run: {r['skipped']} | | | |")
        return
    peak = "—" if r["peak_bytes"] is None else f"{r['peak_bytes'] / MIB:,.1f}"
    estimate = "—" if r["estimate_bytes"] is None else f"{r['estimate_bytes'] / MIB:,.1f}"
    error = f"{100 * r['error']:+.1f}%" if r["error"] is not None else r["missing"] or "—"
    print(f"| {r['run']} | {r['tokens_per_s']:,.0f} | {peak} | {estimate} | {error} |")
