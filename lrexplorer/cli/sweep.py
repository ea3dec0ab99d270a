"""`lrexplorer sweep`: train a set of runs over chosen fields and rank them (an Optuna study).

Every trial is an ordinary run (its own folder in the runs directory, on the Runs page), started one at a
time on the device lock. The study lives in the sweep folder (--output_dir) as SQLite: Ctrl-C stops the
running trial with a checkpoint, and the same command with the same --output_dir resumes the sweep.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from lrexplorer.catalogues.params import TRAIN
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.cli.options import add_fields
from lrexplorer.cli.train import add_command, add_run_options, read_fields
from lrexplorer.core.fields import FieldError

EPILOG = """\
SPACE.yaml names run fields, each with a list of values or a range:
  learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}
  lr_scheduler_type: {values: [linear, cosine]}

examples:
  lrexplorer sweep --space space.yaml --max_steps 40 --sampler grid --output_dir runs/sweeps/lr
  lrexplorer sweep --space space.yaml --n_trials 12 --sampler tpe --pruner median --json

exit status: 0 every trial ended; 3 stopped (run the same command again to resume); 2 invalid space or flags."""


def add_parser(subparsers: Any) -> None:
    from lrexplorer.tuning.study import METRICS, PRUNERS, SAMPLERS

    p = add_command(
        subparsers,
        "sweep",
        "train runs over a search space (grid, random or TPE) and rank them",
        "A sweep over run fields with Optuna: each trial is a normal run; --output_dir is the sweep's "
        "folder (its study.db); the trials' run folders go into the runs directory.",
        EPILOG,
    )
    p.set_defaults(handler=run)
    group = p.add_argument_group("sweep")
    group.add_argument("--space", metavar="YAML", help="the search space (required to start; optional to resume)")
    group.add_argument("--n_trials", metavar="N", help="trials to run (default: the grid's size, else 10)")
    group.add_argument("--sampler", default="tpe", help=f"one of {', '.join(SAMPLERS)}; default: tpe")
    group.add_argument("--pruner", default="none", help=f"one of {', '.join(PRUNERS)}; default: none")
    group.add_argument("--metric", default="loss", help=f"what trials are ranked by: {' or '.join(METRICS)}")
    group.add_argument("--sweep_seed", default="0", metavar="N", help="seed of the sampler (default: 0)")
    p.add_argument("--json", action="store_true", help="print the ranked trials as JSON on stdout")
    add_run_options(p)
    add_fields(p, TRAIN)


def _int(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise FieldError(name, f"must be an integer; got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from lrexplorer.frontend.sweeps import run_sweep
    from lrexplorer.runs.folder import store
    from lrexplorer.runs.spec import RunSpec
    from lrexplorer.tuning.space import load_space
    from lrexplorer.tuning.study import STUDY_FILE, SweepSettings, open_sweep

    settings = SweepSettings(
        sampler=args.sampler,
        pruner=args.pruner,
        n_trials=_int("n_trials", args.n_trials),
        seed=_int("sweep_seed", args.sweep_seed) or 0,
        metric=args.metric,
    )
    base = read_fields(args)
    folder = Path(
        base.pop("output_dir", None) or store.runs_dir(args.runs_dir) / "sweeps" / f"{datetime.now():%Y%m%d-%H%M%S}"
    )
    RunSpec.from_dict(base)  # the fields every trial shares: refused before anything starts
    if args.space is None and not (folder / STUDY_FILE).exists():
        raise FieldError("space", "is required to start a sweep (give --space SPACE.yaml)")
    space = load_space(args.space) if args.space else None
    sweep = open_sweep(folder, space, settings)
    print(f"sweep folder: {folder}  ({sweep.done()} of {sweep.n_trials} trials done)", file=sys.stderr)

    stop = {"asked": False}

    def on_sigint(signum: int, frame: Any) -> None:
        stop["asked"] = True
        print("\nstopping the running trial (resume with the same command)...", file=sys.stderr)

    def on_trial(handle: Any, run_dir: Path) -> None:
        print(f"trial {handle.number} {handle.params} -> run {run_dir.name}", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        summary = run_sweep(sweep, base, args.runs_dir, lambda: stop["asked"], on_trial)
    finally:
        signal.signal(signal.SIGINT, previous)
    summary["folder"] = str(folder)
    print(json.dumps(summary) if args.json else table(summary), file=args.out)
    return Exit.STOPPED if stop["asked"] and not sweep.finished() else Exit.OK


def table(summary: dict[str, Any]) -> str:
    lines = ["rank  trial  state     value      params"]
    rows = sorted(summary["trials"], key=lambda t: (t["rank"] is None, t["rank"] or 0, t["number"]))
    for t in rows:
        value = "-" if t["value"] is None else f"{t['value']:.4f}"
        rank = "-" if t["rank"] is None else str(t["rank"])
        lines.append(f"{rank:>4}  {t['number']:>5}  {t['state']:<8}  {value:<9}  {json.dumps(t['params'])}")
    return "\n".join(lines)
