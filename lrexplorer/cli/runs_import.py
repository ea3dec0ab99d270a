"""`lrexplorer runs import FOLDER [--run_id ID]`: a run made elsewhere, read from its trainer_state.json.

The run becomes a read-only run of kind `imported` in the runs directory (`runs/imported.py`), listed, charted
and compared with lrexplorer's own; the command then says which schedule its logged learning rates follow.
Also here: what `runs show` adds about a run's schedule. No torch import.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrexplorer.cli.exit_codes import Exit
from lrexplorer.core.fields import FieldError

EPILOG = """\
FOLDER is a Trainer's output folder (trainer_state.json, else the newest checkpoint-N/trainer_state.json) or the
trainer_state.json itself. Arguments saved beside it as JSON or YAML (training_args.json from
TrainingArguments.to_json_string(), a trl sft config) are read too; training_args.bin is a pickle and is
never loaded. exit status: 0 imported; 2 a file refused (its name and the problem said) or a run id taken;
nothing is written then."""


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    q = sub.add_parser(
        "import",
        help="read a run made elsewhere (its trainer_state.json) into the runs directory, read-only",
        description="Import the logs of a transformers / TRL run made anywhere as a read-only run of kind imported.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    common(q)
    q.add_argument("folder", help="the run's output folder, or its trainer_state.json")
    q.add_argument("--run_id", metavar="ID", help="id of the imported run (default: imported-FOLDERNAME)")
    q.add_argument("--format", choices=("text", "json"), default="text")
    q.add_argument("--json", action="store_true", help="the same as --format json")
    q.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace) -> int:
    from lrexplorer.runs.folder import store
    from lrexplorer.runs.folder.schedule_match import describe, schedule_match
    from lrexplorer.runs.imported import import_run

    run_dir, run = import_run(Path(args.folder), store.runs_dir(args.runs_dir), args.run_id)
    result = schedule_match(run_dir)
    if args.format == "json" or args.json:
        out = {
            "run_id": run_dir.name,
            "path": str(run_dir),
            "state_file": str(run.state_file),
            "args_file": str(run.args_file) if run.args_file else None,
            "notes": run.notes,
            **schedule_fields(result),
        }
        json.dump(out, args.out, indent=1)
        print(file=args.out)
        return Exit.OK
    print(f"imported {run_dir.name}: {len(run.records):,} logs of {run.state_file}", file=args.out)
    for note in run.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"schedule: {describe(result)}", file=args.out)
    return Exit.OK


def schedule_fields(result: dict[str, Any] | None) -> dict[str, Any]:
    """`schedule_match` (null when no schedule reproduces the log) and where the log departs from them."""
    if result is None:
        return {"schedule_match": None, "schedule_departure": None}
    departure = None
    if result["match"] is None and result["departs_at_step"] is not None:
        departure = {"departs_at_step": result["departs_at_step"], "followed": result["followed"]}
    return {"schedule_match": result["match"], "schedule_departure": departure}


def refuse_imported(run_dir: Path, action: str) -> None:
    """A FieldError naming the run when it is an imported one (read-only)."""
    from lrexplorer.runs.imported import ReadOnlyRun, refuse_control

    try:
        refuse_control(run_dir, action)
    except ReadOnlyRun as exc:
        raise FieldError("run", str(exc)) from None
