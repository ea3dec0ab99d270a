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
