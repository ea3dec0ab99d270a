"""Catalogue fields of the group "Model and data": what is trained, on what, in which order."""

from __future__ import annotations

from lrexplorer.core.fields import Field
from lrexplorer.core.groups import MEMORY, TRAIN
from lrexplorer.core.limits import MAX_LENGTH, MAX_SEED, MAX_WORKERS

G = "model-data"

MODEL_DATA: tuple[Field, ...] = (
    Field(
        "model",
        "str",
        "builtin:tiny",
        "What to fine-tune: builtin:tiny (a 3.4M-parameter Llama made from a config, offline), a local folder "
        "in the Hub's format, or a Hub model id. Memory estimates also take a bundled architecture preset "
        "(`lrexplorer memory --list`) or a config.json.",
        G,
        "fine-tuning",
        tools=(TRAIN, MEMORY),
        tool_defaults={MEMORY: "Llama-3.2-1B"},
        target="model",
        library_default=None,
        trl_name="model_name_or_path",
    ),
    Field(
        "dataset",
        "str",
        "builtin:arithmetic",
        "Chat data with a `messages` column: builtin:arithmetic, "
        "builtin:facts, a local JSONL/CSV/Parquet file or folder, or a Hub dataset id.",
        G,
        "knowledge-injection",
        target="data",
        library_default=None,
        trl_name="dataset_name",
    ),
    Field(
        "dataset_config",
        "str",
        None,
        "Configuration (subset) name of a Hub dataset.",
        G,
        "fine-tuning",
        target="data",
        nullable=True,
    ),
    Field("dataset_train_split", "str", "train", "Split used for training.", G, "fine-tuning", target="data"),
    Field(
        "dataset_test_split",
        "str",
        "test",
        "Split used for evaluation when eval_strategy is not no.",
        G,
        "evaluation",
        target="data",
    ),
    Field(
        "dataset_streaming",
        "bool",
        False,
        "Stream the dataset instead of downloading it; a stream has no length, so max_steps must say when to stop.",
        G,
        "training-length",
        target="data",
    ),
    Field(
        "max_length",
        "int",
        128,
        "Longest tokenized example, in tokens; longer ones are cut. null keeps every token (a memory estimate "
        "then takes the model's maximum position). Memory for activations and logits grows with it.",
        G,
        "batch-size",
        tools=(TRAIN, MEMORY),
        tool_defaults={MEMORY: 1024},
        library_default=1024,
        low=1,
        nullable=True,
        high=MAX_LENGTH,
    ),
    Field(
        "assistant_only_loss",
        "bool",
        False,
        "Compute the loss only on the assistant's replies, not on the "
        "prompts (the chat template must mark them with {% generation %}).",
        G,
        "fine-tuning",
    ),
    Field(
        "packing",
        "bool",
        False,
        "Join several examples into each training sequence of up to max_length tokens (TRL packs them after "
        "tokenizing), so fewer sequences, and fewer optimizer updates per epoch, carry the same tokens. The "
        "memory estimate then takes rows of max_length; needs trainer sft there.",
        G,
        "batch-size",
        tools=(TRAIN, MEMORY),
    ),
    Field(
        "packing_strategy",
        "choice",
        "bfd",
        "How packing joins examples: bfd (best-fit decreasing: whole examples fill each sequence, the part of an "
        "example beyond max_length is dropped; trains padding-free), bfd_split (the same, but a long example is "
        "split into pieces instead of cut) or wrapped (every example end to end, cut every max_length tokens "
        "wherever that falls). Used only with packing.",
        G,
        "batch-size",
        choices=("bfd", "bfd_split", "wrapped"),
    ),
    Field(
        "trust_remote_code",
        "bool",
        False,
        "Run Python code shipped with a Hub model. Off unless you trust the model's authors.",
        G,
        target="model",
    ),
    Field(
        "dataloader_num_workers",
        "int",
        0,
        "Background processes preparing batches; 0 prepares them in the training process.",
        G,
        "speed",
        low=0,
        high=MAX_WORKERS,
    ),
    Field(
        "train_sampling_strategy",
        "choice",
        "random",
        "Order of training examples: shuffled, in file order, "
        "or grouped by length so batches need less padding (formerly group_by_length=True).",
        G,
        "speed",
        choices=("random", "sequential", "group_by_length"),
    ),
    Field(
        "seed",
        "int",
        42,
        "Seed for weight initialisation, LoRA adapters, shuffling and dropout: the same seed gives the same run.",
        G,
        "tracking",
        low=0,
        high=MAX_SEED,
    ),
)
