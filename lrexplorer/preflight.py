"""What the Train page says about a run before it starts: is the spec valid, how many updates it makes,
the LR at each of them, the memory it needs per device, and what is likely to go wrong.

Pure library code (no streamlit): the page calls `preflight(form_values, facts, hardware)` and lays
out the result. The LR curve comes from the Schedules engine with the step count of `plan_steps`,
the very numbers the real Trainer uses; the memory figure comes from the Memory engine (see
`memory_check`, which degrades to "unavailable, because ..." instead of failing the page).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .hardware import Hardware
from .params import FieldError
from .runs import builtin
from .runs.spec import RunSpec
from .runs.validate import AMPERE, Facts, attention_note, resolve_attention
from .schedules import Curve, curve_for
from .steps import StepPlan, plan_for
from .units import GIB

HIGH_LR = 1e-2  # above this, Adam-family fine-tuning usually diverges


@dataclass(frozen=True)
class MemoryCheck:
    """The per-device memory estimate of a spec, or why there is none."""

    device: str  # "cuda" or "cpu": where the run will train
    capacity_bytes: int | None  # total memory of the GPU, or RAM available now for a CPU run
    capacity_label: str
    peak_bytes: int | None = None
    components: dict[str, int] = field(default_factory=dict)
    peak_phase: str | None = None
    unavailable: str | None = None  # the reason when peak_bytes is None
    assumptions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # what the estimate could not model as asked (a fallback, an unverified path)

    @property
    def fits(self) -> bool | None:
        if self.peak_bytes is None or not self.capacity_bytes:
            return None
        return self.peak_bytes <= self.capacity_bytes


@dataclass
class Preflight:
    spec: RunSpec | None
    errors: list[FieldError]
    plan: StepPlan | None = None
    curve: Curve | None = None
    plan_error: str | None = None  # why the length or the curve is unknown (a spec can still start)
    num_examples: int | None = None
    memory: MemoryCheck | None = None
    lengths: Any = None  # DatasetLengths of the training rows, or why they are unknown (str)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (error|warning|info, text)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.errors


# -- data size ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _count_lines(path: str, mtime_ns: int) -> int:
    # mtime_ns is part of the cache key only: an edited file is counted again.
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def count_examples(values: dict[str, Any]) -> int | None:
    """Training examples of a built-in or local JSONL dataset; None when only loading it would tell."""
    ref = values["dataset"]
    if values["dataset_streaming"]:
        return None
    if builtin.is_builtin(ref):
        path = builtin.dataset_files(builtin.builtin_name(ref)).get("train")
    else:
        path = str(Path(ref).expanduser()) if Path(ref).expanduser().suffix == ".jsonl" else None
    if not path or not os.path.isfile(path):
        return None
    return _count_lines(path, os.stat(path).st_mtime_ns)


# -- memory --------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def builtin_vocab_size() -> int:
    """len(tokenizer) of the bundled tokenizer, read from its JSON (no transformers import)."""
    data = json.loads((builtin.TOKENIZER_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    ids = list(data["model"]["vocab"].values()) + [t["id"] for t in data.get("added_tokens", [])]
    return max(ids) + 1


def _architecture(ref: str) -> tuple[Any, dict[str, Any]]:
    """(Architecture, config dict) of the model: built-in, a bundled preset or a local folder.

    A Hub id that is not a preset is not fetched here: the page reruns on every keystroke and must
    not wait on the network; the Memory page can fetch it.
    """
    from .memory.architecture import from_config

    if builtin.is_builtin(ref):
        config = {
            "model_type": "llama",
            **builtin.BUILTIN_MODELS[builtin.builtin_name(ref)],
            "vocab_size": builtin_vocab_size(),
        }
        return from_config(config, ref), config
    from .memory.presets import find_preset

    if find_preset(ref) is None and not Path(ref).expanduser().exists():
        raise LookupError(
            f"the estimate needs the model's config.json; {ref!r} is neither a bundled preset nor a "
            "local folder (the Memory page can fetch it from the Hub)"
        )
    from .memory.sources import resolve_model

    source = resolve_model(ref)
    return source.architecture, source.config


def _setup(values: dict[str, Any], facts: Facts, config: dict[str, Any], device: str) -> tuple[Any, tuple[str, ...]]:
    """The run's memory setup: its own values, with the attention and device the run will really use."""
    from .memory.setup import setup_from_values
    from .params.distributed import fsdp_memory_options
    from .runs.lengths import dataset_lengths

    notes: list[str] = []
    run = {**values, "attn_implementation": resolve_attention(values, facts), "device": device}
    processes, preset = values["num_processes"], values["deepspeed"]
    # One process per GPU, sharded by FSDP (with its fsdp_config options) or a ZeRO stage; DeepSpeed shards
    # CPU processes too.
    if device == "cuda" or preset:
        run.update(num_gpus=processes, zero_stage=int(preset[4]) if preset else 0, fsdp=values["fsdp"])
        if values["fsdp"]:
            run.update(fsdp_memory_options(values["fsdp_config"] or {}))
        if device == "cpu":
            notes.append(f"one of the {processes} CPU processes, DeepSpeed {preset} sharding the states among them")
    elif processes > 1:
        notes.append(f"one of the {processes} CPU processes: each holds a whole copy, {processes} times this in all")
    setup = setup_from_values(run, config, notes)
    lengths = dataset_lengths(values)
    if isinstance(lengths, str):
        notes.append(
            f"every sequence {setup.max_length} tokens long, the worst case: batches are padded to their longest "
            f"example and the dataset's lengths are unknown ({lengths})"
        )
        return setup, tuple(notes)
    setup = setup.with_(longest_example=lengths.longest)
    if setup.packing:
        notes.append(f"every row {setup.max_length:,} tokens long: packing fills each row to max_length")
    else:
        cut = " (cut to max_length)" if setup.example_length < lengths.longest else ""
        notes.append(
            f"every sequence {setup.example_length:,} tokens long{cut}: batches are padded to their longest "
            f"example, and that is {lengths.describe()}"
        )
    return setup, tuple(notes)


