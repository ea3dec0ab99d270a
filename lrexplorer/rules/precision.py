"""Rules of precision: bf16, fp16, tf32 and the weights' dtype against each other and the device.

What the CPU does with each is what accelerate does there (checked in tests/rules): bf16 runs under CPU
autocast; fp16 is accepted and ignored (no autocast, no loss scaling: `Accelerator` turns fp16 on for
non-CPU devices only), so the step runs in the weights' dtype.
"""

from __future__ import annotations

from lrexplorer.core.facts import AMPERE
from lrexplorer.rules.rule import BOTH, Subject, advice, half, refusal


@refusal("fp16", tools=BOTH)
def one_mixed_precision(s: Subject) -> str | None:
    """bf16 and fp16 together."""
    if s.values["fp16"] and s.values["bf16"]:
        return "bf16 and fp16 are exclusive: choose one mixed-precision mode"
    return None


@advice("warning", "fp16", tools=BOTH)
def fp16_ignored_on_cpu(s: Subject) -> str | None:
    """fp16 on the CPU, where accelerate ignores it."""
    if s.values["fp16"] and not s.values["bf16"] and s.on_cpu:
        return (
            "fp16 is ignored on the CPU: accelerate turns on fp16 autocast and loss scaling on GPUs only, so the "
            "step runs in the weights' dtype; bf16 is the CPU's mixed precision."
        )
    return None


def no_bfloat16(s: Subject) -> str | None:
    """Why the device that trains cannot compute in bfloat16 (a CPU without its instructions, a GPU older than
    Ampere), or None. Needs the facts."""
    assert s.facts is not None
    if s.on_cpu:
        return None if s.facts.cpu_bf16 else "this CPU has no bfloat16 instructions (avx512_bf16 / amx_bf16)"
    if (s.capability or (0, 0)) < AMPERE:
        return f"bfloat16 needs compute capability >= 8.0 (Ampere) and {s.where}"
    return None


@refusal("bf16", needs=("facts",))
def bf16_needs_hardware(s: Subject) -> str | None:
    """bf16 on a CPU without bfloat16 instructions or a GPU older than Ampere."""
    why = no_bfloat16(s) if s.values["bf16"] else None
    return f"{why}; {'turn bf16 off' if s.on_cpu else 'use fp16'}" if why else None


@refusal("tf32", needs=("facts",))
def tf32_needs_ampere(s: Subject) -> str | None:
    """tf32 without an Ampere (or newer) GPU."""
    if s.values["tf32"] and (s.on_cpu or (s.capability or (0, 0)) < AMPERE):
        return f"TF32 needs an NVIDIA GPU of compute capability >= 8.0 and {s.where}; leave tf32 unset"
    return None


@refusal("fp16", tools=BOTH)
def fp16_with_float16_weights(s: Subject) -> str | None:
    """fp16 over float16 weights fully fine-tuned on a GPU: the grad scaler refuses float16 gradients."""
    v = s.values
    # accelerate builds no GradScaler on the CPU (fp16 is off there) nor under DeepSpeed (its own loss scaler).
    deepspeed = v.get("deepspeed") or v.get("zero_stage")
    if v["fp16"] and v["dtype"] == "float16" and not v["use_peft"] and not s.on_cpu and not deepspeed:
        return (
            "fp16 with dtype float16 fails in a real run (the grad scaler cannot unscale float16 gradients): "
            "load float32 weights or use LoRA"
        )
    return None


@advice("info", "dtype", tools=BOTH)
def float16_weights_on_cpu(s: Subject) -> str | None:
    """float16 weights on the CPU."""
    if s.values["dtype"] == "float16" and s.on_cpu:
        return "dtype float16 on the CPU is slow and may overflow; bfloat16 or float32 are the usual choices."
    return None


@advice("warning", "fp16", needs=("facts",))
def prefer_bf16(s: Subject) -> str | None:
    """fp16 on a GPU that has bfloat16."""
    cap = s.capability
    if s.values["fp16"] and cap is not None and cap >= AMPERE:
        return (
            f"fp16 on a GPU with bfloat16 (compute capability {cap[0]}.{cap[1]}): bf16 has float32's range and "
            "needs no loss scaling; prefer bf16."
        )
    return None


@advice("info", "bf16", needs=("facts",))
def mixed_precision_available(s: Subject) -> str | None:
    """float32 on a GPU that has bfloat16."""
    cap = s.capability
    if cap is not None and cap >= AMPERE and not half(s.values):
        return "This GPU supports bf16: mixed precision would roughly halve activation memory and speed up training."
    return None
