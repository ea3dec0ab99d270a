"""What a run spec will need, known before it starts: its training examples and its memory per device.

The Train page's pre-flight (`frontend/preflight.py`), the worker's out-of-memory message and the peak record
of a run (`runs/folder/peak.py`) all read the one estimate made here. `memory_check` never raises: an
estimate is advice, and it says why it is missing instead of failing the form or the run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lrexplorer.catalogues import builtin
from lrexplorer.core.facts import Facts
from lrexplorer.core.hardware import Hardware
from lrexplorer.core.units import GIB
from lrexplorer.rules.attention import resolve_attention


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
    from lrexplorer.catalogues.architecture import from_config

    if builtin.is_builtin(ref):
        config = {
            "model_type": "llama",
            **builtin.BUILTIN_MODELS[builtin.builtin_name(ref)],
            "vocab_size": builtin_vocab_size(),
        }
        return from_config(config, ref), config
    from lrexplorer.catalogues.presets import find_preset

    if find_preset(ref) is None and not Path(ref).expanduser().exists():
        raise LookupError(
            f"the estimate needs the model's config.json; {ref!r} is neither a bundled preset nor a "
            "local folder (the Memory page can fetch it from the Hub)"
        )
    from lrexplorer.memory.model_source import resolve_model

    source = resolve_model(ref)
    return source.architecture, source.config


def _setup(values: dict[str, Any], facts: Facts, config: dict[str, Any], device: str) -> tuple[Any, tuple[str, ...]]:
    """The run's memory setup: its own values, with the attention and device the run will really use."""
    from lrexplorer.catalogues.params.distributed import fsdp_memory_options
    from lrexplorer.memory.setup import setup_from_values
    from lrexplorer.runs.training.lengths import dataset_lengths

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
        from lrexplorer.memory.analytic.estimate import estimate

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