def _capacity(hw: Hardware | None, device: str) -> tuple[int | None, str]:
    if hw is None:
        return None, "unknown"
    if device == "cuda":
        if not hw.gpus:
            return None, "the GPU"
        gpu = hw.gpus[0]
        return gpu.total_bytes, f"GPU {gpu.index} ({gpu.name}, {gpu.total_gib:.1f} GiB)"
    return hw.cpu.available_ram_bytes, f"RAM available now ({hw.cpu.available_ram_bytes / GIB:.1f} GiB)"


def memory_check(values: dict[str, Any], facts: Facts, hw: Hardware | None) -> MemoryCheck:
    """Per-device peak memory of one training step for this spec; never raises."""
    device = "cpu" if facts.on_cpu(values["use_cpu"]) else "cuda"
    capacity, label = _capacity(hw, device)
    try:
        from .memory.estimate import estimate

        arch, config = _architecture(values["model"])
        setup, notes = _setup(values, facts, config, device)
        result = estimate(arch, setup)
        return MemoryCheck(
            device,
            capacity,
            label,
            peak_bytes=int(result.peak_bytes),
            components=dict(result.components),
            peak_phase=result.peak_phase,
            assumptions=(
                "the step of TRL's SFTTrainer, which the run executes (its fused LM head, no full logits)",
                *notes,
            ),
            warnings=tuple(result.notes),
        )
    except Exception as exc:  # noqa: BLE001 - an estimate is advice: say why it is missing, never fail the form
        return MemoryCheck(
            device,
            capacity,
            label,
            unavailable=f"{type(exc).__name__}: {exc}" if not isinstance(exc, LookupError) else str(exc),
        )


