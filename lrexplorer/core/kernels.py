"""The attention kernels transformers can load a model with, and what each needs to run.

`attn_implementation` takes one of these names. eager and sdpa run everywhere; the flash kernels
come from separate packages and run on NVIDIA GPUs only, in 16-bit precision. transformers checks
the package by its distribution name (flash-attn 2 and 4 both install the module `flash_attn`), so
we do the same. The minimum compute capabilities are transformers' own for versions 3 and 4
(`FLASH_ATTENTION_COMPATIBILITY_MATRIX`, tested against it) and flash-attn 2's documented Ampere floor.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Kernel:
    name: str
    what: str
    distribution: str | None = None  # the package that provides it (None: torch itself)
    module: str | None = None  # the module that package installs
    min_capability: tuple[int, int] | None = None  # CUDA only when set
    install: str = ""

    @property
    def flash(self) -> bool:
        return self.distribution is not None


KERNELS: dict[str, Kernel] = {
    "eager": Kernel("eager", "plain PyTorch matmul and softmax; keeps the full seq x seq score matrix"),
    "sdpa": Kernel(
        "sdpa",
        "torch's scaled_dot_product_attention; torch picks its flash, memory-efficient, cuDNN or math backend per call",
    ),
    "flash_attention_2": Kernel(
        "flash_attention_2",
        "the flash-attn 2 package (Ampere or newer)",
        "flash-attn",
        "flash_attn",
        (8, 0),
        "pip install flash-attn (compiles CUDA code: needs nvcc and a long build)",
    ),
    "flash_attention_3": Kernel(
        "flash_attention_3",
        "the flash-attn 3 package (written for Hopper)",
        "flash-attn-3",
        "flash_attn_interface",
        (8, 0),
        "build flash-attn 3 from the flash-attention repository's hopper/ folder",
    ),
    "flash_attention_4": Kernel(
        "flash_attention_4",
        "the flash-attn-4 package: a CuTe-DSL build for Hopper and Blackwell that installs without compiling",
        "flash-attn-4",
        "flash_attn",
        (9, 0),
        "pip install --pre flash-attn-4",
    ),
}
FLASH = tuple(name for name, k in KERNELS.items() if k.flash)
# auto prefers the newest kernel that can run: 4 then 3 then 2, else sdpa.
PREFERENCE = ("flash_attention_4", "flash_attention_3", "flash_attention_2")


def is_flash(name: str | None) -> bool:
    return name in FLASH


@lru_cache(maxsize=1)
def installed_flash_kernels() -> frozenset[str]:
    """The flash kernels whose package is installed here (by distribution name, as transformers checks)."""
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    found = set()
    for kernel in KERNELS.values():
        if kernel.module is None or importlib.util.find_spec(kernel.module) is None:
            continue
        names = {d.lower().replace("_", "-") for d in owners.get(kernel.module, [])}
        if kernel.distribution in names:
            found.add(kernel.name)
    return frozenset(found)


def kernel_problem(
    name: str, installed: frozenset[str], capability: tuple[int, int] | None, half: bool, where: str
) -> str | None:
    """Why kernel `name` cannot run: its package, the device (`capability` None: the CPU), the precision.

    `where` describes the device for the message ("this machine trains on the CPU", "the GPU has ...")."""
    kernel = KERNELS[name]
    if not kernel.flash:
        return None
    if name not in installed:
        return f"{name} needs the {kernel.distribution} package, which is not installed ({kernel.install})"
    need = kernel.min_capability or (0, 0)
    if capability is None or capability < need:
        return f"{name} needs a CUDA GPU of compute capability >= {need[0]}.{need[1]} and {where}"
    if not half:
        return f"{name} runs only in bfloat16 or float16: set dtype to float16/bfloat16 or turn on bf16/fp16"
    return None


def best_flash(installed: frozenset[str], capability: tuple[int, int] | None, half: bool) -> str | None:
    """The flash kernel auto picks, or None when none can run."""
    for name in PREFERENCE:
        if kernel_problem(name, installed, capability, half, "") is None:
            return name
    return None


def sdpa_backend(capability: tuple[int, int] | None, half: bool, padded: bool) -> str:
    """The SDPA backend torch will pick for a training batch, and when.

    On the CPU torch 2.x runs its flash kernel for CPU with or without a mask. On CUDA its flash backend
    needs 16-bit inputs, compute capability >= 8.0 and no explicit mask: a batch with padding (or a packed
    row, whose block-diagonal mask transformers builds) gets the memory-efficient backend instead."""
    if capability is None:
        return "flash (the CPU kernel)"
    if not half:
        return "memory-efficient (flash needs float16/bfloat16)"
    if capability < (8, 0):
        return "memory-efficient (flash needs compute capability >= 8.0)"
    if padded:
        return "memory-efficient while batches carry a padding mask; flash for rows without one"
    return "flash"
