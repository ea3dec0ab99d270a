"""The largest value each numeric field takes: far above anything a real fine-tune uses, far below what
hangs, forks the machine to death or overflows. The page is open to anyone on a shared machine, so
every number is bounded before anything starts."""

from __future__ import annotations

import os

# numpy's legacy seeding (what transformers.set_seed calls) takes 0..2**32-1 and nothing else.
MAX_SEED = 2**32 - 1
# Each dataloader worker is a forked process holding a copy of the dataset: more than a few per core
# only thrashes, and a million of them takes the machine down.
MAX_WORKERS = (os.cpu_count() or 1) * 4
# Optimizer updates of one run (and the steps between logs, saves, evaluations, warmup): ten million
# is months of training; a schedule curve of that length is 80 MB.
MAX_STEPS = 10_000_000
MAX_EPOCHS = 10_000.0
# Examples per micro-batch, and micro-batches per update.
MAX_BATCH = 65_536
MAX_ACCUMULATION = 65_536
# Processes / GPUs sharing a run: the largest clusters have tens of thousands.
MAX_DEVICES = 65_536
MAX_EXAMPLES = 10**11
# Tokens per example: two million is beyond every released context window.
MAX_LENGTH = 2**21
# Tokens in one micro-batch (batch x length): 16M is far past any GPU; the product of two values each
# within its bound must not make an estimate astronomical either.
MAX_TOKENS = 2**24
# LoRA rank and alpha: the widest hidden sizes are ~30k, a rank above 65536 is no adapter.
MAX_LORA = 65_536
# lr x weight_decay >= 1 wipes or flips every weight each update; 10 already needs lr < 0.1 to be usable.
MAX_WEIGHT_DECAY = 10.0
# Not a useful rate but a lesson: a run at 1e30 overflows float32 at its first update and the app shows and
# diagnoses the divergence (at 1000 the tiny model merely collapses, its loss stays finite). Above float32's
# range (3.4e38) a rate is only an inf in disguise.
MAX_LR = 1e30
MAX_GRAD_NORM = 1e6
MAX_EPSILON = 1.0
MAX_CHECKPOINTS = 10_000


def tokens_problem(batch: int, length: int | None) -> str | None:
    """Why per_device_train_batch_size x max_length is too many tokens for one micro-batch, or None."""
    if length is None or batch * length <= MAX_TOKENS:
        return None
    return (
        f"{batch} x max_length {length} = {batch * length:,} tokens per micro-batch; at most {MAX_TOKENS:,} "
        "(lower the batch and use gradient_accumulation_steps)"
    )
