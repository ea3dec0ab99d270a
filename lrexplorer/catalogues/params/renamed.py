"""Names that older transformers/TRL releases (and the training notes) used, and how they read today.

Every front end accepts them through `translate`: a CLI flag, a YAML spec key or a page's query
parameter with an old name is read as the current field, with a note saying so.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from lrexplorer.core.fields import Field, FieldError


@dataclass(frozen=True)
class Renamed:
    """A name older releases or the training notes use, and how it reads today."""

    old: str
    new: str | None  # None: removed, nothing to set
    note: str
    values: dict | None = None  # old value -> new value; a value missing here is refused
    old_field: Field | None = None  # the old argument's own type and range, checked before translating


RENAMED: tuple[Renamed, ...] = (
    Renamed(
        "warmup_ratio",
        "warmup_steps",
        "transformers 5 removed warmup_ratio; warmup_steps below 1 is the same fraction.",
        old_field=Field(
            "warmup_ratio", "float", 0.0, "Fraction of the updates spent warming up.", low=0.0, high=1.0, high_open=True
        ),
    ),
    Renamed("evaluation_strategy", "eval_strategy", "the old name is gone from transformers."),
    Renamed(
        "group_by_length",
        "train_sampling_strategy",
        "transformers 5 replaced it with train_sampling_strategy.",
        {True: "group_by_length", False: "random"},
    ),
    Renamed("save_safetensors", None, "transformers 5 always saves safetensors; the option is gone.", {True: None}),
    Renamed(
        "gradient_checkpointing",
        "activation_checkpointing",
        "deprecated alias in current transformers (removed in v6).",
    ),
    Renamed(
        "gradient_checkpointing_kwargs", "activation_checkpointing_kwargs", "deprecated alias in current transformers."
    ),
    Renamed("max_seq_length", "max_length", "TRL's old name for the cut-off length."),
    Renamed("torch_dtype", "dtype", "transformers 5 takes dtype; torch_dtype is deprecated."),
    Renamed("no_cuda", "use_cpu", "the old name is gone from transformers."),
    Renamed("model_name_or_path", "model", "TRL's name; lrexplorer also takes builtin:tiny here."),
    Renamed("dataset_name", "dataset", "TRL's name; lrexplorer also takes builtin:NAME here."),
)
RENAMED_BY_OLD: dict[str, Renamed] = {r.old: r for r in RENAMED}


def renamed_from(name: str) -> list[str]:
    """Older names of a field, for help texts and the Guide."""
    return [r.old for r in RENAMED if r.new == name]


def translate(given: Mapping[str, Any], known: Collection[str]) -> tuple[dict[str, Any], list[str], list[FieldError]]:
    """(values under current names, notes, errors): old names become current ones, with a note; a name
    that is neither in `known` nor an old name is an error suggesting the closest one."""
    out: dict[str, Any] = {}
    notes: list[str] = []
    errors: list[FieldError] = []
    for key, value in given.items():
        if key in known:
            out[key] = value
            continue
        old = RENAMED_BY_OLD.get(key)
        if old is None:
            close = difflib.get_close_matches(key, [*known, *RENAMED_BY_OLD], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            errors.append(FieldError(key, f"unknown field{hint}"))
            continue
        try:
            new_value = old.old_field.convert(value) if old.old_field is not None else value
        except FieldError as exc:
            errors.append(exc)
            continue
        if old.values is not None:
            lookup = {str(k).lower(): v for k, v in old.values.items()}
            if str(new_value).lower() not in lookup:
                errors.append(FieldError(key, f"{old.note} The value {value!r} cannot be expressed today"))
                continue
            new_value = lookup[str(new_value).lower()]
        if old.new is None:
            notes.append(f"{key} dropped: {old.note}")
            continue
        if old.new in given:
            errors.append(FieldError(key, f"give {old.new} or its old name {key}, not both"))
            continue
        out[old.new] = new_value
        notes.append(f"{key} read as {old.new}={new_value}: {old.note}")
    return out, notes, errors
