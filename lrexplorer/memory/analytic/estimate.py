"""The analytic engine: bytes per component and the peak of a steady-state training step, per GPU.

Peak = the largest of three phases of a step after the first (the optimizer state exists; the
Trainer set the gradients to None after the previous update):
- forward: weights + optimizer state [+ gradients while accumulating] + what the forward holds;
- backward: the same base + saved activations being freed while gradients appear;
- optimizer step: weights + gradients + state + the step's temporaries.
On CUDA each phase also carries the CUDA context and the cuBLAS workspace. Pure Python: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from lrexplorer.catalogues import optimizers as optimizer_registry
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.units import MIB
from lrexplorer.memory.analytic.dims import Dims, make_dims
from lrexplorer.memory.analytic.fsdp import (
    gathered,
    gradient_shards,
    master_bytes,
    padded_trainable,
    rank_state,
    stack_backward_with_gradients,
)
from lrexplorer.memory.analytic.fused_head import notes
from lrexplorer.memory.analytic.parallel import scheme, shard
from lrexplorer.memory.analytic.step import replay_micro_batch
from lrexplorer.memory.analytic.tensors import (
    trainable_bytes_per_param,
    trainable_params,
    trainable_tensors,
    weight_bytes,
)
from lrexplorer.memory.setup import TrainingSetup, as_trained, validate

# Outside PyTorch's allocator: the CUDA context (driver, kernels loaded lazily) is typically 0.3 to
# 1.3 GB depending on CUDA version and GPU; 500 MiB is what recent CUDA 12 builds of PyTorch show
# on data-centre GPUs. The cuBLAS workspace is PyTorch's default on Hopper/Ampere.
CUDA_CONTEXT = 500 * MIB
CUBLAS_WORKSPACE = 32 * MIB

PHASES = ("forward", "backward", "optimizer_step")


@dataclass(frozen=True)
class Estimate:
    model: str
    device: str
    n_params: int
    trainable_params: int
    components: dict[str, int]
    phases: dict[str, int]
    peak_bytes: int
    peak_phase: str
    setup: TrainingSetup = field(repr=False)
    engine: str = "analytic"
    loss: str = "logits"  # how the loss was modelled: "logits", "fused" or "fused_triton" (see dims.py)
    notes: tuple[str, ...] = ()  # caveats a reader must see (a fallback, an unverified path)
    host_bytes: int = 0  # CPU RAM per rank for what FSDP offloads (not in the GPU's components)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "trainer": self.setup.trainer,
            "loss": self.loss,
            "notes": list(self.notes),
            "model": self.model,
            "device": self.device,
            "n_params": self.n_params,
            "trainable_params": self.trainable_params,
            "components": dict(self.components),
            "phases": dict(self.phases),
            "peak_phase": self.peak_phase,
            "peak_bytes": self.peak_bytes,
            "host_bytes": self.host_bytes,
        }


@lru_cache(maxsize=512)
def _parameter_figures(arch: Architecture, setup: TrainingSetup) -> tuple[int, int, int, int, int, int]:
    """(trainable params, their bytes each, weights, optimizer state, its float32-master variant, step
    temporaries): they depend on the model and a few settings only, so sweeps over batch or
    sequence length reuse them."""
    D = make_dims(arch, setup)
    n_train = trainable_params(arch, setup)
    e_train = trainable_bytes_per_param(D)
    tensors = trainable_tensors(arch, setup)
    optim = optimizer_registry.get(setup.optim)
    return (
        n_train,
        e_train,
        weight_bytes(arch, setup, D),
        optim.state_bytes(tensors, e_train, setup.device),
        optim.state_bytes(tensors, 4, setup.device),
        optim.step_temporary_bytes(tensors, e_train, setup.device),
    )


def estimate(arch: Architecture, setup: TrainingSetup) -> Estimate:
    """Per-GPU memory of one steady-state training step (raises FieldError on a bad setup)."""
    validate(setup, arch)
    setup = as_trained(setup)
    D = make_dims(arch, setup)
    key = replace(
        setup,
        per_device_train_batch_size=1,
        max_length=1,
        gradient_accumulation_steps=1,
        activation_checkpointing=False,
        attn_implementation=None,
        num_gpus=1,
        zero_stage=0,
        fsdp=False,
        fsdp_reshard_after_forward=True,
        fsdp_offload_params=False,
        trainer="transformers",
        packing=False,
        padding_free=False,
        masked_label_fraction=0.0,
        longest_example=None,
    )
    n_train, e_train, W, O, O32, step_temp = _parameter_figures(arch, key)
    G = n_train * e_train
    kind = scheme(setup)
    sh = shard(arch, setup, W, G, O, n_train, O32)
    if sh.pure_compute_dtype and setup.dtype != setup.compute_dtype:
        # DeepSpeed / FSDP mixed precision computes with 16-bit weights: no autocast copies.
        D = make_dims(arch, replace(setup, dtype=setup.compute_dtype, bf16=False, fp16=False))
    if kind == "fsdp":
        return _fsdp_estimate(arch, setup, D, (n_train, e_train, W, O, O32, step_temp))
    first = replay_micro_batch(D, accumulate=not sh.gradients_in_backward)
    ga = setup.gradient_accumulation_steps
    later = replay_micro_batch(D, accumulate=True) if (ga > 1 and sh.gradients_in_backward) else None

    batch = batch_bytes(D, setup)
    cuda = setup.device == "cuda"
    fixed = (CUDA_CONTEXT + CUBLAS_WORKSPACE) if cuda else 0
    base = sh.weights + sh.optimizer_states + batch + fixed + sh.buffers
    sharded_grads = 0 if sh.gradients_in_backward else sh.gradients
    fwd = base + sharded_grads + first.forward_peak
    bwd = base + sharded_grads + first.backward_peak
    if later is not None:  # from the second micro-batch on, the gradients are already allocated
        fwd = max(fwd, base + sh.gradients + later.forward_peak)
        bwd = max(bwd, base + sh.gradients + later.backward_peak)
    if kind in ("zero1", "zero2", "zero3", "fsdp"):
        step_temp //= setup.num_gpus
    opt = sh.weights + sh.gradients + sh.optimizer_states + fixed + sh.buffers + batch + step_temp
    phases = {"forward": fwd, "backward": bwd, "optimizer_step": opt}
    components = {
        "weights": sh.weights,
        "gradients": sh.gradients,
        "optimizer_states": sh.optimizer_states,
        "activations": first.saved,
        "loss_buffers": first.loss_extra,
        "optimizer_step_buffers": step_temp,
        "communication_buffers": sh.buffers,
        "cuda_context": CUDA_CONTEXT if cuda else 0,
        "cuda_workspace": CUBLAS_WORKSPACE if cuda else 0,
        "batch": batch,
    }
    return _result(arch, setup, D, n_train, components, phases)


def _fsdp_estimate(
    arch: Architecture, setup: TrainingSetup, D: Dims, figures: tuple[int, int, int, int, int, int]
) -> Estimate:
    """Per rank under FSDP2 (see fsdp.py): each part of the step with the weights gathered then."""
    n_train, e_train, _, O, O32, step_temp = figures
    if master_bytes(setup, e_train) != e_train:  # the optimizer steps the float32 shards
        step_temp = optimizer_registry.get(setup.optim).step_temporary_bytes(
            trainable_tensors(arch, setup), 4, setup.device
        )
    sharded = n_train
    if setup.lora:  # rank 0's padded shards of the adapters (r rows split over the ranks)
        sharded = padded_trainable(trainable_tensors(arch, setup), setup.num_gpus)
        O, O32, step_temp = (x * sharded // n_train for x in (O, O32, step_temp))
    rank = rank_state(setup, arch.n_params, sharded, e_train, O, O32, step_temp)
    # Each layer's gradients are reduce-scattered and freed as its backward ends: nothing is kept.
    first = replay_micro_batch(D, accumulate=True)
    extra = gathered(arch, setup)
    parts = {
        "stack_forward": first.stack_forward_peak,
        "head_forward": first.head_forward_peak,
        "head_backward": first.head_backward_peak,
        "stack_backward": first.stack_backward_peak,
        "embedding_backward": first.embedding_backward_peak,
    }
    parts = {k: v + extra[k] for k, v in parts.items()}
    cuda = setup.device == "cuda"
    fixed = (CUDA_CONTEXT + CUBLAS_WORKSPACE) if cuda else 0
    batch = batch_bytes(D, setup)
    base = rank.weights + rank.optimizer_states + batch + fixed
    # The float32 gradient shards fill in as each group's backward ends; from the second micro-batch on
    # (gradient accumulation) they all exist from the start.
    early = rank.gradients if setup.gradient_accumulation_steps > 1 else 0
    per_layer, tail, all_but_last = gradient_shards(arch, setup, master_bytes(setup, e_train))
    if early or n_train != arch.n_params:
        per_layer, tail, all_but_last = 0, 0, rank.gradients - early  # adapters' shards are small: counted whole
    if setup.fsdp_offload_params:  # the shards go to CPU RAM as they are reduced
        per_layer, tail, all_but_last = 0, 0, 0
    parts["stack_backward"] = extra["stack_backward"] + stack_backward_with_gradients(
        first, arch.num_layers, per_layer, tail
    )
    parts["embedding_backward"] += all_but_last
    phases = {
        "forward": base + early + max(parts["stack_forward"], parts["head_forward"]),
        "backward": base + early + max(parts["head_backward"], parts["stack_backward"], parts["embedding_backward"]),
        "optimizer_step": base + rank.gradients + rank.step_buffers,
    }
    peak_phase = max(PHASES, key=lambda p: phases[p])
    at_peak = {
        "forward": max(("stack_forward", "head_forward"), key=lambda k: parts[k]),
        "backward": max(("head_backward", "stack_backward", "embedding_backward"), key=lambda k: parts[k]),
    }
    # FSDP's buffers where the peak is (the backward's when the optimizer step is: it gathers nothing).
    comm = extra[at_peak.get(peak_phase, at_peak["backward"])]
    components = {
        "weights": rank.weights,
        "gradients": rank.gradients,
        "optimizer_states": rank.optimizer_states,
        "activations": first.saved,
        "loss_buffers": first.loss_extra,
        "optimizer_step_buffers": rank.step_buffers,
        "communication_buffers": comm,
        "cuda_context": CUDA_CONTEXT if cuda else 0,
        "cuda_workspace": CUBLAS_WORKSPACE if cuda else 0,
        "batch": batch,
    }
    return _result(arch, setup, D, n_train, components, phases, host_bytes=rank.host)


def _result(
    arch: Architecture,
    setup: TrainingSetup,
    D: Dims,
    n_train: int,
    components: dict[str, int],
    phases: dict[str, int],
    host_bytes: int = 0,
) -> Estimate:
    """The estimate of a step whose phases and components are known; its peak is the largest phase."""
    peak_phase = max(PHASES, key=lambda p: phases[p])
    return Estimate(
        model=arch.name,
        device=setup.device,
        n_params=arch.n_params,
        trainable_params=n_train,
        components=components,
        phases=phases,
        peak_bytes=phases[peak_phase],
        peak_phase=peak_phase,
        setup=setup,
        loss=D.head,
        notes=notes(arch, setup),
        host_bytes=host_bytes,
    )


def batch_bytes(D: Dims, setup: TrainingSetup) -> int:
    """The collated batches alive during a step.

    input_ids, attention_mask and labels (int64); padding_free replaces the mask by position ids and
    adds an int32 sequence index per token. The Trainer fetches every micro-batch of an update before
    the first forward, so an SFTTrainer step holds all of them (the plain-Trainer figure is kept to one
    micro-batch, as its measurement runs it).
    """
    per_token = 3 * 8 + (4 if D.packed else 0)
    fetched = setup.gradient_accumulation_steps if setup.trainer == "sft" else 1
    return per_token * D.T * fetched
