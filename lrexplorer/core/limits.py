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

# -- a schedule's own arguments (lr_scheduler_kwargs): counts of updates are bounded by MAX_STEPS, rates
# (max_lr, min_lr, eta_min, ...) by MAX_LR, like learning_rate itself.
# A multiplier per decay (gamma): below 1 the LR decays; a little above 1 it grows, and 10 is already an
# overflow to inf within a few dozen updates.
MAX_GAMMA = 10.0
# OneCycleLR's div_factor and final_div_factor: 1e12 takes any useful rate to below float32's smallest normal.
MAX_DIV_FACTOR = 1e12
MAX_POWER = 100.0  # the exponent of a polynomial decay: 100 is already a cliff at the first update
MAX_THRESHOLD = 1e6  # reduce_lr_on_plateau's improvement threshold

# -- documents from users (core/documents.py): configs, sweep spaces, JSON flags, each fact line.
# A real config is a few kilobytes; a megabyte is far beyond it and still read in well under a second.
MAX_DOCUMENT_BYTES = 2**20
# Levels of nested lists and mappings: a config is 3 deep (fsdp_config: {...: [...]}); deeper is only a
# way to exhaust the parser's recursion.
MAX_NESTING = 32

# -- the knowledge lab (lrexplorer knowledge, the Knowledge lab page)
MAX_LAB_SEEDS = 20  # fine-tuning repeats per paraphrase count: past ~10 the error bars barely narrow
MAX_TOP_K = 50  # documents retrieved into a prompt; also at most the facts in the set
MAX_LAB_BATCH = 4096  # documents per fine-tuning update
MAX_LAB_EPOCHS = 1000.0
MAX_LAB_LR = 10.0
MAX_FACT_FILE_BYTES = 16 * 2**20  # the built-in set is 0.2 MB
MAX_FACTS = 10_000  # facts in one file (the built-in set has 150)
MAX_FACT_ITEMS = 100  # paraphrases, questions or candidates of one fact
MAX_FACT_CHARS = 2_000  # one statement, paraphrase, question or answer (a prompt of the lab is ~256 tokens)

# -- the LR range test (lrexplorer lr-find, the Tune page): start_lr and end_lr are bounded by MAX_LR.
MAX_RANGE_STEPS = 10_000
MAX_EARLY_STOP = 1e6  # early_stop_threshold: a loss a million times its best has long diverged

# -- sweeps (lrexplorer sweep, the Tune page); the sweep's seed is bounded by MAX_SEED.
MAX_TRIALS = 1000
MAX_SPACE_FIELDS = 32  # fields one space varies
MAX_SPACE_VALUES = 1000  # values listed for one field

# -- several machines (train --export) and the runs commands
MAX_MACHINES = 4096
MAX_STOP_WAIT_S = 3600.0  # runs stop --timeout: an hour to finish the current step is more than any step takes
MAX_SHOWN_RECORDS = 1_000_000  # runs show --metrics
MAX_SHOWN_SEQUENCES = 20  # sequences the data view renders token by token


def tokens_problem(batch: int, length: int | None) -> str | None:
    """Why per_device_train_batch_size x max_length is too many tokens for one micro-batch, or None."""
    if length is None or batch * length <= MAX_TOKENS:
        return None
    return (
        f"{batch} x max_length {length} = {batch * length:,} tokens per micro-batch; at most {MAX_TOKENS:,} "
        "(lower the batch and use gradient_accumulation_steps)"
    )
