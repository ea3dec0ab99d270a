"""Rules of the batch: its shape (padding_free, packing, max_length), its size, streamed data, and activation
checkpointing's options."""

from __future__ import annotations

from lrexplorer.core.fields import FieldError
from lrexplorer.core.groups import MEMORY
from lrexplorer.core.limits import tokens_problem
from lrexplorer.rules.rule import BOTH, Subject, advice, refusal


@refusal("max_length")
def packing_needs_max_length(s: Subject) -> str | None:
    """packing without a max_length: there is no sequence length to fill."""
    if s.values["packing"] and s.values["max_length"] is None:
        return "packing fills sequences of max_length tokens; give a number"
    return None


@refusal("padding_free")
def padding_free_keeps_full_length(s: Subject) -> str | None:
    """padding_free with a max_length and no packing, which SFTTrainer refuses."""
    # Its padding-free collator does not cut examples to max_length; only packing does.
    v = s.values
    if v["padding_free"] and not v["packing"] and v["max_length"] is not None:
        return (
            "without packing, TRL refuses padding_free with a max_length; set max_length to null "
            "(every example keeps its full length), turn packing on, or turn padding_free off"
        )
    return None


@advice("warning", "padding_free")
def padding_free_with_wrapped_packing(s: Subject) -> str | None:
    """padding_free with wrapped packing, which TRL advises against."""
    v = s.values
    if v["packing"] and v["packing_strategy"] == "wrapped" and v["padding_free"]:
        return "padding_free with wrapped packing: TRL advises against it (wrapped rows cut documents anywhere)."
    return None


@advice("info", "packing_strategy")
def packing_strategy_unused(s: Subject) -> str | None:
    """packing_strategy set while packing is off."""
    if not s.values["packing"] and s.values["packing_strategy"] != "bfd":
        return "packing_strategy is ignored because packing is off."
    return None


@refusal("packing", tools=(MEMORY,))
def batch_shape_needs_sft(s: Subject) -> FieldError | None:
    """packing or padding_free for a trainer other than TRL's SFTTrainer."""
    v = s.values
    if (v["packing"] or v["padding_free"]) and v["trainer"] != "sft":
        name = "packing" if v["packing"] else "padding_free"
        return FieldError(name, "is an SFTConfig setting: it needs trainer sft")
    return None


@refusal("max_steps")
def streaming_needs_max_steps(s: Subject) -> str | None:
    """A streamed dataset without max_steps."""
    if s.values["dataset_streaming"] and s.values["max_steps"] == -1:
        return (
            "a streamed dataset has no length, so the number of updates cannot come from num_train_epochs; "
            "set max_steps >= 1"
        )
    return None


@refusal("per_device_train_batch_size", tools=BOTH)
def tokens_per_micro_batch(s: Subject) -> str | None:
    """More tokens in one micro-batch than any step should hold."""
    return tokens_problem(s.values["per_device_train_batch_size"], s.values["max_length"])


@advice("info", "activation_checkpointing_kwargs")
def checkpointing_options_unused(s: Subject) -> str | None:
    """activation_checkpointing_kwargs without activation_checkpointing."""
    if s.values["activation_checkpointing_kwargs"] and not s.values["activation_checkpointing"]:
        return "activation_checkpointing_kwargs is ignored because activation_checkpointing is off."
    return None
