"""The fit advisor: does a setup fit a GPU with a safety margin, the largest micro-batch that fits, and
when it does not, the changes that make it fit, each figure from a real re-run of the estimate.

The safety margin is a share of the GPU's memory the estimate must leave free. The estimate already
counts the CUDA context and cuBLAS workspace; the margin covers what it cannot know: a CUDA context
larger than the typical 500 MiB (drivers, other libraries), and the caching allocator's
fragmentation: PyTorch reserves memory in blocks, so `max_memory_reserved` sits above
`max_memory_allocated` (what the estimate models) by a few percent to ~15 % depending on the run.

The search tries every combination within its bounds: each mix of the switches (checkpointing, 8-bit
AdamW, 16-bit weights, LoRA or QLoRA), on one GPU or sharded with ZeRO-3 over 2, 4 or 8, each completed by
the least number change it still needs (a smaller micro-batch with the same global batch, then a shorter
max_length). It keeps the best answer for each GPU count, so the best one-GPU answer is shown whenever one
exists, beside the multi-GPU ones, and each change that fits alone.

Suggestions are ranked by the GPUs they need first (a GPU one does not have is the dearest change), then
by quality cost (what the change does to the result), then by compute per update from this FLOP model,
per token of the update:
  - 6 N for the forward and backward matrix products of N parameters (2 N forward, 4 N backward);
    with LoRA / QLoRA the frozen weights need no weight gradient: 4 N;
  - attention scores and their product with the values: 4 L s h forward (L layers, s tokens per row,
    h hidden size), 12 L s h forward + backward;
  - activation checkpointing recomputes the forward: + 2 N + 4 L s h.
Nothing here imports torch: every figure is the analytic engine's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.advice.budget import DEFAULT_MARGIN_PERCENT, largest, usable_bytes
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.gpus import Gpu
from lrexplorer.memory.setup import TrainingSetup

SHARD_GPUS = (2, 4, 8)
MIN_LENGTH = 128  # shorter max_length is only suggested down to this

# Quality cost of a change: 0 the same training, 1 rounding (8-bit states, 16-bit weights),
# 2 fewer trained weights or cut examples (LoRA, shorter max_length), 3 both (QLoRA).
QUALITY = {"none": 0, "rounding": 1, "adapters": 2, "truncation": 2, "quantised base": 3}


def flops_per_update(arch: Architecture, setup: TrainingSetup) -> float:
    """Compute of one optimizer update over all GPUs, by the model in the module docstring."""
    n, L, h, s = arch.n_params, arch.num_layers, arch.hidden_size, setup.example_length
    tokens = setup.per_device_train_batch_size * s * setup.gradient_accumulation_steps * setup.num_gpus
    per_token = (4 if setup.lora else 6) * n + 12 * L * s * h
    if setup.activation_checkpointing:
        per_token += 2 * n + 4 * L * s * h
    return float(per_token * tokens)


@dataclass(frozen=True)
class Suggestion:
    changes: dict[str, Any]  # catalogue field -> new value (what a form or the CLI sets)
    label: str
    setup: TrainingSetup
    peak_bytes: int
    flops: float
    quality: int
    quality_cost: str
    gpus: int

    @property
    def rank(self) -> tuple[int, int, float]:
        return (self.gpus, self.quality, self.flops)

    def to_dict(self, baseline_flops: float) -> dict[str, Any]:
        return {
            "changes": dict(self.changes),
            "label": self.label,
            "peak_bytes": self.peak_bytes,
            "flops_per_update": self.flops,
            "compute_vs_current": self.flops / baseline_flops if baseline_flops else None,
            "quality_cost": self.quality_cost,
            "num_gpus": self.gpus,
        }


@dataclass(frozen=True)
class Advice:
    gpu: Gpu
    margin_percent: float
    usable_bytes: int
    peak_bytes: int
    flops: float
    max_batch: int  # largest per_device_train_batch_size that fits (0: not even 1)
    keep_global: tuple[int, int] | None  # (micro-batch, accumulation) that fits with the same global batch
    alone: list[Suggestion]  # each change alone that makes it fit (empty when it fits)
    best: list[Suggestion]  # the best combination for each GPU count that has one, fewest GPUs first

    @property
    def combined(self) -> Suggestion | None:
        """The best answer of all: the fewest GPUs, then the least quality cost, then the least compute."""
        return self.best[0] if self.best else None

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.usable_bytes

    @property
    def margin_bytes(self) -> int:
        """What is left of the usable memory (negative: how much is missing)."""
        return self.usable_bytes - self.peak_bytes

    def is_best(self, suggestion: Suggestion) -> bool:
        """Whether `suggestion` is the best answer for its GPU count."""
        return any(suggestion.changes == b.changes for b in self.best)

    def suggestions(self) -> list[Suggestion]:
        out = list(self.best)
        out += [s for s in self.alone if all(s.changes != o.changes for o in out)]
        return sorted(out, key=lambda s: s.rank)

    def to_dict(self) -> dict[str, Any]:
        return {
            "gpu": self.gpu.name,
            "fits": self.fits,
            "margin_percent": self.margin_percent,
            "usable_bytes": self.usable_bytes,
            "margin_bytes": self.margin_bytes,
            "max_batch": self.max_batch,
            "keep_global_batch": (
                None
                if self.keep_global is None
                else {
                    "per_device_train_batch_size": self.keep_global[0],
                    "gradient_accumulation_steps": self.keep_global[1],
                }
            ),
            "suggestions": [s.to_dict(self.flops) for s in self.suggestions()],
            "best_per_gpu_count": [s.to_dict(self.flops) for s in self.best],
            "cheapest": None if self.combined is None else self.combined.to_dict(self.flops),
        }


def _peak(arch: Architecture, setup: TrainingSetup) -> int | None:
    try:
        return estimate(arch, setup).peak_bytes
    except FieldError:  # a combination a real run refuses (e.g. QLoRA with FSDP) is no suggestion
        return None


def _fits(arch: Architecture, setup: TrainingSetup, usable: int) -> bool:
    peak = _peak(arch, setup)
    return peak is not None and peak <= usable


def max_batch(arch: Architecture, setup: TrainingSetup, usable: int, limit: int = 4096) -> int:
    """The largest per_device_train_batch_size that fits (the peak grows with it), 0 if 1 does not."""
    return largest(lambda b: _fits(arch, setup.with_(per_device_train_batch_size=b), usable), limit)


def _split(total: int, most: int) -> tuple[int, int]:
    """The largest micro-batch up to `most` that divides `total`, and the accumulation steps to reach it."""
    b = next(b for b in range(max(1, min(most, total)), 0, -1) if total % b == 0)
    return b, total // b


def keep_global_batch(arch: Architecture, setup: TrainingSetup, usable: int) -> tuple[int, int] | None:
    """The largest micro-batch that fits with the accumulation that keeps the global batch."""
    total = setup.per_device_train_batch_size * setup.gradient_accumulation_steps
    for b in range(total, 0, -1):
        if total % b == 0:
            trial = setup.with_(per_device_train_batch_size=b, gradient_accumulation_steps=total // b)
            if _fits(arch, trial, usable):
                return b, total // b
    return None


def _spread(setup: TrainingSetup, gpus: int) -> dict[str, Any]:
    """Batch fields that keep the global batch over `gpus` GPUs, where it divides (else unchanged)."""
    total = setup.per_device_train_batch_size * setup.gradient_accumulation_steps * setup.num_gpus
    if total % gpus:
        return {}
    b, ga = _split(total // gpus, setup.per_device_train_batch_size)
    return {"per_device_train_batch_size": b, "gradient_accumulation_steps": ga}


# -- the changes, each a list of alternatives (the first: leave it as it is) --------------------------------
Option = tuple[dict[str, Any], str, str]  # (field changes, label, quality cost)


def _options(setup: TrainingSetup, arch: Architecture) -> list[list[Option]]:
    keep: Option = ({}, "", "none")
    axes: list[list[Option]] = []
    if not setup.activation_checkpointing:
        axes.append([keep, ({"activation_checkpointing": True}, "activation checkpointing", "none")])
    if setup.optim not in ("adamw_8bit", "paged_adamw_8bit", "adamw_bnb_8bit") and setup.device == "cuda":
        axes.append(
            [
                keep,
                (
                    {"optim": "adamw_8bit"},
                    "8-bit AdamW (paged_adamw_8bit holds the same on the GPU and spills to RAM instead of failing)",
                    "rounding",
                ),
            ]
        )
    if setup.dtype == "float32" and not setup.fp16:
        axes.append([keep, ({"dtype": "bfloat16", "bf16": True}, "bfloat16 weights and autocast", "rounding")])
    if not setup.lora:
        peft = [keep, ({"use_peft": True}, f"LoRA (r={setup.lora_r})", "adapters")]
        if setup.device == "cuda" and not (setup.fsdp or setup.zero_stage == 3):
            peft.append(({"use_peft": True, "load_in_4bit": True}, "QLoRA (4-bit base + LoRA)", "quantised base"))
        axes.append(peft)
    elif not setup.load_in_4bit and setup.device == "cuda" and not (setup.fsdp or setup.zero_stage == 3):
        axes.append([keep, ({"load_in_4bit": True}, "QLoRA (4-bit base)", "quantised base")])
    return axes


def _scalars(arch: Architecture, setup: TrainingSetup, usable: int) -> Iterator[Option]:
    """The changes of a number, each alone: smaller micro-batch (same global batch), shorter max_length,
    more GPUs (ZeRO-3)."""
    batch = _smaller_batch(arch, setup, usable)
    if batch:
        yield batch
    for length in _shorter_lengths(setup):
        if _fits(arch, setup.with_(max_length=length), usable):
            yield _length_option(length)
            break
    for n in _gpu_counts(setup)[1:]:
        changes = _sharded(setup, n)
        if _fits(arch, setup.with_(**changes), usable):
            yield (changes, f"ZeRO-3 over {n} GPUs", "none")
            break


def _smaller_batch(arch: Architecture, setup: TrainingSetup, usable: int) -> Option | None:
    """The largest micro-batch below the current one that fits, with the accumulation keeping the global
    batch; None when there is none."""
    if setup.per_device_train_batch_size <= 1:
        return None
    kg = keep_global_batch(arch, setup, usable)
    if kg is None or kg[0] == setup.per_device_train_batch_size:
        return None
    b, ga = kg
    changes = {"per_device_train_batch_size": b, "gradient_accumulation_steps": ga}
    return changes, f"micro-batch {b} x {ga} accumulation steps (same global batch)", "none"


def _shorter_lengths(setup: TrainingSetup) -> list[int]:
    """max_length halved, down to MIN_LENGTH (packing fills rows to max_length: not offered there)."""
    out, length = [], setup.max_length // 2
    while length >= MIN_LENGTH and not setup.packing:
        out.append(length)
        length //= 2
    return out


def _length_option(length: int) -> Option:
    return {"max_length": length}, f"max_length {length} (longer examples are cut)", "truncation"


def _gpu_counts(setup: TrainingSetup) -> list[int]:
    """The GPU counts searched: the current one, then more with ZeRO-3 (CUDA runs not already under FSDP)."""
    more = [n for n in SHARD_GPUS if n > setup.num_gpus] if setup.device == "cuda" and not setup.fsdp else []
    return [setup.num_gpus, *more]


def _sharded(setup: TrainingSetup, n: int) -> dict[str, Any]:
    return {} if n == setup.num_gpus else {"num_gpus": n, "zero_stage": 3, **_spread(setup, n)}


def _suggestion(
    arch: Architecture, base: TrainingSetup, changes: dict[str, Any], labels: list[str], cost: str, usable: int
) -> Suggestion | None:
    try:
        trial = base.with_(**changes)
    except TypeError:  # pragma: no cover - the options only name setup fields
        return None
    peak = _peak(arch, trial)
    if peak is None or peak > usable:
        return None
    return Suggestion(
        changes, " + ".join(labels), trial, peak, flops_per_update(arch, trial), QUALITY[cost], cost, trial.num_gpus
    )


def _worst(costs: list[str]) -> str:
    return max(costs, key=lambda c: QUALITY[c]) if costs else "none"


def advise(
    arch: Architecture, setup: TrainingSetup, gpu: Gpu, margin_percent: float = DEFAULT_MARGIN_PERCENT
) -> Advice:
    """Fit of `setup` on `gpu` keeping `margin_percent` free, and the changes that make it fit."""
    usable = usable_bytes(gpu, margin_percent)
    peak = estimate(arch, setup).peak_bytes
    largest = max_batch(arch, setup, usable)
    keep = keep_global_batch(arch, setup, usable)
    alone: list[Suggestion] = []
    best: list[Suggestion] = []
    if peak > usable:
        axes = _options(setup, arch)
        for axis in axes:
            for changes, label, cost in axis[1:]:
                s = _suggestion(arch, setup, changes, [label], cost, usable)
                if s is not None:
                    alone.append(s)
        for changes, label, cost in _scalars(arch, setup, usable):
            s = _suggestion(arch, setup, changes, [label], cost, usable)
            if s is not None:
                alone.append(s)
        best = best_per_gpu_count(arch, setup, axes, usable)
    return Advice(gpu, margin_percent, usable, peak, flops_per_update(arch, setup), largest, keep, alone, best)


def best_per_gpu_count(
    arch: Architecture, setup: TrainingSetup, axes: list[list[Option]], usable: int
) -> list[Suggestion]:
    """Every mix of the switches on every GPU count, each completed by the least number change it still needs
    (a smaller micro-batch, then a shorter max_length with the micro-batch it allows); the best for each GPU
    count, fewest GPUs first. A mix that fits on n GPUs is not tried on more: there it can only cost more."""
    best: dict[int, Suggestion] = {}
    for combo in itertools.product(*axes):
        switches: dict[str, Any] = {}
        for c, _, _ in combo:
            switches.update(c)
        labels = [label for _, label, _ in combo if label]
        costs = [cost for c, _, cost in combo if c]
        for n in _gpu_counts(setup):
            found = _completed(arch, setup, switches, labels, costs, n, usable)
            if found is not None:
                if found.gpus not in best or found.rank < best[found.gpus].rank:
                    best[found.gpus] = found
                break
    return [best[n] for n in sorted(best)]


def _completed(
    arch: Architecture,
    setup: TrainingSetup,
    switches: dict[str, Any],
    labels: list[str],
    costs: list[str],
    n: int,
    usable: int,
) -> Suggestion | None:
    """The switches on `n` GPUs as they are, else with a smaller micro-batch, else with the longest shorter
    max_length that fits (with a smaller micro-batch if it needs one); None when nothing fits."""
    changes = {**switches, **_sharded(setup, n)}
    if n != setup.num_gpus:
        labels, costs = [*labels, f"ZeRO-3 over {n} GPUs"], [*costs, "none"]
    trial = setup.with_(**changes)
    if changes and _fits(arch, trial, usable):
        return _suggestion(arch, setup, changes, labels, _worst(costs), usable)
    for more in [None, *_shorter_lengths(trial)]:
        extra: dict[str, Any] = {}
        extra_labels, extra_costs = list(labels), list(costs)
        if more is not None:
            extra, label, cost = _length_option(more)
            extra_labels, extra_costs = [*labels, label], [*costs, cost]
            if _fits(arch, trial.with_(**extra), usable):
                return _suggestion(arch, setup, {**changes, **extra}, extra_labels, _worst(extra_costs), usable)
        batch = _smaller_batch(arch, trial.with_(**extra), usable)
        if batch is not None:
            b_changes, b_label, b_cost = batch
            return _suggestion(
                arch,
                setup,
                {**changes, **extra, **b_changes},
                [*extra_labels, b_label],
                _worst([*extra_costs, b_cost]),
                usable,
            )
    return None
