"""The result of a measured or simulated step (light: no torch), shared by the engines and the reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Progress = Callable[[str, float], None]  # (what is happening, fraction done)


@dataclass
class StepMemory:
    """Bytes of one steady-state step, as measured or simulated."""

    engine: str  # "measured" or "simulated"
    device: str
    peak_bytes: int
    phase_peaks: dict[str, int]  # forward, backward, optimizer_step
    weights: int
    gradients: int
    optimizer_states: int
    activations: int
    n_params: int
    trainable_params: int
    seconds: float
    notes: list[str] = field(default_factory=list)  # what the figure does not cover

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RankStep:
    """Bytes one rank (GPU) of a data-parallel step holds, as simulated or estimated.

    `weights`, `gradients` and `optimizer_states` are what the rank keeps on its GPU (zero when offloaded);
    `at_peak` the GPU's bytes by kind at the peak (FSDPMemTracker's kinds); `host_bytes` the CPU RAM the
    rank needs for what is offloaded (0 without offload)."""

    engine: str
    scheme: str  # "fsdp", "ddp", "zero1", "zero2", "zero3"
    world_size: int
    peak_bytes: int
    peak_phase: str
    phase_peaks: dict[str, int]
    weights: int
    gradients: int
    optimizer_states: int
    at_peak: dict[str, int]
    phase_kinds: dict[str, dict[str, int]]  # the GPU's bytes by kind at each phase's peak
    host_bytes: int
    n_params: int
    trainable_params: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GenerateCall:
    """Bytes of one real `model.generate` call as measured (`memory/pytorch/measure_generate.py`)."""

    engine: str
    device: str
    peak_bytes: int  # weights + the caller's prompt + the largest count during the call
    weights: int
    prompt_bytes: int  # the caller's input_ids and attention_mask
    phase_peaks: dict[str, int]  # prefill, decode (on the CPU)
    peak_phase: str  # "prefill" or "decode step k" (on the CPU)
    peak_op: str  # the aten op after which the peak was counted (on the CPU)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
