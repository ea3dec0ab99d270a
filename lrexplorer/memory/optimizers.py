"""Optimizer memory: the state each optimizer keeps per trainable tensor, and the temporaries of its step.

The Trainer's optimizers (Trainer.get_optimizer_cls_and_kwargs):
- adamw_torch: torch AdamW, exp_avg and exp_avg_sq in the parameter's dtype plus a float32 `step`
  per tensor. On CUDA it runs the foreach path, whose step allocates sqrt(exp_avg_sq) for a whole
  param group at once; on the CPU (no foreach kernels) it loops, and each tensor's `denom` lives
  until the next tensor's sqrt and division are done.
- adamw_torch_fused: same state, one fused kernel, no step temporaries.
- adamw_8bit / adamw_bnb_8bit / paged_adamw_8bit: bitsandbytes AdamW with 8-bit blockwise state
  (1 byte + a float32 scale per 256 values, for each moment) for tensors of at least 4096 values;
  smaller tensors, and the embeddings (the Trainer registers a 32-bit override for nn.Embedding),
  keep float32 state.
- adafactor: transformers Adafactor without first moment: a row and a column vector per matrix,
  a full second moment for vectors, float32 (built from the upcast gradient), plus a 0-dim RMS.
- sgd: plain SGD (no momentum): no state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BNB_MIN_8BIT_SIZE = 4096
BNB_BLOCK = 256
BNB_QMAPS = 2 * 256 * 4  # the two shared quantisation maps (float32, 256 entries each)


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


def state_bytes(optim: str, tensors: list[Tensor], e_param: int) -> int:
    if optim in ("adamw_torch", "adamw_torch_fused"):
        return sum(2 * t.numel * e_param + 4 for t in tensors)
    if optim in ("adamw_8bit", "adamw_bnb_8bit", "paged_adamw_8bit"):
        total, any_8bit = 0, False
        for t in tensors:
            if t.embedding or t.numel < BNB_MIN_8BIT_SIZE:
                total += 2 * 4 * t.numel
            else:
                total += 2 * (t.numel + 4 * math.ceil(t.numel / BNB_BLOCK))
                any_8bit = True
        return total + (BNB_QMAPS if any_8bit else 0)  # the maps are stored only beside 8-bit state
    if optim == "adafactor":
        # the statistics are made from the gradient upcast to float32, so they are float32
        return sum(((t.rows + t.cols) if t.matrix else t.numel) * 4 + 4 for t in tensors)
    if optim == "sgd":
        return 0
    raise ValueError(optim)


def step_temporary_bytes(optim: str, tensors: list[Tensor], e_param: int, device: str) -> int:
    """Bytes the optimizer step allocates on top of weights, gradients and state, at its worst moment."""
    decay = [t.numel for t in tensors if t.decay]
    other = [t.numel for t in tensors if not t.decay]
    if optim == "adamw_torch":
        if device == "cuda":  # foreach: sqrt(exp_avg_sq) of a whole group at once
            return max(sum(decay), sum(other)) * e_param
        return max(_loop_peak(decay), _loop_peak(other)) * e_param
    if optim == "adafactor":
        # Per tensor, in float32: grad**2 and + eps coexist (later the update and its negation); a
        # 16-bit parameter adds float32 copies of its gradient and of itself. The previous tensor's
        # float32 update is still referenced while the next one starts.
        copies = 2 + (2 if e_param != 4 else 0)
        return 4 * max(_loop_peak(decay, copies), _loop_peak(other, copies))
    # bitsandbytes' 8-bit update is one in-place kernel (CPU and CUDA); fused AdamW and plain SGD
    # update in place too.
    return 0


def _loop_peak(sizes: list[int], copies: int = 2) -> int:
    """A per-tensor loop whose last temporary outlives its iteration (single-tensor AdamW's denom,
    Adafactor's update): the previous tensor's one, plus `copies` of the current tensor's."""
    best, prev = 0, 0
    for n in sizes:
        best = max(best, prev + copies * n)
        prev = n
    return best
