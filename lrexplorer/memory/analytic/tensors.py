"""Parameter tensors of a run: what is stored (weights), what is trained, and in which dtype."""

from __future__ import annotations

import math

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.catalogues.optimizer_state import Tensor
from lrexplorer.memory.analytic.dims import Dims
from lrexplorer.memory.setup import TrainingSetup

# bitsandbytes NF4: 4 bits per weight plus a float32 scale per block of 64; with double quantisation
# the scales are 8-bit with a float32 scale per 256 of them.
NF4_BLOCK = 64
NF4_DQ_BLOCK = 256


def nf4_bytes(numel: int, double_quant: bool) -> int:
    blocks = math.ceil(numel / NF4_BLOCK)
    if double_quant:
        return math.ceil(numel / 2) + blocks + 4 * math.ceil(blocks / NF4_DQ_BLOCK)
    return math.ceil(numel / 2) + 4 * blocks


def lora_params(arch: Architecture, setup: TrainingSetup) -> int:
    """Trainable LoRA parameters: r x (d_in + d_out) per adapted Linear per layer."""
    targets = set(setup.target_modules(arch))
    per_layer = sum(setup.lora_r * (lin.d_in + lin.d_out) for lin in arch.linears if lin.name in targets)
    return arch.num_layers * per_layer


def trainable_tensors(arch: Architecture, setup: TrainingSetup) -> list[Tensor]:
    """The trainable tensors in the order the Trainer's param groups list them (decay group first)."""
    if setup.lora:
        targets = set(setup.target_modules(arch))
        out = []
        for _ in range(arch.num_layers):
            for lin in arch.linears:
                if lin.name in targets:
                    out += [Tensor(setup.lora_r, lin.d_in), Tensor(lin.d_out, setup.lora_r)]
        return out
    h = arch.hidden_size
    decay = [Tensor(arch.vocab_size, h, embedding=True)]
    other: list[Tensor] = []
    for _ in range(arch.num_layers):
        for lin in arch.linears:
            decay.append(Tensor(lin.d_out, lin.d_in))
            if lin.bias:
                other.append(Tensor(lin.d_out, decay=False))
        other += [Tensor(h, decay=False)] * arch.norms_per_layer
    if not arch.tie_word_embeddings:
        decay.append(Tensor(arch.vocab_size, h))
    other.append(Tensor(h, decay=False))
    return decay + other


def trainable_params(arch: Architecture, setup: TrainingSetup) -> int:
    return lora_params(arch, setup) if setup.lora else arch.n_params


def trainable_bytes_per_param(D: Dims) -> int:
    """Dtype of the trained tensors: LoRA adapters are float32 (PEFT upcasts a 16-bit base), bfloat16
    under QLoRA (as TRL's SFTTrainer sets them); full fine-tuning trains the weights as loaded."""
    if D.lora:
        return 2 if D.qlora else 4
    return D.ew


def weight_bytes(arch: Architecture, setup: TrainingSetup, D: Dims) -> int:
    """Bytes of every parameter: the base model (4-bit Linears under QLoRA) plus any adapters."""
    if setup.load_in_4bit:
        linear = arch.num_layers * arch.layer_linear_params
        quantised = arch.num_layers * sum(
            nf4_bytes(lin.d_in * lin.d_out, setup.bnb_4bit_use_double_quant) + (lin.d_out * D.ew if lin.bias else 0)
            for lin in arch.linears
        )
        base = quantised + (arch.n_params - linear) * D.ew
    else:
        base = arch.n_params * D.ew
    if setup.lora:
        base += lora_params(arch, setup) * trainable_bytes_per_param(D)
    return base