# -- warnings ------------------------------------------------------------------------------------------------
def run_warnings(
    values: dict[str, Any], facts: Facts, plan: StepPlan | None, curve: Curve | None, memory: MemoryCheck | None
) -> list[tuple[str, str]]:
    """(level, text) for what is likely to surprise: will not fit, LR 0 at the first update, ..."""
    out: list[tuple[str, str]] = []
    on_cpu = facts.on_cpu(values["use_cpu"])
    cap = facts.first_capability
    peak = memory.peak_bytes if memory is not None else None
    capacity = memory.capacity_bytes if memory is not None else None
    if memory is not None and peak is not None and capacity and peak > capacity:
        out.append(
            (
                "error",
                (
                    f"Will not fit: the estimated peak is {peak / GIB:.2f} GiB per device but "
                    f"{memory.capacity_label} holds {capacity / GIB:.2f} GiB. Lower "
                    "per_device_train_batch_size or max_length, or turn on activation_checkpointing, an 8-bit "
                    "optim, bf16 or use_peft."
                ),
            )
        )
    elif memory is not None and peak is not None and capacity and peak > 0.9 * capacity:
        out.append(
            (
                "warning",
                (
                    f"Tight: the estimated peak ({peak / GIB:.2f} GiB) is over 90% of "
                    f"{memory.capacity_label}; fragmentation may still run it out of memory."
                ),
            )
        )
    if curve is not None and curve.lr.size and curve.lr[0] == 0:
        out.append(
            (
                "warning",
                (
                    "The first update uses LR 0: warmup starts at 0, so update 0 only fills Adam's "
                    "moment estimates and leaves the weights unchanged."
                ),
            )
        )
    if plan is not None:
        if plan.warmup_steps >= plan.total_steps:
            out.append(
                (
                    "warning",
                    (
                        f"Warmup ({plan.warmup_steps} updates) is as long as the run ({plan.total_steps} "
                        "updates): the LR never reaches learning_rate. Lower warmup_steps (a value below 1 "
                        "is a fraction of the run)."
                    ),
                )
            )
        elif plan.warmup_steps > plan.total_steps / 2:
            out.append(
                ("info", f"Warmup takes {plan.warmup_steps} of {plan.total_steps} updates: more than half the run.")
            )
        if (
            values["logging_strategy"] == "steps"
            and values["logging_steps"] >= 1
            and values["logging_steps"] > plan.total_steps
        ):
            out.append(
                (
                    "warning",
                    (
                        f"logging_steps ({values['logging_steps']:g}) exceeds the run's {plan.total_steps} "
                        "updates: nothing will be logged, so the charts stay empty."
                    ),
                )
            )
    if values["logging_strategy"] == "no":
        out.append(("warning", "logging_strategy is no: no metrics are written, so the live charts stay empty."))
    if values["fp16"] and not on_cpu and cap is not None and cap >= AMPERE:
        out.append(
            (
                "warning",
                (
                    f"fp16 on a GPU with bfloat16 (compute capability {cap[0]}.{cap[1]}): bf16 has "
                    "float32's range and needs no loss scaling; prefer bf16."
                ),
            )
        )
    half = values["bf16"] or values["fp16"] or values["dtype"] in ("bfloat16", "float16")
    out.append(("info", attention_note(values, facts)))
    if values["attn_implementation"] == "eager":
        out.append(
            (
                "info",
                (
                    "eager attention keeps the full attention matrix (batch x heads x length²) for the backward "
                    "pass; sdpa computes the same result with far less memory."
                ),
            )
        )
    if not on_cpu and cap is not None and cap >= AMPERE and not half:
        out.append(
            (
                "info",
                (
                    "This GPU supports bf16: mixed precision would roughly halve activation memory and speed "
                    "up training."
                ),
            )
        )
    if values["learning_rate"] > HIGH_LR and values["optim"] != "sgd":
        out.append(
            (
                "warning",
                (
                    f"learning_rate {values['learning_rate']:g} is high for fine-tuning with "
                    f"{values['optim']}; the loss may diverge (nan)."
                ),
            )
        )
    if values["max_steps"] > 0 and values["num_train_epochs"] != 1.0:
        out.append(("info", "max_steps is set, so num_train_epochs is ignored."))
    if values["max_grad_norm"] == 0:
        out.append(("info", "max_grad_norm is 0: gradients are not clipped."))
    return out


def preflight(given: dict[str, Any], facts: Facts, hw: Hardware | None = None) -> Preflight:
    """Validate the form's values and compute everything the page shows before Start."""
    try:
        spec = RunSpec.from_dict(given, facts)
    except FieldError as exc:
        return Preflight(spec=None, errors=list(exc.errors))
    from .runs.sources import check_sources

    result = Preflight(spec=spec, errors=check_sources(spec.values, probe_hub=False))
    values = spec.values
    try:
        result.num_examples = count_examples(values)
        # The Trainer's step counts: each of the num_processes ranks takes its share of the batches.
        result.plan = plan_for(values, num_examples=result.num_examples, world_size=values["num_processes"])
        result.curve = curve_for(values, result.plan.total_steps, result.plan.warmup_steps)
    except FieldError as exc:
        if result.plan is None and values["max_steps"] < 1 and result.num_examples is None:
            result.plan_error = (
                "The number of updates depends on the dataset's size, known once it is loaded; set "
                "max_steps to see the LR curve now."
            )
        else:
            result.plan_error = str(exc)
    except OSError as exc:
        result.plan_error = f"cannot read the dataset to count its examples: {exc}"
    from .runs.lengths import dataset_lengths

    result.lengths = dataset_lengths(values)  # cached: memory_check pads to its longest
    result.memory = memory_check(values, facts, hw)
    result.warnings = run_warnings(values, facts, result.plan, result.curve, result.memory)
    result.warnings += [("info", note) for note in spec.notes]
    return result
