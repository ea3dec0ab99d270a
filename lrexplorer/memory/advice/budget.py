"""A GPU's memory budget: what the safety margin leaves usable, and the largest value of a setting that fits
it (a binary search over a setting whose fit turns false once and stays so). The training advisor and the
generation fit both answer with these."""

from __future__ import annotations

from collections.abc import Callable

from lrexplorer.core.fields import FieldError
from lrexplorer.memory.gpus import Gpu

DEFAULT_MARGIN_PERCENT = 10.0
MAX_MARGIN_PERCENT = 50.0
MARGIN_HELP = (
    "share of the GPU's memory kept free beyond the estimate: the estimate counts the tensors the allocator "
    "hands out (max_memory_allocated) plus a typical CUDA context; PyTorch's caching allocator reserves more "
    "than it hands out (fragmentation), and the CUDA context varies with driver and libraries"
)


def check_margin(percent: float) -> float:
    if not 0 <= percent <= MAX_MARGIN_PERCENT:
        raise FieldError("margin", f"must be a percentage from 0 to {MAX_MARGIN_PERCENT:g}; got {percent:g}")
    return percent


def usable_bytes(gpu: Gpu, margin_percent: float) -> int:
    return int(gpu.total_bytes * (1 - check_margin(margin_percent) / 100))


def largest(fits: Callable[[int], bool], limit: int) -> int:
    """The largest n in 1..limit with fits(n), for a fits() that turns False once and stays so (0: none)."""
    if limit < 1 or not fits(1):
        return 0
    lo, hi = 1, 2
    while hi <= limit and fits(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo
