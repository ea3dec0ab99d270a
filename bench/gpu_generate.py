"""Real `model.generate` calls beside the generation-memory estimate (gpu_check.py's `generate` part).

For each preset of a family the generation estimate covers (Llama, Mistral, Qwen2; random weights built
from its config, nothing downloaded), one greedy call of `batch` prompts of `prompt_length` tokens and
`max_new_tokens` new ones (min_new_tokens as many, so every token is generated) runs on GPU 0; the
allocator's `max_memory_allocated` over the call (plus the weights and prompt it started with) is printed
beside the card's NVML total and our estimate without the CUDA context (which the allocator does not see).
A preset whose estimate does not fit in 85 % of the card is built with fewer layers (halved until it
fits; the row says how many). `--device cpu` runs the built-in tiny config on the CPU, counted op by op
(`lrexplorer.memory.pytorch.measure_generate`) instead of by the allocator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrexplorer.catalogues.architecture import from_config
from lrexplorer.core.units import MIB
from lrexplorer.memory.analytic.generate import estimate_generation
from lrexplorer.memory.generation import GENERATION_FAMILIES, GenerationSetup, has_eos

FIT_SHARE = 0.85  # of the card's total: room for the CUDA context and the allocator's slack


def halved(config: dict[str, Any], peak: Callable[[dict[str, Any]], int], total: int | None) -> dict[str, Any]:
    """The config with its layers halved until `peak(config)` fits in FIT_SHARE of `total` (None: as it is)."""
    config = dict(config)
    while total and config["num_hidden_layers"] > 1:
        if peak(config) <= FIT_SHARE * total:
            break
        config["num_hidden_layers"] = max(1, config["num_hidden_layers"] // 2)
        if isinstance(config.get("layer_types"), list):
            config["layer_types"] = config["layer_types"][: config["num_hidden_layers"]]
    return config


def generate_config(config: dict[str, Any], setup: GenerationSetup, total: int | None) -> dict[str, Any]:
    """The config with its layers halved until the generation estimate fits in FIT_SHARE of `total`."""
    return halved(config, lambda c: estimate_generation(from_config(c), setup).peak_bytes, total)


def generate_row(name: str, config: dict[str, Any], setup: GenerationSetup, total: int | None) -> dict[str, Any]:
    """One row: the real call's peak beside the estimate (CUDA context left out), or what stopped it."""
    from lrexplorer.memory.pytorch.measure_generate import measure_generate

    config = generate_config(config, setup, total)
    arch = from_config(config, name)
    est = estimate_generation(arch, setup)
    row: dict[str, Any] = {
        "model": name,
        "layers": config["num_hidden_layers"],
        "estimate": est.peak_bytes - est.components.get("cuda_context", 0),
        "nvml_total": total,
        "phase": est.peak_phase,
    }
    try:
        measured = measure_generate(config, arch, setup)
        row["allocated"] = measured.peak_bytes
        row["error"] = row["estimate"] / measured.peak_bytes - 1
    except Exception as exc:  # noqa: BLE001 - one row's failure (an OOM) is a result, the table goes on
        row["failure"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
    return row


def generate_rows(
    device: str, cases: list[tuple[str, dict[str, Any]]], batch: int, prompt: int, new: int
) -> list[dict]:
    total = None
    if device == "cuda":
        from lrexplorer.core.hardware import detect_gpus

        gpus = detect_gpus()
        total = gpus[0].total_bytes if gpus else None
    setup = GenerationSetup(
        batch_size=batch,
        prompt_length=prompt,
        max_new_tokens=new,
        min_new_tokens=new,
        dtype="bfloat16" if device == "cuda" else "float32",
        attn_implementation="sdpa",
        device=device,
    )
    where = "on the CPU, counted op by op" if device == "cpu" else "on GPU 0, max_memory_allocated"
    print(f"One generate call, batch {batch}, prompt_length {prompt}, max_new_tokens {new}, {where}.")
    print("| model | layers | NVML total MiB | estimate MiB | measured MiB | est. error | estimated peak in |")
    print("|---|---:|---:|---:|---:|---:|---|")
    rows = []
    for name, config in cases:
        if config.get("model_type") not in GENERATION_FAMILIES:
            continue
        row = generate_row(name, config, setup.with_(eos=has_eos(config)), total)
        rows.append(row)
        measured = row.get("failure") or f"{row['allocated'] / MIB:,.1f} | {100 * row['error']:+.2f}%"
        nvml = "—" if total is None else f"{total / MIB:,.0f}"
        print(f"| {name} | {row['layers']} | {nvml} | {row['estimate'] / MIB:,.1f} | {measured} | {row['phase']} |")
    return rows
