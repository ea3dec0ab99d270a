"""Replay of one nn.Linear (plain, autocast, LoRA-adapted, or 4-bit) on a Ledger, forward and backward.

What autograd keeps, from the PyTorch and PEFT sources:
- A trainable weight saves the Linear's input (for the weight gradient); a frozen one does not.
- Under autocast the input and the weight are cast to the autocast dtype first; the weight copy is
  saved for the input gradient (it is a new storage, so it counts as activation memory).
- A LoRA layer (PEFT) adds lora_B(lora_A(x)) * scaling in the adapters' dtype (float32 by PEFT's
  default for a 16-bit base; bfloat16 under QLoRA as TRL sets it), which promotes the sum before it
  is cast back, and lora_A saves its (cast) input. Under FSDP2's mixed precision the adapters are
  gathered in the 16-bit dtype, so none of these casts happen.
- A 4-bit layer (bitsandbytes) dequantizes the weight into a temporary in the forward and again in
  the backward; it saves no input.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrexplorer.memory.analytic.dims import Dims
from lrexplorer.memory.analytic.ledger import Ledger


@dataclass
class LinearRecord:
    tag: str
    d_in: int
    d_out: int
    e_in: int  # dtype bytes of the input the caller passed
    saved_input: str | None = None
    input_cast: bool = False
    weight_copy: str | None = None
    lora: bool = False
    lora_cast: bool = False
    e_lora: int = 4


def linear_forward(
    L: Ledger, D: Dims, x: str, e_in: int, name: str, d_in: int, d_out: int, tag: str, trainable: bool
) -> tuple[str, LinearRecord]:
    """Returns the output's name (T x d_out in D.el bytes) and what the backward needs."""
    T, el = D.T, D.el
    rec = LinearRecord(tag, d_in, d_out, e_in)
    xin = x
    if (D.autocast or D.qlora) and e_in != el:
        xin = L.new(tag + ".xc", T * d_in * el)
        rec.input_cast = True
    if D.qlora and not trainable:
        L.new(tag + ".dq", d_in * d_out * el)  # dequantized weight, dropped after the matmul
    elif D.autocast:
        rec.weight_copy = L.new(tag + ".wc", d_in * d_out * el)
    out = L.new(tag + ".out", T * d_out * el)
    if D.qlora and not trainable:
        L.free(tag + ".dq")
    if trainable:
        rec.saved_input = L.alias(tag + ".sx", xin)
    if xin is not x:
        L.free(xin)  # the cast copy lives on only if saved
    if D.lora and name in D.targets:
        rec.lora, rec.e_lora = True, D.e_adapter
        ea = rec.e_lora
        xl = x
        if e_in != ea:
            xl = L.new(tag + ".xl", T * d_in * ea)
            rec.lora_cast = True
        L.alias(tag + ".sxl", xl)  # saved by lora_A
        if xl is not x:
            L.free(xl)
        L.new(tag + ".a", T * D.r * ea)  # lora_A output, saved by lora_B
        L.new(tag + ".b", T * d_out * ea)
        L.new(tag + ".bs", T * d_out * ea)  # * scaling
        L.free(tag + ".b")
        e_sum = max(el, ea)
        if e_sum != el:
            L.new(tag + ".sum", T * d_out * e_sum)
            L.free(out, tag + ".bs")
            out = L.new(tag + ".res", T * d_out * el)  # result.to(torch_result_dtype)
            L.free(tag + ".sum")
        else:
            L.new(tag + ".sum", T * d_out * e_sum)
            L.free(out, tag + ".bs")
            out = tag + ".sum"
    return out, rec


def input_grad(name: str | None) -> str:
    """The input gradient a backward with need_input_grad=True always returns."""
    assert name is not None
    return name


def linear_backward(
    L: Ledger, D: Dims, g: str, rec: LinearRecord, weight_grad: WeightGrads, need_input_grad: bool = True
) -> str | None:
    """Consumes nothing of `g` (the caller frees it); returns the input gradient's name (e_in bytes)."""
    T, el, tag = D.T, D.el, rec.tag
    d_in, d_out = rec.d_in, rec.d_out
    g_lora, g_base = None, None
    if rec.lora:
        ea = rec.e_lora
        e_sum = max(el, ea)
        gs = L.new(tag + ".gs", T * d_out * e_sum) if e_sum != el else None  # grad of the promoted sum
        gb = L.new(tag + ".gb", T * d_out * ea)  # through * scaling
        weight_grad.add(L, tag + ".gB", D.r * d_out * ea)
        ga = L.new(tag + ".ga", T * D.r * ea)
        L.free(tag + ".a", gb)
        weight_grad.add(L, tag + ".gA", d_in * D.r * ea)
        g_lora = L.new(tag + ".gxl", T * d_in * ea) if need_input_grad else None
        L.free(ga, tag + ".sxl")
        if rec.lora_cast and g_lora is not None:
            gx = L.new(tag + ".gxl2", T * d_in * rec.e_in)
            L.free(g_lora)
            g_lora = gx
        if gs is not None:
            g_base = L.new(tag + ".gbase", T * d_out * el)  # the sum's grad cast back for the base Linear
            L.free(gs)
    gin = None
    if rec.saved_input is not None:  # trainable base weight: its gradient
        if rec.weight_copy is not None:
            weight_grad.add_cast(L, tag + ".gW", d_in * d_out, el, D.ew)
        else:
            weight_grad.add(L, tag + ".gW", d_in * d_out * D.ew)
    if need_input_grad:
        if D.qlora and rec.saved_input is None:
            L.new(tag + ".dq2", d_in * d_out * el)
        gin = L.new(tag + ".gin", T * d_in * el)
        if L.has(tag + ".dq2"):
            L.free(tag + ".dq2")
    L.free(rec.saved_input, rec.weight_copy, g_base)
    if gin is not None and rec.input_cast:
        g2 = L.new(tag + ".gin2", T * d_in * rec.e_in)
        L.free(gin)
        gin = g2
    if g_lora is not None:
        if gin is None:
            return g_lora
        total = L.new(tag + ".gx", T * d_in * rec.e_in)
        L.free(gin, g_lora)
        return total
    return gin


class WeightGrads:
    """Where weight gradients go: kept (they become .grad) or, when .grad already exists (gradient
    accumulation after the first micro-batch), added in place and dropped at once."""

    def __init__(self, accumulate: bool) -> None:
        self.accumulate = accumulate
        self.kept = 0

    def add(self, L: Ledger, name: str, nbytes: int) -> None:
        L.new(name, nbytes)
        if self.accumulate:
            L.free(name)
        else:
            self.kept += nbytes

    def add_cast(self, L: Ledger, name: str, numel: int, e_from: int, e_to: int) -> None:
        """Gradient of an autocast weight copy: computed in the copy's dtype, cast back to the weight's."""
        L.new(name + ".c", numel * e_from)
        self.add(L, name, numel * e_to)
        L.free(name + ".c")
