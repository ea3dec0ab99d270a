"""The two public rules of thumb the memory estimate is compared with in the accuracy tables
(`bench/memory_accuracy.py`): accelerate's "4 x model size" and Transformer-Math 101 with Korthikanti et al.'s
activations."""

from __future__ import annotations

from lrexplorer.catalogues import optimizers as optimizer_registry
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.memory.setup import TrainingSetup


def rule_four_times(arch: Architecture, setup: TrainingSetup) -> int:
    """accelerate's estimate-memory for training with Adam: about 4 x the model's size in its dtype."""
    return 4 * arch.n_params * (4 if setup.dtype == "float32" else 2)


def _tm_optimizer_bytes(optim: str) -> int:
    """Transformer-Math 101 (EleutherAI) bytes per parameter for the optimizer. It assumes mixed
    precision with a float32 master copy (4 bytes) beside the moments at 4 bytes each (1 when 8-bit):
    AdamW 12, 8-bit AdamW 6, SGD without momentum and Adafactor (almost no moments) 4."""
    return 4 + optimizer_registry.get(optim).state.bytes_per_param(4)


def rule_transformer_math(arch: Architecture, setup: TrainingSetup) -> int:
    """Weights + gradients in the weights' dtype + optimizer bytes/param + Korthikanti et al.'s
    activations: s*b*h*L*(34 + 5*a*s/h) bytes without recomputation, 2*s*b*h*L with full recomputation."""
    e = 4 if setup.dtype == "float32" else 2
    psi = arch.n_params if not setup.lora else 0
    s, b, h, L, a = (
        setup.max_length,
        setup.per_device_train_batch_size,
        arch.hidden_size,
        arch.num_layers,
        arch.num_heads,
    )
    act: float
    if setup.activation_checkpointing:
        act = 2 * s * b * h * L
    else:
        act = s * b * h * L * (34 + 5 * a * s / h)
    trained = psi if psi else 0
    return int(arch.n_params * e + trained * e + trained * _tm_optimizer_bytes(setup.optim) + act)
