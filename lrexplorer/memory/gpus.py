"""Target GPUs: the ones NVML detects, or picks from the bundled catalogue, and whether a peak fits.

Detection is `lrexplorer.core.hardware` (NVML, no torch, no CUDA context). Without an NVIDIA GPU the
user picks targets from `assets/gpus.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lrexplorer.core.facts import AMPERE
from lrexplorer.core.fields import FieldError
from lrexplorer.core.kernels import KERNELS, is_flash
from lrexplorer.core.resources import ASSETS
from lrexplorer.core.units import GIB
from lrexplorer.memory.setup import TrainingSetup

CATALOGUE_PATH = ASSETS / "gpus.json"


@dataclass(frozen=True)
class Gpu:
    name: str
    total_bytes: int
    compute_capability: tuple[int, int] | None
    detected: bool = False
    free_bytes: int | None = None

    @property
    def bf16(self) -> bool | None:
        return None if self.compute_capability is None else self.compute_capability >= AMPERE


@dataclass(frozen=True)
class Fit:
    gpu: Gpu
    peak_bytes: int

    @property
    def headroom_bytes(self) -> int:
        return self.gpu.total_bytes - self.peak_bytes

    @property
    def fits(self) -> bool:
        return self.headroom_bytes >= 0

    def problems(self, setup: TrainingSetup, attention: str) -> list[str]:
        """Settings this GPU cannot run, whatever the memory."""
        out = []
        if self.gpu.bf16 is False and (setup.bf16 or setup.dtype == "bfloat16"):
            out.append("no bfloat16 (compute capability below 8.0)")
        need = KERNELS[attention].min_capability if is_flash(attention) else None
        cap = self.gpu.compute_capability
        if need is not None and cap is not None and tuple(cap) < need:
            out.append(f"no {attention} (compute capability below {need[0]}.{need[1]})")
        return out

    def to_dict(self, setup: TrainingSetup | None = None, attention: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.gpu.name,
            "total_bytes": self.gpu.total_bytes,
            "fits": self.fits,
            "headroom_bytes": self.headroom_bytes,
        }
        if setup is not None:
            problems = self.problems(setup, attention)
            if problems:
                # A GPU that cannot run the setup does not fit it, however much memory it has left.
                out.update(fits=False, fits_memory=self.fits, unsupported=problems)
        return out


@lru_cache(maxsize=1)
def catalogue() -> tuple[Gpu, ...]:
    data = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))
    return tuple(Gpu(g["name"], int(g["memory_gib"] * GIB), tuple(g["compute_capability"])) for g in data["gpus"])


def catalogue_names() -> list[str]:
    return [g.name for g in catalogue()]


def find_gpu(text: str) -> Gpu:
    """A catalogue GPU by name, case-insensitive, 'NVIDIA ' optional; a unique part of a name works."""
    key = text.strip().lower().removeprefix("nvidia ").removeprefix("geforce ")
    names = {g.name.lower().removeprefix("nvidia ").removeprefix("geforce "): g for g in catalogue()}
    if key in names:
        return names[key]
    matches = [g for n, g in names.items() if key and key in n]
    if len(matches) == 1:
        return matches[0]
    raise FieldError(
        "gpu",
        f"{text!r} is {'ambiguous' if matches else 'not in the catalogue'}; choose one of: "
        f"{', '.join(catalogue_names())} (or auto)",
    )


def detected_gpus() -> list[Gpu]:
    """The NVIDIA GPUs of this machine ([] without any or without the driver)."""
    try:
        from lrexplorer.core.hardware import detect_gpus
    except ImportError:  # pragma: no cover - hardware.py is part of the package
        return []
    return [
        Gpu(g.name, g.total_bytes, g.compute_capability, detected=True, free_bytes=g.free_bytes) for g in detect_gpus()
    ]


def resolve_gpus(spec: str) -> tuple[list[Gpu], str | None]:
    """`auto`: the detected GPUs, or the whole catalogue with a note when there are none;
    otherwise comma-separated catalogue names."""
    if spec.strip().lower() in ("", "auto"):
        found = detected_gpus()
        if found:
            return found, None
        return list(catalogue()), "no NVIDIA GPU detected: showing the catalogue (choose with --gpu NAME)"
    return [find_gpu(part) for part in spec.split(",") if part.strip()], None
