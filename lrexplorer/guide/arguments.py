"""The TrainingArguments the notes explain, resolved through the parameter catalogue.

The notes name each argument as an older transformers release did. `resolve` maps a notes name to
the catalogue entry under its current name (via `params.RENAMED`), or says it was removed, or that
the catalogue does not hold it. Nothing about an argument is written here: help texts, defaults and
renames all come from `lrexplorer.catalogues.params`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lrexplorer.catalogues import params
from lrexplorer.guide.content import LESSONS

# Every argument the notes explain or set, spelled and ordered as in the notes (their list of
# arguments, then the fields only their example sets). This is a fact about the notes, not a copy
# of the catalogue: it is what the Guide must account for.
NOTES_ARGUMENTS: tuple[str, ...] = (
    "gradient_accumulation_steps",
    "weight_decay",
    "max_grad_norm",
    "gradient_checkpointing",
    "gradient_checkpointing_kwargs",
    "torch_compile",
    "save_safetensors",
    "jit_mode_eval",
    "bf16",
    "fp16",
    "fp16_opt_level",
    "tf32",
    "lr_scheduler_type",
    "lr_scheduler_kwargs",
    "warmup_ratio",
    "warmup_steps",
    "learning_rate",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "num_train_epochs",
    "max_steps",
    "evaluation_strategy",
    "per_device_train_batch_size",
    "logging_strategy",
    "logging_steps",
    "save_strategy",
    "save_steps",
    "dataloader_num_workers",
    "run_name",
    "optim",
    "optim_args",
    "group_by_length",
    "report_to",
    "output_dir",
    "seed",
    "push_to_hub",
)

SAME, RENAMED, REMOVED, MISSING = "current", "renamed", "removed", "not in the catalogue"


@dataclass(frozen=True)
class NotesArgument:
    notes_name: str
    status: str  # SAME, RENAMED, REMOVED or MISSING
    param: params.Field | None  # the catalogue entry under the current name
    note: str = ""  # the catalogue's rename note

    @property
    def current_name(self) -> str | None:
        return self.param.name if self.param else None


def resolve(notes_name: str) -> NotesArgument:
    if notes_name in params.CATALOGUE:
        return NotesArgument(notes_name, SAME, params.CATALOGUE[notes_name])
    renamed = params.RENAMED_BY_OLD.get(notes_name)
    if renamed is not None:
        if renamed.new is None:
            return NotesArgument(notes_name, REMOVED, None, renamed.note)
        return NotesArgument(notes_name, RENAMED, params.CATALOGUE.get(renamed.new), renamed.note)
    return NotesArgument(notes_name, MISSING, None)


def notes_arguments() -> list[NotesArgument]:
    return [resolve(n) for n in NOTES_ARGUMENTS]


def concept_lessons() -> dict[str, str]:
    """Catalogue concept id -> id of the lesson that teaches it (the first lesson that claims it)."""
    out: dict[str, str] = {}
    for lesson in LESSONS:
        for concept in lesson.concepts:
            out.setdefault(concept, lesson.id)
    return out


def lesson_for(param: params.Field) -> str:
    return concept_lessons().get(param.concept or "", "arguments")


def show_value(value: Any) -> str:
    """A default as one writes it in Python: None, True, "text", {"a": 1}."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def param_row(param: params.Field) -> dict[str, str]:
    """One row of the argument reference. `when` and `typical` show only if the catalogue has them."""
    default = show_value(param.hf_default)
    if param.library_default is not params.SAME:
        default += f" (lrexplorer: {show_value(param.default)})"
    row = {
        "argument": param.name,
        "what it does": param.help,
        "default": default,
        "allowed": param.allowed(),
        "used by": ", ".join(param.tools),
        "formerly": ", ".join(params.renamed_from(param.name)),
    }
    for extra in ("when", "typical"):  # optional catalogue fields, not defined yet (see the report)
        value = getattr(param, extra, None)
        if value:
            row[extra] = str(value)
    return row


def grouped_rows() -> dict[str, list[dict[str, str]]]:
    """Every catalogue field (of every tool), by the catalogue's groups, in catalogue order."""
    return {params.GROUPS[g]: [param_row(p) for p in ps] for g, ps in params.by_group(None).items() if ps}
