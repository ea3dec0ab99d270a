"""FSDP2 per rank, analytic: the sharded state, and which weights are gathered in each part of the step.

Modelled on what accelerate's `fsdp2_prepare_model` builds (the Trainer's FSDP2 path) and checked
against the simulated step (`simulate_parallel.py`, FSDPMemTracker on a fake process group):
- with bf16/fp16 mixed precision accelerate upcasts the trainable weights to float32: the shards, their
  gradients and the optimizer state are float32, and `MixedPrecisionPolicy(param_dtype=bf16)` gathers
  them in 16 bits; without mixed precision everything stays in the load dtype;
- one group per decoder layer; the embedding alone (untied); a tail group [final norm, lm_head] (with the
  embedding when tied) that accelerate shards with reshard_after_forward=False, so it stays gathered from
  its forward to the end of the backward;
- full shard frees each layer's gathered weights after its forward; shard-grad-op
  (fsdp_reshard_after_forward off) keeps every layer gathered until its backward;
- in the backward a layer is gathered while the next is prefetched (FSDP2's default), and its 16-bit
  gradients live until reduce-scattered into the float32 shard;
- FSDP2 holds each all-gather's output until the next group's is copied out, so one more group's worth
  sits beside the gathered weights (at the head: the tail's when untied, the last layer's when tied);
- CPUOffloadPolicy moves the shards, gradients and optimizer (state and step) to CPU RAM;
- LoRA (peft): the frozen weights keep their load dtype and get no gradient (nor reduce-scatter); the
  adapters, in their layer's group, are float32 shards gathered in the 16-bit param_dtype, so they run
  in 16 bits (no float32 copy of their input, unlike a single GPU); a frozen embedding has no backward.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.catalogues.optimizer_state import Tensor
from lrexplorer.memory.analytic.step import MicroBatch
from lrexplorer.memory.analytic.tensors import lora_params
from lrexplorer.memory.setup import DTYPE_BYTES, TrainingSetup


@dataclass(frozen=True)
class RankState:
    weights: int
    gradients: int
    optimizer_states: int
    step_buffers: int
    host: int  # CPU RAM per rank for what is offloaded


def _per_rank(nbytes: int, n: int) -> int:
    return -(-nbytes // n)  # rank 0 holds the padded (largest) chunk


def rank_state(
    setup: TrainingSetup, n_params: int, n_train: int, e_train: int, states: int, states_fp32: int, step_temp: int
) -> RankState:
    """The sharded weights, gradients and optimizer state a rank keeps (on its GPU, or in RAM when offloaded)."""
    n = setup.num_gpus
    mixed = setup.bf16 or setup.fp16
    load = DTYPE_BYTES[setup.dtype]
    master = master_bytes(setup, e_train)
    # LoRA's adapters come on top of the frozen model; full fine-tuning trains every weight.
    frozen = n_params if setup.lora else n_params - n_train
    weights = _per_rank(frozen * load + n_train * master, n)
    grads = _per_rank(n_train * master, n)
    opt = _per_rank(states_fp32 if mixed else states, n)
    temp = _per_rank(step_temp, n)
    if setup.fsdp_offload_params:
        return RankState(0, 0, 0, 0, weights + grads + opt + temp)
    return RankState(weights, grads, opt, temp, 0)


def padded_trainable(tensors: list[Tensor], n: int) -> int:
    """Trainable elements over all ranks as if each held rank 0's shard: FSDP2 cuts every tensor's first
    dimension into n equal, padded chunks, so a LoRA lora_A (r rows) is mostly padding once n > r."""
    return n * sum(-(-t.rows // n) * t.cols for t in tensors)


def gathered(arch: Architecture, setup: TrainingSetup) -> dict[str, int]:
    """The gathered weights, 16-bit gradients and collective buffers FSDP holds in each part of a micro-batch."""
    p = 2 if (setup.bf16 or setup.fp16) else DTYPE_BYTES[setup.dtype]
    tied = arch.tie_word_embeddings
    h, V, L = arch.hidden_size, arch.vocab_size, arch.num_layers
    tail = (V * h + h) * p  # [final norm, lm_head] (the shared embedding when tied)
    embed = 0 if tied else V * h * p
    # LoRA's adapters sit in their layer's group; only they get gradients (frozen weights get none).
    adapters = lora_params(arch, setup) // L * p if setup.lora else 0
    layer = arch.layer_params * p + adapters
    grads = adapters if setup.lora else layer
    full = setup.fsdp_reshard_after_forward
    # Shard-grad-op keeps every layer (and the untied embedding) gathered until its backward.
    if setup.fsdp_wrap == "layers":
        return _gathered_layers(arch, setup, p, layer, grads)
    kept = 0 if full else L * layer + embed
    before_tail = tail if tied else 0
    # FSDP2 keeps the latest all-gather's output until the next one is copied out: at the head that is
    # the tail's own when untied (it is gathered last), the last layer's when tied (gathered first).
    last_gather = layer if tied else tail
    return {
        "stack_forward": max(embed, before_tail + (2 * layer if full else kept + layer)),
        "head_forward": tail + kept + last_gather,
        "head_backward": tail + kept,
        # the layer in backward, the prefetched one, its 16-bit gradients and the reduce-scatter input
        "stack_backward": tail + (2 * layer if full else kept) + 2 * grads,
        # a frozen embedding has no backward: no gradient, and no gather beyond the one shard-grad-op keeps
        "embedding_backward": tail + ((0 if full else embed) if setup.lora else 2 * embed),
        "embedding_forward": 0,  # below the stack's (the embedding's output is all its activations)
        "root_reduce": 0,  # no root group of its own
    }


def _gathered_layers(arch: Architecture, setup: TrainingSetup, p: int, layer: int, grads: int) -> dict[str, int]:
    """`gathered` with one group per decoder layer and the root holding the embedding, final norm and lm_head
    (plain `fully_shard` scripts, torchtune), as the FSDP2 simulation shows it:
    - the root is gathered before the embedding (its all-gather output beside it, the first layer's
      prefetch and its copy-in too) and, as FSDP2 does for the root, kept until the end of the backward;
    - the last layer's all-gather output is still held at the head (full shard);
    - the 16-bit gradients of lm_head (the shared weight's when tied) and of the embedding wait for the
      root's reduce-scatter at the very end (the embedding's is in the replay's embedding backward)."""
    h, V, L = arch.hidden_size, arch.vocab_size, arch.num_layers
    tied = arch.tie_word_embeddings
    root_params = V * h * (1 if tied else 2) + h
    root = root_params * p
    # lm_head's 16-bit gradient (the replay already holds the shared weight's when tied)
    head_grad = 0 if (setup.lora or tied) else V * h * p
    full = setup.fsdp_reshard_after_forward
    kept = 0 if full else L * layer
    last = layer if full else 0
    # The root's reduce-scatter at the end of the backward (no activations left): its input (the root's size,
    # in the 16-bit dtype), output (a rank's share) and the float32 shard it becomes, beside the gradient of
    # the root's last parameter (lm_head's, or the norm's when tied).
    later = setup.lora or setup.fsdp_offload_params or setup.gradient_accumulation_steps > 1
    n = setup.num_gpus
    shard = 0 if later else _per_rank(root_params * master_bytes(setup, DTYPE_BYTES[setup.dtype]), n)
    last_grad = (h if tied else V * h) * p
    reduce = 0 if setup.lora else root + _per_rank(root, n) + shard + last_grad
    return {
        "embedding_forward": 2 * root + 2 * layer,
        "stack_forward": root + (2 * layer if full else kept + layer),
        "head_forward": root + kept + last,
        "head_backward": root + kept + last,
        "stack_backward": root + head_grad + (2 * layer if full else kept) + 2 * grads,
        "embedding_backward": root + head_grad + grads,
        "root_reduce": reduce,
    }


def master_bytes(setup: TrainingSetup, e_train: int) -> int:
    """Bytes per trainable element of the shards: accelerate upcasts them to float32 under mixed precision."""
    return 4 if (setup.bf16 or setup.fp16) else e_train


def gradient_shards(arch: Architecture, setup: TrainingSetup, master: int) -> tuple[int, int, int]:
    """(per layer, tail before the stack's backward, all but the last group) of a rank's float32 gradient
    shards: each group's shard appears when its backward ends, the untied [final norm, lm_head] tail's
    before the decoder stack's, the embedding's group (the tail, when tied) last."""
    n = setup.num_gpus
    h, V = arch.hidden_size, arch.vocab_size
    layer = _per_rank(arch.layer_params * master, n)
    if setup.fsdp_wrap == "layers":  # the root's shard (embedding, norm, lm_head) comes last, with its reduce-scatter
        root = _per_rank((V * h * (1 if arch.tie_word_embeddings else 2) + h) * master, n)
        return layer, 0, _per_rank(arch.n_params * master, n) - root
    tail = 0 if arch.tie_word_embeddings else _per_rank((V * h + h) * master, n)
    last = _per_rank((V * h + (h if arch.tie_word_embeddings else 0)) * master, n)
    return layer, tail, _per_rank(arch.n_params * master, n) - last


def stack_backward_with_gradients(mb: MicroBatch, layers: int, per_layer: int, before: int) -> int:
    """The decoder stack's backward peak with each layer's gradient shard added as its backward ends.

    The replay's closed form puts the peak at the first or last layer: the same holds with a per-layer
    net change that includes the shard."""
    at_first = mb.stack_backward_peak - max(0, (layers - 1) * mb.layer_backward_net)
    return at_first + before + max(0, (layers - 1) * (mb.layer_backward_net + per_layer))
