"""The facts about this machine that the rules and the worker read: its GPUs' compute capabilities, whether
its CPU has bfloat16, which kernels and packages are installed, how many cores it has.

`Facts` can be built by hand, so the Train page can check a spec for another machine and tests can pose
as a GPU this machine lacks; `detect_facts` reads this one (NVML, or torch inside the worker).
"""

from __future__ import annotations

import importlib.util
import os
import platform
from dataclasses import dataclass, field

from lrexplorer.core.kernels import installed_flash_kernels

AMPERE = (8, 0)  # bf16 tensor cores, TF32 and flash-attention 2 start at compute capability 8.0


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about the machine that will train."""

    gpu_capabilities: tuple[tuple[int, int], ...]  # one per visible CUDA GPU, in torch's order
    cpu_bf16: bool  # the CPU has bfloat16 instructions (avx512_bf16 / amx_bf16 / arm bf16)
    flash_attn: bool  # the flash-attn (2) package is installed
    flash_kernels: frozenset[str] = frozenset()  # flash_attention_3 / _4 whose packages are installed
    deepspeed: bool = False  # the deepspeed package is importable
    cpu_cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Whether bitsandbytes is importable: this machine's answer unless a test poses as another one.
    bitsandbytes: bool = field(default_factory=lambda: _installed("bitsandbytes"))

    @property
    def installed_kernels(self) -> frozenset[str]:
        return self.flash_kernels | ({"flash_attention_2"} if self.flash_attn else set())

    def on_cpu(self, use_cpu: bool) -> bool:
        return use_cpu or not self.gpu_capabilities

    @property
    def first_capability(self) -> tuple[int, int] | None:
        return self.gpu_capabilities[0] if self.gpu_capabilities else None

    def lock_name(self, use_cpu: bool) -> str:
        """One run per device: `cpu`, or the first visible GPU (the first of the run's GPUs)."""
        return self.lock_names(use_cpu, 1)[0]

    def lock_names(self, use_cpu: bool, num_processes: int) -> list[str]:
        """The devices a run of `num_processes` holds: `cpu` (all CPU processes share it), else one GPU
        per process, the first visible ones."""
        if self.on_cpu(use_cpu):
            return ["cpu"]
        visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        ids = visible or [str(i) for i in range(max(num_processes, 1))]
        return [f"gpu{i}" for i in ids[: max(num_processes, 1)]]


def cpu_has_bf16() -> bool:
    if platform.system() != "Linux":
        return True  # no cheap way to ask; transformers' own checks still run in the worker
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return True
    flags = set(text.replace("\n", " ").split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def detect_facts(use_torch: bool = False) -> Facts:
    """This machine. With `use_torch` (in the worker) CUDA is asked through torch; else through NVML."""
    if use_torch:
        import torch

        caps = (
            tuple(torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count()))
            if torch.cuda.is_available()
            else ()
        )
    else:
        from lrexplorer.core.hardware import detect_gpus

        gpus = detect_gpus()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            wanted = [int(x) for x in visible.split(",") if x.strip().isdigit()]
            gpus = [g for i in wanted for g in gpus if g.index == i]
        caps = tuple(g.compute_capability or (0, 0) for g in gpus)
    kernels = installed_flash_kernels()
    return Facts(
        gpu_capabilities=caps,
        cpu_bf16=cpu_has_bf16(),
        flash_attn="flash_attention_2" in kernels,
        flash_kernels=kernels - {"flash_attention_2"},
        deepspeed=_installed("deepspeed"),
    )
