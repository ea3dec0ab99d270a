"""The notes' `TrainingArguments(...)` example, corrected and regenerated from the parameter catalogue.

`NOTES_EXAMPLE` is the notes' call as data (their settings, in their order). `corrected_example`
turns it into code for the installed transformers: names go through `params.RENAMED` (new name,
new value, or dropped), every value is checked by the catalogue's `Param.convert`, and a schedule
that ignores warmup is swapped for its warmup variant from the schedules catalogue. The notes' text
itself is never copied: each problem found becomes a comment in the code and a line in `changes`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lrexplorer.catalogues import params
from lrexplorer.schedules import CATALOGUE as SCHEDULES


@dataclass(frozen=True)
class Var:
    """A Python name rather than a value (the notes pass `output_model` to two arguments)."""

    name: str


OUTPUT_VAR = Var("output_model")
OUTPUT_PATH = "runs/notes-example"

# (argument, value) as the notes write them; None as a value marks a line the notes comment out.
NOTES_EXAMPLE: tuple[tuple[str, Any], ...] = (
    ("output_dir", OUTPUT_VAR),
    ("max_steps", None),
    ("logging_steps", 10),
    ("num_train_epochs", 2),
    ("save_strategy", "epoch"),
    ("per_device_train_batch_size", 4),
    ("save_safetensors", True),
    ("torch_compile", False),
    ("gradient_accumulation_steps", 1),
    ("gradient_checkpointing", True),
    ("gradient_checkpointing_kwargs", {"use_reentrant": False}),
    ("fp16", False),
    ("bf16", False),
    ("tf32", False),
    ("max_grad_norm", 0.3),
    ("learning_rate", 5e-5),
    ("optim", "adamw_8bit"),
    ("lr_scheduler_type", "constant"),
    ("warmup_ratio", 0.03),
    ("seed", 42),
    ("run_name", OUTPUT_VAR),
    ("group_by_length", False),
    ("report_to", "wandb"),
    ("push_to_hub", False),
)
COMMENTED_OUT = {"max_steps": -1}  # the notes' commented line `# max_steps=-1`
NOTES_PROBLEMS = (
    "A comma is missing after `run_name=output_model`: the notes' call is a syntax error.",
    "`output_model` is used but never defined.",
)


@dataclass(frozen=True)
class Corrected:
    code: str
    arguments: dict[str, Any]  # the keyword arguments of the generated call (Var for names)
    changes: list[str] = field(default_factory=list)


def literal(value: Any) -> str:
    """Python source for a value: double-quoted strings, as the notes write them."""
    if isinstance(value, Var):
        return value.name
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and 0 < abs(value) < 1e-3:
        mantissa, exponent = f"{value:g}".split("e")
        return f"{mantissa}e{int(exponent)}"  # 5e-5 as people write it, not 5e-05
    return repr(value)


def _checked(name: str, value: Any) -> Any:
    """The catalogue's validation (FieldError names the field); Var stands for a string."""
    if isinstance(value, Var):
        return value
    return params.CATALOGUE[name].convert(value)


def corrected_example(installed: frozenset[str] | set[str] = frozenset()) -> Corrected:
    """The notes' example as code that runs with the installed transformers.

    `installed`: optional packages present (the page passes what it finds), so `report_to="wandb"`
    stays only where wandb can be imported.
    """
    args: dict[str, Any] = {}
    comments: dict[str, str] = {}
    dropped: list[str] = []
    changes = list(NOTES_PROBLEMS)
    for old_name, old_value in NOTES_EXAMPLE:
        if old_value is None:
            continue
        name, value = old_name, old_value
        renamed = params.RENAMED_BY_OLD.get(name)
        if renamed is not None:
            new_value = value
            if renamed.values is not None:
                if value not in renamed.values:
                    raise ValueError(f"{name}={value!r}: the catalogue has no current form for this value")
                new_value = renamed.values[value]
            if renamed.new is None or new_value is None:
                dropped.append(f"# {name}={literal(value)}: {renamed.note}")
                changes.append(f"`{name}` dropped: {renamed.note}")
                continue
            comments[renamed.new] = f"formerly {name}" + ("" if new_value == value else f"={literal(value)}")
            changes.append(f"`{name}` → `{renamed.new}={literal(new_value)}`: {renamed.note}")
            name, value = renamed.new, new_value
        if name in params.CATALOGUE:
            value = _checked(name, value)
        else:
            comments[name] = "not in the catalogue: as the notes write it"
        args[name] = value
    _fix_schedule(args, comments, changes)
    _fix_report_to(args, comments, changes, installed)
    if args.get("optim", "").endswith("8bit"):
        comments.setdefault("optim", "needs the bitsandbytes package")
    return Corrected(code=_render(args, comments, dropped), arguments=args, changes=changes)


def _fix_schedule(args: dict[str, Any], comments: dict[str, str], changes: list[str]) -> None:
    """A warmup with a schedule that ignores it (transformers' `constant`) would silently do nothing."""
    name = str(args.get("lr_scheduler_type"))
    warmup = args.get("warmup_steps", 0)
    schedule = SCHEDULES.get(name)
    if schedule is None or schedule.uses_warmup or not warmup:
        return
    variant = f"{name}_with_warmup"
    if variant in SCHEDULES:
        args["lr_scheduler_type"] = variant
        comments["lr_scheduler_type"] = f'notes: "{name}", which ignores the warmup'
        changes.append(f'`lr_scheduler_type="{name}"` → `"{variant}"`: "{name}" ignores the warmup the notes ask for.')


def _fix_report_to(
    args: dict[str, Any], comments: dict[str, str], changes: list[str], installed: frozenset[str] | set[str]
) -> None:
    target = args.get("report_to")
    if target in (None, "none", "all") or target in installed:
        return
    args["report_to"] = "none"
    comments["report_to"] = f'notes: "{target}" (pip install {target} first)'
    changes.append(
        f'`report_to="{target}"` → `"none"`: the {target} package is not installed here '
        "(the Trainer would refuse to start)."
    )


def _render(args: dict[str, Any], comments: dict[str, str], dropped: list[str]) -> str:
    lines = [
        "from transformers import TrainingArguments",
        "",
        f"{OUTPUT_VAR.name} = {json.dumps(OUTPUT_PATH)}  # the notes use it without defining it",
        "",
        "training_args = TrainingArguments(",
    ]
    for name, value in args.items():
        line = f"    {name}={literal(value)},"
        if name in comments:
            line += f"  # {comments[name]}"
        lines.append(line)
        if name == "output_dir":
            lines += [f"    # {k}={literal(v)},  (commented out in the notes)" for k, v in COMMENTED_OUT.items()]
    lines += [f"    {d}" for d in dropped]
    lines.append(")")
    return "\n".join(lines) + "\n"
