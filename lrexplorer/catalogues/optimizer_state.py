"""Optimizer memory arithmetic: the state an optimizer keeps per trainable tensor, and what its step
allocates on top of weights, gradients and state. Which optimizer uses which model is the registry's
business (`lrexplorer.catalogues.optimizers`); this module only counts bytes. Pure Python: no torch.

Each model was read off the installed implementation and is checked against the real optimizer's
tensors and a real step (tests/catalogues/test_optimizers.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

BNB_MIN_8BIT_SIZE = 4096  # bitsandbytes' min_8bit_size: smaller tensors keep float32 state
BNB_BLOCK = 256  # values per float32 absmax scale in bitsandbytes' blockwise 8-bit state
BNB_QMAP = 256 * 4  # one 256-entry float32 quantisation map, shared by every 8-bit tensor


@dataclass(frozen=True)
class Tensor:
    """One trainable parameter tensor: its shape (2-D for matrices) and whether it is an embedding."""

    rows: int
    cols: int = 1
    embedding: bool = False
    decay: bool = True  # in the Trainer's weight-decay group (matrices) or not (norms, biases)

    @property
    def numel(self) -> int:
        return self.rows * self.cols

    @property
    def matrix(self) -> bool:
        return self.cols > 1


# ---------------------------------------------------------------------------------------------- state
class StateModel(Protocol):
    """Optimizer state: its bytes for a list of tensors, which tensors it keeps in 8 bits, and its
    nominal bytes per parameter (the large tensors' rate, block scales and counters left out)."""

    def bytes(self, tensors: list[Tensor], e_param: int, device: str) -> int: ...

    def eight_bit(self, t: Tensor) -> bool: ...

    def bytes_per_param(self, e_param: int) -> int: ...


@dataclass(frozen=True)
class Moments:
    """`count` state tensors the size of the parameter: in its dtype (torch) or in float32 (bitsandbytes'
    32-bit state). torch keeps a 0-dim float32 `step` per tensor: on the device when fused ("device"),
    otherwise on the CPU ("host", so it costs no GPU memory); bitsandbytes counts steps in a Python int."""

    count: int
    float32: bool = False
    step: str = "none"  # "device", "host" or "none"

    def bytes(self, tensors: list[Tensor], e_param: int, device: str) -> int:
        e = 4 if self.float32 else e_param
        step = 4 if self.step == "device" or (self.step == "host" and device == "cpu") else 0
        return sum(self.count * t.numel * e + step for t in tensors)

    def eight_bit(self, t: Tensor) -> bool:
        return False

    def bytes_per_param(self, e_param: int) -> int:
        return self.count * (4 if self.float32 else e_param)


@dataclass(frozen=True)
class Blockwise8bit:
    """bitsandbytes' 8-bit state: `count` uint8 moments plus a float32 absmax per 256 values each, for
    tensors of at least 4096 values. Smaller tensors, and the embeddings (the Trainer registers a 32-bit
    override for every nn.Embedding), keep `count` float32 moments. The `qmaps` quantisation maps are
    stored in the state of the 8-bit tensors, once (they share one storage)."""

    count: int
    qmaps: int

    def eight_bit(self, t: Tensor) -> bool:
        return not t.embedding and t.numel >= BNB_MIN_8BIT_SIZE

    def bytes(self, tensors: list[Tensor], e_param: int, device: str) -> int:
        total = 0
        for t in tensors:
            if self.eight_bit(t):
                total += self.count * (t.numel + 4 * math.ceil(t.numel / BNB_BLOCK))
            else:
                total += self.count * 4 * t.numel
        return total + (self.qmaps * BNB_QMAP if any(map(self.eight_bit, tensors)) else 0)

    def bytes_per_param(self, e_param: int) -> int:
        return self.count


@dataclass(frozen=True)
class Factored:
    """transformers' Adafactor without a first moment: a row and a column vector per matrix, a full
    second moment for vectors, in float32 (made from the gradient upcast to float32), plus a 0-dim RMS."""

    def bytes(self, tensors: list[Tensor], e_param: int, device: str) -> int:
        return sum(((t.rows + t.cols) if t.matrix else t.numel) * 4 + 4 for t in tensors)

    def eight_bit(self, t: Tensor) -> bool:
        return False

    def bytes_per_param(self, e_param: int) -> int:
        return 0  # a row and a column per matrix: next to nothing per parameter


# ------------------------------------------------------------------------------------- temporaries
class TemporaryModel(Protocol):
    def peak(self, tensors: list[Tensor], e_param: int, state: StateModel) -> int: ...


@dataclass(frozen=True)
class InPlace:
    """One kernel that updates in place (fused AdamW, plain SGD, bitsandbytes on CUDA)."""

    def peak(self, tensors: list[Tensor], e_param: int, state: StateModel) -> int:
        return 0


@dataclass(frozen=True)
class TensorLoop:
    """torch's single-tensor loop (its default off CUDA): `copies` temporaries of each tensor in the
    parameter's dtype, the last of which (AdamW's denom, Adagrad's std, RMSprop's avg) stays bound until
    the next tensor's is made. One loop per param group."""

    copies: int

    def peak(self, tensors: list[Tensor], e_param: int, state: StateModel) -> int:
        return e_param * max(_loop_peak(sizes, self.copies) for sizes in _groups(tensors))


@dataclass(frozen=True)
class GroupForeach:
    """torch's foreach path (its default on CUDA): `copies` temporaries of a whole param group at once."""

    copies: int

    def peak(self, tensors: list[Tensor], e_param: int, state: StateModel) -> int:
        return e_param * self.copies * max(sum(sizes) for sizes in _groups(tensors))


@dataclass(frozen=True)
class AdafactorLoop:
    """Per tensor, in float32: grad**2 and + eps coexist (later the update and its negation); a 16-bit
    parameter adds float32 copies of its gradient and of itself. The previous tensor's float32 update
    is still referenced while the next one starts."""

    def peak(self, tensors: list[Tensor], e_param: int, state: StateModel) -> int:
        copies = 2 + (2 if e_param != 4 else 0)
        return 4 * max(_loop_peak(sizes, copies) for sizes in _groups(tensors))


@dataclass(frozen=True)
class BnbCpuKernel:
    """bitsandbytes' CPU update, written with torch ops, one tensor at a time (everything is freed when
    it returns). In float32 copies of the tensor: the gradient times its scale, the parameter upcast
    (16-bit parameters only), the 8-bit moments dequantised, and the kernel's own intermediates at their
    busiest line: `extra_32bit` in the float32-state kernel, `extra_8bit` in the blockwise one."""

    extra_32bit: int
    extra_8bit: int = 0
    moments: int = 0  # moments the 8-bit kernel dequantises

    def peak(self, tensors: list[Tensor], e_param: int, state: StateModel) -> int:
        upcast = 1 if e_param != 4 else 0
        best = 0
        for t in tensors:
            own = self.moments + self.extra_8bit if state.eight_bit(t) else self.extra_32bit
            best = max(best, 4 * t.numel * (1 + upcast + own))
        return best


def _groups(tensors: list[Tensor]) -> list[list[int]]:
    """Tensor sizes per param group, in the Trainer's order: the weight-decay group, then the rest."""
    return [[t.numel for t in tensors if t.decay], [t.numel for t in tensors if not t.decay]]


def _loop_peak(sizes: list[int], copies: int) -> int:
    """A per-tensor loop whose last temporary outlives its iteration: the previous tensor's one, plus
    `copies` of the current tensor's."""
    best, prev = 0, 0
    for n in sizes:
        best = max(best, prev + copies * n)
        prev = n
    return best
