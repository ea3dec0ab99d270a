"""Catalogue fields of a generation-memory estimate (`lrexplorer memory --task generate`, the Memory page's
Generation tab): the batch and lengths of a `model.generate` call. The model, dtype, attention kernel,
device and 4-bit loading are the memory tool's own fields."""

from __future__ import annotations

from lrexplorer.core.fields import Field
from lrexplorer.core.groups import MEMORY
from lrexplorer.core.limits import MAX_BATCH, MAX_LENGTH

GENERATION_FIELDS: tuple[Field, ...] = (
    Field(
        "batch_size",
        "int",
        1,
        "With --task generate: prompts generated at once; each keeps its own key/value cache.",
        "memory",
        "batch-size",
        tools=(MEMORY,),
        target="estimate",
        low=1,
        high=MAX_BATCH,
    ),
    Field(
        "prompt_length",
        "int",
        512,
        "With --task generate: tokens in each prompt (every prompt of the batch this long, so no padding).",
        "memory",
        tools=(MEMORY,),
        target="estimate",
        low=1,
        high=MAX_LENGTH,
    ),
    Field(
        "max_new_tokens",
        "int",
        256,
        "With --task generate: tokens generated after the prompt (GenerationConfig's max_new_tokens). The "
        "estimate assumes every one is generated: no sequence ends early at its end-of-sequence token.",
        "memory",
        tools=(MEMORY,),
        target="estimate",
        low=1,
        high=MAX_LENGTH,
    ),
    Field(
        "min_new_tokens",
        "int",
        None,
        "With --task generate: GenerationConfig's min_new_tokens. With an end-of-sequence token it adds two "
        "logits processors that copy the scores (batch x vocabulary floats each); null: none.",
        "memory",
        tools=(MEMORY,),
        target="estimate",
        low=0,
        high=MAX_LENGTH,
        nullable=True,
    ),
)

# The fields a generation estimate reads besides its own (the rest of the memory tool's are a training step's).
SHARED_WITH_TRAINING = ("model", "dtype", "attn_implementation", "device", "load_in_4bit", "bnb_4bit_use_double_quant")
GENERATION_NAMES = tuple(f.name for f in GENERATION_FIELDS)
