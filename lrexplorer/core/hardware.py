"""The machine the app runs on: NVIDIA GPUs through NVML, CPU and RAM through psutil.

NVML is read instead of torch.cuda so that the sidebar does not import torch at start-up and
does not create a CUDA context (which costs GPU memory) just to list the cards.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Any

import psutil

from lrexplorer.core.units import GIB


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    total_bytes: int
    free_bytes: int
    compute_capability: tuple[int, int] | None
    driver: str | None

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    @property
    def free_gib(self) -> float:
        return self.free_bytes / GIB


@dataclass(frozen=True)
class CpuInfo:
    model: str
    logical_cores: int
    physical_cores: int | None
    total_ram_bytes: int
    available_ram_bytes: int


@dataclass(frozen=True)
class Hardware:
    gpus: list[GpuInfo]
    cpu: CpuInfo


def detect_gpus() -> list[GpuInfo]:
    """All NVIDIA GPUs NVML reports; [] without the driver, the library or any card."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...: no usable NVIDIA GPU
        return []
    try:
        driver = _text(_safe(pynvml.nvmlSystemGetDriverVersion))
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            cc = _safe(pynvml.nvmlDeviceGetCudaComputeCapability, handle)
            gpus.append(
                GpuInfo(
                    index=i,
                    name=_text(pynvml.nvmlDeviceGetName(handle)) or f"GPU {i}",
                    total_bytes=int(mem.total),
                    free_bytes=int(mem.free),
                    compute_capability=tuple(cc) if cc else None,
                    driver=driver,
                )
            )
        return gpus
    except Exception:  # noqa: BLE001 - any NVML failure means: no GPU we can describe
        return []
    finally:
        _safe(pynvml.nvmlShutdown)


def detect_cpu() -> CpuInfo:
    mem = psutil.virtual_memory()
    return CpuInfo(
        model=_cpu_model(),
        logical_cores=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        physical_cores=psutil.cpu_count(logical=False),
        total_ram_bytes=int(mem.total),
        available_ram_bytes=int(mem.available),
    )


def detect() -> Hardware:
    return Hardware(gpus=detect_gpus(), cpu=detect_cpu())


def _cpu_model() -> str:
    # platform.processor() is empty on most Linux systems; /proc/cpuinfo has the marketing name.
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _safe(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - one unreadable NVML field must not hide the GPU
        return None


def _text(value: object) -> str | None:
    # Older NVML bindings return bytes, newer ones str.
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return None if value is None else str(value)
