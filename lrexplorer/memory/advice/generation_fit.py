"""Generation memory on a GPU: does one generate call fit with the safety margin, the largest batch and the
longest prompt that fit, and the estimate as a readable table (GiB). Every figure is a re-run of the
analytic estimate (`lrexplorer.memory.analytic.generate`); nothing here imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.fields import FieldError
from lrexplorer.core.limits import MAX_BATCH, MAX_LENGTH
from lrexplorer.core.units import GIB, MIB
from lrexplorer.memory.advice.budget import largest, usable_bytes
from lrexplorer.memory.advice.report import gpu_lines
from lrexplorer.memory.analytic.generate import GenerationEstimate, estimate_generation
from lrexplorer.memory.generation import GenerationSetup
from lrexplorer.memory.gpus import Gpu

LABELS = {
    "weights": "weights",
    "kv_cache": "KV cache (at the peak)",
    "activations": "activations (prefill or one token's forward)",
    "logits": "logits and scores (float32 copy, logits processors)",
    "inputs": "token ids, attention mask, position ids",
    "cuda_context": "CUDA context",
    "cuda_workspace": "cuBLAS workspace",
}


@dataclass(frozen=True)
class GenerationFit:
    gpu: Gpu
    margin_percent: float
    usable_bytes: int
    peak_bytes: int
    max_batch: int  # largest batch_size that fits at these lengths (0: not even 1)
    max_prompt: int  # longest prompt_length that fits at this batch and max_new_tokens (0: not even 1)

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.usable_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "gpu": self.gpu.name,
            "fits": self.fits,
            "margin_percent": self.margin_percent,
            "usable_bytes": self.usable_bytes,
            "margin_bytes": self.usable_bytes - self.peak_bytes,
            "max_batch_size": self.max_batch,
            "max_prompt_length": self.max_prompt,
        }


def advise_generation(
    arch: Architecture, setup: GenerationSetup, gpu: Gpu, margin_percent: float, positions: int | None = None
) -> GenerationFit:
    """Fit of one generate call on `gpu` keeping `margin_percent` free; the largest batch and longest prompt."""
    usable = usable_bytes(gpu, margin_percent)

    def fits(trial: GenerationSetup) -> bool:
        try:
            return estimate_generation(arch, trial, positions).peak_bytes <= usable
        except FieldError:  # past the model's positions or the token bound: does not fit
            return False

    peak = estimate_generation(arch, setup, positions).peak_bytes
    room = (positions or MAX_LENGTH) - setup.max_new_tokens
    return GenerationFit(
        gpu,
        margin_percent,
        usable,
        peak,
        largest(lambda b: fits(setup.with_(batch_size=b)), MAX_BATCH),
        largest(lambda p: fits(setup.with_(prompt_length=p)), min(room, MAX_LENGTH)),
    )


def generation_text(est: GenerationEstimate, label: str, gpus: list[dict[str, Any]], note: str | None = None) -> str:
    """The estimate as a readable table in GiB."""
    s = est.setup
    lines = [
        f"model: {label}  ({est.n_params / 1e9:.3f} B parameters{', 4-bit decoder layers' if s.load_in_4bit else ''})",
        f"task: generate (greedy, transformers' DynamicCache), device: {est.device}, dtype: {s.dtype}",
        f"batch_size {s.batch_size} x prompt_length {s.prompt_length} + max_new_tokens {s.max_new_tokens}"
        + (f" (min_new_tokens {s.min_new_tokens})" if s.min_new_tokens else ""),
        *(f"WARNING: {n}" for n in est.notes),
        "",
        f"{'component (at the peak)':62s} {'GiB':>9s}",
    ]
    lines += [f"{LABELS[k]:62s} {v / GIB:9.3f}" for k, v in est.components.items() if v]
    lines.append("")
    for phase, value in est.phases.items():
        mark = "  <- peak" if phase == est.peak_phase else ""
        lines.append(f"{'peak during the ' + phase:62s} {value / GIB:9.3f}{mark}")
    lines.append(f"{'PEAK (per device)':62s} {est.peak_bytes / GIB:9.3f}")
    lines.append(
        f"{'KV cache at the end of the call':62s} {est.kv_cache_bytes / GIB:9.3f}  "
        f"({est.kv_cache_per_token / MIB:.3f} MiB per token of one sequence)"
    )
    lines += gpu_lines(gpus)
    if note:
        lines += ["", note]
    return "\n".join(lines)


def fit_text(fit: GenerationFit, setup: GenerationSetup) -> str:
    verdict = "fits" if fit.fits else "does NOT fit"
    left = "left" if fit.fits else "missing"
    return "\n".join(
        [
            f"{fit.gpu.name}: the peak {fit.peak_bytes / GIB:.2f} GiB {verdict} in {fit.usable_bytes / GIB:.2f} GiB "
            f"({fit.margin_percent:g} % of {fit.gpu.total_bytes / GIB:.1f} GiB kept free as the safety margin); "
            f"{left}: {abs(fit.usable_bytes - fit.peak_bytes) / GIB:.2f} GiB",
            f"largest batch_size that fits (prompt_length {setup.prompt_length}, max_new_tokens "
            f"{setup.max_new_tokens}): {fit.max_batch or 'none (not even 1)'}",
            f"longest prompt_length that fits (batch_size {setup.batch_size}, max_new_tokens {setup.max_new_tokens}): "
            + (
                f"{fit.max_prompt} (a context of {fit.max_prompt + setup.max_new_tokens} tokens)"
                if fit.max_prompt
                else "none"
            ),
        ]
    )
