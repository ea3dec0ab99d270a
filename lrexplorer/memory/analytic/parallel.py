"""Several GPUs: what each one holds under DDP and DeepSpeed ZeRO 1/2/3 (FSDP2 has its own model: fsdp.py).

With N GPUs and Ψ parameters under DeepSpeed's mixed precision (Adam), DeepSpeed's own estimators
(`estimate_zero2_model_states_mem_needs` in deepspeed/runtime/zero/stage_1_and_2.py and
`estimate_zero3_model_states_mem_needs` in deepspeed/runtime/zero/stage3.py, DeepSpeed 0.19) count per GPU:
- stage 1/2: 2Ψ (16-bit weights, whole) + 18Ψ/N: 2 (16-bit gradients) + 4 (the float32 gradient partition
  the step reads) + 4 (float32 master weights) + 8 (Adam's two moments); stage 1 keeps the 16-bit
  gradients whole (2Ψ), stage 2 reduces them into partitions as they are produced;
- stage 3: 18Ψ/N + 4 x the largest layer's parameters (its 16-bit weights and gradients, gathered), a
  "layer" being one module's own parameters (`model_to_params` in stage3.py); the 16-bit weight partition
  (2Ψ/N) is added here, which DeepSpeed's estimator leaves out.
tests/memory/test_memory_zero_deepspeed.py holds these figures to DeepSpeed's functions themselves.
Activations are never sharded: each GPU runs its own micro-batch. DDP cannot run on fake tensors (its C++
Reducer reads tensor data), so its figure is analytic only.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.memory.setup import TrainingSetup


@dataclass(frozen=True)
class Sharded:
    weights: int
    gradients: int
    optimizer_states: int
    buffers: int  # communication buckets and gathered (unsharded) layers, per GPU
    gradients_in_backward: bool  # False: gradients are reduced and sharded as they are produced
    pure_compute_dtype: bool  # DeepSpeed runs the layers in the 16-bit dtype, no autocast copies


def scheme(setup: TrainingSetup) -> str:
    if setup.fsdp:
        return "fsdp"
    if setup.zero_stage:
        return f"zero{setup.zero_stage}"
    return "ddp" if setup.num_gpus > 1 else "single"


def deepspeed_auto_buckets(arch: Architecture) -> dict[str, int]:
    """The bucket sizes (elements) transformers fills in for a DeepSpeed config's "auto" values.

    transformers/integrations/deepspeed.py (`HfTrainerDeepSpeedConfig.trainer_config_finalize`):
    reduce_bucket_size = hidden², stage3_prefetch_bucket_size = 0.9 hidden², and
    stage3_param_persistence_threshold = 10 hidden (smaller tensors stay whole on every GPU).
    DeepSpeed's own defaults (deepspeed/runtime/zero/config.py) are 5e8, 5e7 and 1e5."""
    h = arch.hidden_size
    return {
        "reduce_bucket_size": h * h,
        "stage3_prefetch_bucket_size": int(0.9 * h * h),
        "stage3_param_persistence_threshold": 10 * h,
    }


def largest_module_params(arch: Architecture) -> int:
    """The parameters of the largest single module, as DeepSpeed's `model_to_params` (stage3.py) counts them
    (each module's own parameters, not its children's): the vocabulary matrix or a layer's widest Linear."""
    widest = max(lin.d_in * lin.d_out + (lin.d_out if lin.bias else 0) for lin in arch.linears)
    return max(arch.vocab_size * arch.hidden_size, widest)


def shard(
    arch: Architecture, setup: TrainingSetup, weights: int, grads: int, states: int, trainable: int, states_fp32: int
) -> Sharded:
    """Per-GPU bytes under DDP or ZeRO. `weights`/`grads`/`states` are the single-GPU figures; `states_fp32`
    the optimizer state for float32 master weights (what DeepSpeed's mixed precision keeps)."""
    n = setup.num_gpus
    kind = scheme(setup)
    mixed = setup.bf16 or setup.fp16
    if kind in ("single", "fsdp"):
        return Sharded(weights, grads, states, 0, True, False)
    if kind == "ddp":
        # torch DDP copies the gradients into flat buckets (bucket_cap_mb=25, the first one 1 MiB; the cap
        # sets how many buckets, not their total) unless gradient_as_bucket_view, which the Trainer leaves
        # off (TrainingArguments.ddp_bucket_cap_mb None: DDP's default): one more copy of the gradients.
        return Sharded(weights, grads, states, grads, True, False)
    # The 16-bit reduce bucket (and, in stage 3, the prefetch bucket) at transformers' "auto" sizes.
    buckets = deepspeed_auto_buckets(arch)
    reduce_bucket = buckets["reduce_bucket_size"] * 2
    if mixed and not setup.lora:
        # DeepSpeed converts the model to 16 bits; float32 master weights and the float32 gradient
        # partition live with the optimizer.
        w16, g16 = arch.n_params * 2, trainable * 2
        g32, k = trainable * 4, states_fp32 + trainable * 4
    else:
        w16, g16, g32, k = weights, grads, 0, states
    if kind == "zero1":
        return Sharded(w16, g16 + g32 // n, k // n, reduce_bucket, True, mixed)
    if kind == "zero2":
        return Sharded(w16, (g16 + g32) // n, k // n, reduce_bucket, False, mixed)
    # Stage 3: the largest module gathered with its gradients (DeepSpeed's 4 bytes x largest layer), plus the
    # prefetch bucket.
    gathered = 4 * largest_module_params(arch) + buckets["stage3_prefetch_bucket_size"] * 2
    return Sharded(w16 // n, (g16 + g32) // n, k // n, reduce_bucket + gathered, False, mixed)
