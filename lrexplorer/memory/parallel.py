"""Several GPUs: what each one holds under DDP, DeepSpeed ZeRO 1/2/3 and FSDP full shard.

With N GPUs and Ψ parameters (ZeRO paper, mixed-precision Adam, K = 12 bytes of fp32 master weights
and moments per parameter): stage 1 keeps 16-bit weights and gradients whole and shards K; stage 2
also shards the gradients; stage 3 and FSDP full shard shard everything and gather one layer's
weights at a time. Activations are never sharded: each GPU runs its own micro-batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from .architecture import Architecture
from .setup import TrainingSetup


@dataclass(frozen=True)
class Sharded:
    weights: int
    gradients: int
    optimizer_states: int
    buffers: int  # communication buckets and gathered (unsharded) layers, per GPU
    gradients_in_backward: bool  # False: gradients are reduced and sharded as they are produced
    pure_compute_dtype: bool  # DeepSpeed / FSDP run the layers in the 16-bit dtype, no autocast copies


def scheme(setup: TrainingSetup) -> str:
    if setup.fsdp:
        return "fsdp"
    if setup.zero_stage:
        return f"zero{setup.zero_stage}"
    return "ddp" if setup.num_gpus > 1 else "single"


def shard(
    arch: Architecture, setup: TrainingSetup, weights: int, grads: int, states: int, trainable: int, states_fp32: int
) -> Sharded:
    """Per-GPU bytes. `weights`/`grads`/`states` are the single-GPU figures; `states_fp32` the
    optimizer state for float32 master weights (what DeepSpeed's mixed precision keeps)."""
    n = setup.num_gpus
    kind = scheme(setup)
    mixed = setup.bf16 or setup.fp16
    if kind == "single":
        return Sharded(weights, grads, states, 0, True, False)
    if kind == "ddp":
        # DDP copies gradients into flat buckets of the same total size (gradient_as_bucket_view off).
        return Sharded(weights, grads, states, grads, True, False)
    # One layer's parameters (and the vocabulary matrix, the largest single tensor) in 16 bits.
    layer = max(arch.layer_params, arch.vocab_size * arch.hidden_size)
    bucket = 2 * arch.hidden_size * arch.hidden_size * 2  # HF "auto": reduce/prefetch buckets of hidden^2
    if kind.startswith("zero"):
        if mixed and not setup.lora:
            # DeepSpeed converts the model to 16 bits and keeps float32 master weights in the optimizer.
            w16 = arch.n_params * 2
            g16 = trainable * 2
            k = states_fp32 + trainable * 4
        else:
            w16, g16, k = weights, grads, states
        if kind == "zero1":
            return Sharded(w16, g16, k // n, bucket, True, mixed)
        if kind == "zero2":
            return Sharded(w16, g16 // n, k // n, bucket + bucket, False, mixed)
        return Sharded(w16 // n, g16 // n, k // n, bucket + 2 * layer * 2, False, mixed)
    # FSDP full shard: shards stay in their dtype; with mixed precision one layer is gathered in 16 bits.
    gathered = 2 * layer * (2 if mixed else max(1, weights // max(1, arch.n_params)))
    return Sharded(weights // n, grads // n, states // n, gathered + bucket, False, mixed)
