"""A run's training data as SFTTrainer prepares it, by TRL's own code and without a model.

`SFTTrainer.__init__` prepares the train split in `_prepare_dataset`: the chat template applied and
tokenized, labels built from the assistant / completion masks, then either each row cut to max_length
(dropping the rows left without a trained token) or the rows packed into sequences of max_length. That
method reads three attributes of the trainer (`_tokenizer`, `chat_template`, `completion_only_loss`), so
here it runs on a stand-in that holds them, set as `__init__` sets them: no model, no accelerator, no
output folder. It is TRL's private API, hence `uses_internals` (a release that moves it says so) and a test
that compares the result with a real trainer's `train_dataset`.

The result is cached by the settings it depends on (`PREPARE_FIELDS`) and the data file's signature, so a
form that changes the learning rate prepares nothing again. The dataset is held in memory: the maps write no
cache files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.params import FieldError
from lrexplorer.core.compat import uses_internals

# Everything the preparation depends on: the tokenizer, the data, and the SFTConfig fields `_prepare_dataset`
# reads that a run can set (the others keep SFTConfig's defaults in a run too; a test checks the list).
SOURCE_FIELDS = ("model", "trust_remote_code", "dataset", "dataset_config", "dataset_train_split")
SFT_FIELDS = ("max_length", "packing", "packing_strategy", "padding_free", "assistant_only_loss", "seed")
PREPARE_FIELDS = SOURCE_FIELDS + SFT_FIELDS


@dataclass(frozen=True)
class Prepared:
    """The train split as the Trainer receives it (`data`: input_ids and labels per sequence, plus
    seq_lengths, the document lengths, under BFD packing) and what it was made from."""

    rows: int  # rows of the train split as loaded
    data: Any  # datasets.Dataset: the sequences the Trainer batches
    padding_free: bool  # the collator joins a batch into one row (padding_free, or BFD packing)
    tokenizer: Any

    @property
    def sequences(self) -> int:
        return len(self.data)


def is_local(values: dict[str, Any]) -> bool:
    """Whether the dataset is built in or a local file or folder (nothing to download)."""
    ref = values["dataset"]
    if builtin.is_builtin(ref):
        return True
    try:
        return Path(ref).expanduser().exists()
    except (OSError, ValueError):
        return False


def data_signature(values: dict[str, Any]) -> tuple[int, int] | None:
    """(mtime_ns, size) of a local data file or folder, so an edited file is prepared again; None for the Hub."""
    ref = values["dataset"]
    path = Path(builtin.dataset_files(builtin.builtin_name(ref))["train"]) if builtin.is_builtin(ref) else Path(ref)
    try:
        info = os.stat(path.expanduser())
    except (OSError, ValueError):
        return None
    return info.st_mtime_ns, info.st_size


def prepare(values: dict[str, Any], *, raw: bool = False) -> Prepared:
    """The run's prepared train split; with `raw`, every row whole (no cut, no packing) for the lengths before
    truncation. Raises FieldError naming the field for data TRL refuses (a stream, a non-chat dataset with
    assistant_only_loss, ...)."""
    if values["dataset_streaming"]:
        raise FieldError("dataset_streaming", "a streamed dataset has no rows to prepare in advance")
    key = tuple(_hashable(values[name]) for name in PREPARE_FIELDS)
    return _prepared(key, data_signature(values), raw)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@lru_cache(maxsize=8)
def _prepared(key: tuple[Any, ...], signature: tuple[int, int] | None, raw: bool) -> Prepared:
    # `signature` is part of the cache key only: an edited data file is prepared again.
    from lrexplorer.runs.training import sources

    values = dict(zip(PREPARE_FIELDS, key))
    if raw:
        values.update(max_length=None, packing=False, padding_free=False)
    tokenizer = sources.load_tokenizer(values)
    rows = load_train(values)
    data, padding_free = trl_prepare(rows, tokenizer, values)
    return Prepared(rows=len(rows), data=data, padding_free=padding_free, tokenizer=tokenizer)


def load_train(values: dict[str, Any]) -> Any:
    """The train split, loaded as the worker loads it, then held in memory (so that maps write no cache files)."""
    from datasets import Dataset
    from datasets.table import InMemoryTable

    from lrexplorer.runs.training import sources

    with _quiet():
        train, _ = sources.load_splits({**values, "dataset_streaming": False, "eval_strategy": "no"})
    return Dataset(InMemoryTable(train.data.table), info=train.info)


def sft_args(values: dict[str, Any]) -> Any:
    """An SFTConfig with the run's preparation settings (the rest at SFTConfig's defaults, as in a run)."""
    import warnings

    from trl import SFTConfig

    with warnings.catch_warnings():  # SFTConfig's own default of a renamed argument warns: not the user's doing
        warnings.simplefilter("ignore", FutureWarning)
        return SFTConfig(
            output_dir=os.path.join(tempfile.gettempdir(), "lrexplorer-prepare"),  # never written: no trainer
            report_to="none",
            use_cpu=True,
            bf16=False,
            fp16=False,
            **{name: values[name] for name in SFT_FIELDS},
        )


def trl_prepare(rows: Any, tokenizer: Any, values: dict[str, Any]) -> tuple[Any, bool]:
    """(prepared dataset, padding_free): `SFTTrainer._prepare_dataset` on a stand-in trainer."""
    from trl import SFTTrainer
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers
    from trl.data_utils import is_conversational

    args = sft_args(values)
    if not len(rows):
        raise FieldError("dataset", f"{values['dataset']!r} has no training rows")
    first = rows[0]
    if args.assistant_only_loss and not is_conversational(first):
        raise FieldError(
            "assistant_only_loss", "needs a conversational dataset (a messages column, or chat prompt/completion)"
        )
    completion_only = "prompt" in first and "completion" in first  # args.completion_only_loss is None in a run
    with uses_internals("trl", "the data view", "SFTTrainer._prepare_dataset on a stand-in trainer"):
        template = None
        if args.assistant_only_loss and not has_generation_markers(tokenizer.chat_template):
            template = get_training_chat_template(tokenizer)
        stand_in: Any = SimpleNamespace(
            _tokenizer=tokenizer, chat_template=template, completion_only_loss=completion_only
        )
        with _quiet():
            try:
                data = SFTTrainer._prepare_dataset(stand_in, rows, tokenizer, args, args.packing, None, "train")
            except ValueError as exc:  # TRL's refusal of the data itself (e.g. no assistant turn to train on)
                raise FieldError("dataset", f"TRL cannot prepare it: {str(exc).splitlines()[0][:300]}") from None
    padding_free = bool(args.padding_free or (args.packing and args.packing_strategy in ("bfd", "bfd_split")))
    return data, padding_free


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars from datasets' maps for the span of a preparation (the CLI prints JSON)."""
    from datasets.utils import logging as ds_logging

    was_on = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            ds_logging.enable_progress_bar()


def column(data: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(values of every sequence end to end, offsets: sequence i is values[offsets[i]:offsets[i+1]]) of a list
    column, read as Arrow (no Python object per token)."""
    chunked = data.select_columns([name]).with_format("arrow")[:].column(name)
    lengths = [np.asarray(c.value_lengths().fill_null(0), dtype=np.int64) for c in chunked.chunks]
    flat = [np.asarray(c.flatten(), dtype=np.int64) for c in chunked.chunks]
    counts = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return (np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)), offsets
