"""How many sequences the Trainer batches per epoch, which sets the number of optimizer updates.

SFTTrainer does not batch the dataset's rows: it batches what its preparation makes of them. Packing joins
rows into fewer sequences (best-fit decreasing, in map batches of 1000 rows), and without packing the rows
that max_length leaves with no trained token are dropped. So the count comes from TRL's own preparation of
the data (`runs/training/prepare.py`), never from the rows. Only when that preparation is too large for a
page that recounts on every change is the row count used, and only where it is exact: no packing, and no
mask that could leave a row without a trained token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrexplorer.catalogues import builtin
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.estimates import count_examples

# Data the Train page prepares on each change of a data setting (TRL takes ~0.3 s per 100 KiB of chat rows
# on the 2-core machine of bench/README.md); larger data is prepared by `lrexplorer data` and `runs export`.
PAGE_DATA_BYTES = 4 * 2**20


@dataclass(frozen=True)
class SequenceCount:
    sequences: int | None  # what the Trainer batches; None when unknown
    rows: int | None  # rows of the train split, when known
    how: str  # where the count comes from, or why it is unknown (a sentence)
    problem: FieldError | None = None  # data TRL would refuse at the start


def data_bytes(values: dict[str, Any], stop_at: int | None = None) -> int | None:
    """Bytes of a built-in or local dataset (a folder's files summed, stopping past `stop_at`); None for the Hub."""
    ref = values["dataset"]
    path = Path(builtin.dataset_files(builtin.builtin_name(ref))["train"]) if builtin.is_builtin(ref) else Path(ref)
    try:
        path = path.expanduser()
        if path.is_file():
            return path.stat().st_size
        if not path.is_dir():
            return None
        total = 0
        for dirpath, _dirs, files in os.walk(path):
            total += sum(os.stat(os.path.join(dirpath, f)).st_size for f in files)
            if stop_at is not None and total > stop_at:
                break
        return total
    except (OSError, ValueError):
        return None


def count_sequences(values: dict[str, Any], max_bytes: int | None = PAGE_DATA_BYTES) -> SequenceCount:
    """The training sequences of a run's values: TRL's preparation of built-in or local data up to `max_bytes`
    (None: any size), else the rows where they are exact. Never raises: a problem is returned."""
    if values["dataset_streaming"]:
        return SequenceCount(None, None, "a streamed dataset has no length")
    size = data_bytes(values, max_bytes)
    if size is None:
        return SequenceCount(None, None, "only a built-in or local dataset is read before the run loads it")
    if max_bytes is not None and size > max_bytes:
        return _rows_only(values, size, max_bytes)
    from lrexplorer.runs.training.prepare import prepare

    try:
        prepared = prepare(values)
    except FieldError as exc:
        return SequenceCount(None, None, "TRL cannot prepare the dataset", problem=exc)
    if not prepared.sequences:
        problem = FieldError(
            "max_length",
            f"all {prepared.rows:,} rows are cut before their first trained token, so TRL drops every one; "
            "raise max_length",
        )
        return SequenceCount(0, prepared.rows, "TRL's preparation keeps no row", problem=problem)
    return SequenceCount(prepared.sequences, prepared.rows, describe(values, prepared.rows, prepared.sequences))


def describe(values: dict[str, Any], rows: int, sequences: int) -> str:
    """How TRL's preparation turned the rows into sequences, in words."""
    if values["packing"]:
        return (
            f"TRL packs the {rows:,} rows into {sequences:,} sequences of at most {values['max_length']:,} tokens "
            f"({values['packing_strategy']})"
        )
    dropped = rows - sequences
    if dropped:
        return (
            f"{rows:,} rows, of which TRL drops {dropped:,}: cut to max_length ({values['max_length']:,}), they keep "
            "no trained token"
        )
    return f"{rows:,} rows, one sequence each (TRL's preparation drops none)"


def _rows_only(values: dict[str, Any], size: int, max_bytes: int) -> SequenceCount:
    """The row count where it equals TRL's sequences without preparing: no packing, and every label trained."""
    rows = count_examples(values)
    big = f"the dataset ({size / 2**20:.1f} MiB) is larger than the page prepares ({max_bytes / 2**20:.0f} MiB)"
    if rows is None:
        return SequenceCount(None, None, f"{big}; `lrexplorer data` counts its sequences")
    if values["packing"] or values["assistant_only_loss"] or _prompt_completion(values):
        return SequenceCount(
            None,
            rows,
            f"{big}, and packing or a loss mask changes how many of its {rows:,} rows become sequences; "
            "`lrexplorer data` counts them",
        )
    return SequenceCount(rows, rows, f"{rows:,} rows, one sequence each: every token is trained, so TRL drops none")


def _prompt_completion(values: dict[str, Any]) -> bool:
    """Whether the JSONL's first row is a prompt/completion pair (TRL then trains on the completion only)."""
    ref = values["dataset"]
    path = builtin.dataset_files(builtin.builtin_name(ref))["train"] if builtin.is_builtin(ref) else ref
    try:
        with open(Path(path).expanduser(), encoding="utf-8") as fh:
            first = json.loads(fh.readline())
    except (OSError, ValueError):
        return True  # unknown: not exact
    return isinstance(first, dict) and "prompt" in first and "completion" in first
