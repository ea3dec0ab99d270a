"""`lrexplorer lr-find`: the LR range test of a run, as a run of its own, and the LRs it suggests.

Takes every training flag of `lrexplorer train` (the model, data, batch and optimizer under test) and
the range test's own settings. The test runs in the same worker as any run (its own folder, the device
lock, live metrics, Ctrl-C stops it); it sets max_steps, the LR and the logging itself and saves no
model, so it never changes what the next run starts from.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lrexplorer.catalogues.params import TRAIN
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.cli.options import add_fields, flag_help
from lrexplorer.cli.train import add_command, add_run_options, follow, read_fields
from lrexplorer.core.fields import FieldError
from lrexplorer.tuning.lr_range import RANGE_FIELDS

TOOL = "lr_find"
EPILOG = """\
examples:
  lrexplorer lr-find                                  # the built-in model and data, fastai's defaults
  lrexplorer lr-find --model ./my-model --dataset data.jsonl --num_steps 60 --json
  lrexplorer lr-find --config run.yaml --end_lr 1 --mode linear

The suggestions: valley (fastai's default: two thirds down the longest falling stretch of the smoothed
loss), steep (steepest fall per log-LR), minimum (LR of the lowest smoothed loss / 10), lightning
(Lightning's steepest gradient). exit status: 0 done (also when it stopped early, as intended); 1 failed;
3 stopped; 2 invalid flags; 4 device busy."""


def add_parser(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "lr-find",
        "LR range test: train with a growing LR and suggest a learning rate",
        "Run an LR range test (fastai's lr_find / Lightning's Tuner.lr_find) on the run the training "
        "flags describe: one optimizer update per LR, from --start_lr to --end_lr, stopping once the smoothed "
        "loss runs away. The result (lrs, losses, smoothed, stopped_early, suggestions) goes to lr_find.json "
        "in the run folder.",
        EPILOG,
    )
    p.set_defaults(handler=run)
    group = p.add_argument_group("range test")
    for field in RANGE_FIELDS:
        group.add_argument(f"--{field.name}", default=None, metavar="VALUE", help=flag_help(field, TOOL))
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    add_run_options(p)
    p.add_argument("--quiet", action="store_true", help="print only the result")
    add_fields(p, TRAIN)


def run(args: argparse.Namespace) -> int:
    from lrexplorer.frontend.tuning_launch import start_range_test
    from lrexplorer.runs.folder import lock
    from lrexplorer.runs.kinds.range_test import read_result
    from lrexplorer.tuning.lr_range import RangeTest

    test = RangeTest.from_fields(
        {f.name: getattr(args, f.name) for f in RANGE_FIELDS if getattr(args, f.name) is not None}
    )
    try:
        run_dir = start_range_test(read_fields(args), test, args.runs_dir, queue=args.queue)
    except FieldError:
        raise
    except lock.DeviceBusy as exc:
        print(f"lrexplorer lr-find: {exc}", file=sys.stderr)
        return Exit.DEVICE_BUSY
    except (FileExistsError, ValueError) as exc:
        raise FieldError("output_dir", str(exc)) from None
    print(f"run folder: {run_dir}", file=sys.stderr)
    # With --json the progress goes to stderr: stdout carries the result alone.
    code = follow(run_dir, sys.stderr if args.json else args.out, quiet=args.quiet or args.json)
    result = read_result(run_dir)
    if result is None:
        return code or Exit.FAILED
    if args.json:
        print(json.dumps({**result, "run": str(run_dir)}), file=args.out)
    else:
        print(summary(result), file=args.out)
    return code


def summary(result: dict[str, Any]) -> str:
    lines = [f"{len(result['lrs'])} updates, stopped early: {'yes' if result['stopped_early'] else 'no'}"]
    for name, lr in result["suggestions"].items():
        lines.append(f"  {name:<9} {'-' if lr is None else f'{lr:.3g}'}")
    return "\n".join(lines)
