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
    p.add_argument(
        "--check",
        action="store_true",
        help="check the flags, the model and data and the folder as a start would, and exit (0: it can start); "
        "nothing is written",
    )
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
    if args.check:
        return check(read_fields(args), test, args.runs_dir)
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


def check(fields: dict[str, Any], test: Any, runs_dir: str | None) -> int:
    """What a start checks (the run with the test's fields over it, its model and data, its folder); writes nothing."""
    from lrexplorer.frontend.tuning_launch import range_test_fields
    from lrexplorer.runs.folder import store
    from lrexplorer.runs.folder.destination import check_new_folder
    from lrexplorer.runs.spec import RunSpec
    from lrexplorer.runs.training.sources import check_sources

    spec = RunSpec.from_dict(range_test_fields(fields, test))
    problems = check_sources(spec.values, probe_hub=False)
    if problems:
        raise FieldError.collect(problems)
    if spec["output_dir"]:
        check_new_folder(spec["output_dir"], "output_dir", store.runs_dir(runs_dir))
    print(
        f"ok: the range test can start ({test.num_steps} updates from {test.start_lr:g} to {test.end_lr:g})",
        file=sys.stderr,
    )
    return Exit.OK


def summary(result: dict[str, Any]) -> str:
    lines = [f"{len(result['lrs'])} updates, stopped early: {'yes' if result['stopped_early'] else 'no'}"]
    for name, lr in result["suggestions"].items():
        lines.append(f"  {name:<9} {'-' if lr is None else f'{lr:.3g}'}")
    return "\n".join(lines)
