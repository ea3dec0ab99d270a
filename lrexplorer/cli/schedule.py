"""`lrexplorer schedule`: the LR applied at every optimizer update of a run, as CSV or JSON.

The numbers come from `compute_curve` (numpy only) and the step counts from `plan_steps`, the same
functions the page and the training launcher use; this module only parses flags and formats output.
It must not import torch: the command has to start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from lrexplorer.catalogues.params import SCHEDULE
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.cli.options import add_fields, field_values
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.steps import StepPlan, plan_for
from lrexplorer.schedules import CATALOGUE, Curve, curve_for, get_schedule

DESCRIPTION = """\
Print the learning rate the transformers Trainer applies at each optimizer update k = 0..N-1
(the LR that update uses, i.e. scheduler.get_last_lr() just before optimizer.step()).
The run length comes from --max_steps, or from --num_examples with the batch flags and
--num_train_epochs, counted exactly as Trainer counts it. --lr_scheduler_type takes every
transformers SchedulerType value and, in CamelCase, torch.optim.lr_scheduler class names
(torch classes start after a linear warmup of --warmup_steps updates). See --list."""

EPILOG = """\
examples:
  lrexplorer schedule --lr_scheduler_type cosine --learning_rate 2e-4 --max_steps 1000 --warmup_steps 0.03
  lrexplorer schedule --lr_scheduler_type StepLR --max_steps 300 --lr_scheduler_kwargs '{"step_size": 100, "gamma": 0.5}'
  lrexplorer schedule --num_examples 5000 --per_device_train_batch_size 4 --gradient_accumulation_steps 8 --format json

exit status: 0 on success, 2 for a bad flag or value (the message names it)."""

CHUNK_ROWS = 65536  # rows formatted per write: bounded memory for long runs, few write calls


def add_parser(subparsers: Any) -> None:
    """Register `schedule`: its catalogue fields as flags (TrainingArguments names and defaults), and --list, --format."""
    p = subparsers.add_parser(
        "schedule",
        help="print the LR of every optimizer update of a run (CSV or JSON)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.set_defaults(handler=run)
    p.add_argument(
        "--list", action="store_true", help="print the catalogue of schedules (name, family, title) and exit"
    )
    p.add_argument(
        "--format",
        choices=("csv", "json"),
        default="csv",
        help="csv: a `step,lr` header and one row per update; json: the run's step counts, resolved "
        "arguments and the LR list (default: csv)",
    )
    add_fields(p, SCHEDULE)


def run(args: argparse.Namespace) -> int:
    """Handler of `lrexplorer schedule`; user errors propagate as FieldError (exit 2)."""
    out = args.out
    if args.list:
        write_catalogue(out, args.format)
        return Exit.OK
    values, notes = field_values(args, SCHEDULE)
    if values["max_steps"] == -1 and values["num_examples"] is None:
        raise FieldError(
            "max_steps",
            "give the run length: --max_steps N, or --num_examples M (with --per_device_train_batch_size, "
            "--gradient_accumulation_steps, --num_train_epochs, --world_size as needed)",
        )
    plan = plan_for(values)
    curve = curve_for(values, plan.total_steps, plan.warmup_steps)
    notes += schedule_notes(curve.name, plan.warmup_steps)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.format == "json":
        write_json(out, values, plan, curve, notes)
    else:
        write_csv(out, curve)
    return Exit.OK


def schedule_notes(name: str, warmup_steps: int) -> list[str]:
    """Surprises of the schedule itself worth telling whoever reads the numbers."""
    schedule = get_schedule(name)
    notes = []
    if schedule.metric_driven:
        notes.append(
            f"{name} changes the LR only after an evaluation reports a metric; without evaluations it stays "
            "at learning_rate, which is what is printed."
        )
    elif not schedule.uses_warmup and warmup_steps:
        notes.append(
            f"{name} ignores warmup_steps ({warmup_steps}), as transformers does; use constant_with_warmup to ramp up."
        )
    return notes


def write_csv(out: TextIO, curve: Curve) -> None:
    """`step,lr` rows; repr(float) is the shortest text that reads back to the exact same double."""
    out.write("step,lr\n")
    lrs = curve.lr.tolist()
    for start in range(0, len(lrs), CHUNK_ROWS):
        chunk = lrs[start : start + CHUNK_ROWS]
        out.write("".join(f"{k},{v!r}\n" for k, v in enumerate(chunk, start)))


def write_json(out: TextIO, values: dict[str, Any], plan: StepPlan, curve: Curve, notes: list[str]) -> None:
    doc = {
        "lr_scheduler_type": curve.name,
        "learning_rate": values["learning_rate"],
        "lr_scheduler_kwargs": curve.kwargs,
        "total_steps": plan.total_steps,
        "warmup_steps": plan.warmup_steps,
        "updates_per_epoch": plan.updates_per_epoch,
        "batches_per_epoch": plan.batches_per_epoch,
        "epochs": plan.epochs,
        "global_batch_size": plan.global_batch_size,
        "notes": notes,
        "steps": list(range(plan.total_steps)),
        "lr": curve.lr.tolist(),
    }
    json.dump(doc, out)
    out.write("\n")


def write_catalogue(out: TextIO, fmt: str) -> None:
    rows = [(s.name, s.family, s.title) for s in CATALOGUE.values()]
    if fmt == "json":
        json.dump([{"name": n, "family": f, "title": t} for n, f, t in rows], out, indent=1)
        out.write("\n")
        return
    widths = [max(len(r[i]) for r in [*rows, ("name", "family", "title")]) for i in range(2)]
    out.write(f"{'name':<{widths[0]}}  {'family':<{widths[1]}}  title\n")
    out.writelines(f"{name:<{widths[0]}}  {family:<{widths[1]}}  {title}\n" for name, family, title in rows)
