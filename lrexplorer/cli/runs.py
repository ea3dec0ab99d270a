"""`lrexplorer runs list|show|stop|resume|export|merge|import`: the run folders, read back from disk.

Listing reconciles every active run with its process (a run whose worker has gone is marked ended
with its log's tail), so the output is right after a crash or a restart. No torch import here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lrexplorer.cli import runs_import
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.core.fields import Field, FieldError
from lrexplorer.core.limits import MAX_SHOWN_RECORDS, MAX_STOP_WAIT_S
from lrexplorer.runs.folder import index

SHOWN = Field("metrics", "int", 5, "last metrics records shown", low=0, high=MAX_SHOWN_RECORDS)
TIMEOUT = Field("timeout", "float", 15.0, "seconds to wait before SIGTERM", low=0.0, high=MAX_STOP_WAIT_S)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "runs",
        help="list, show, stop, resume, export, merge or import training runs",
        description="Inspect and control the runs under the runs directory.",
        allow_abbrev=False,
    )
    p.set_defaults(handler=lambda args: (p.print_help(sys.stderr), 2)[1])
    sub = p.add_subparsers(dest="runs_command", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--runs_dir", metavar="DIR", help="runs directory (default: $LRX_RUNS_DIR or ./runs)")

    q = sub.add_parser("list", help="every run, newest first", allow_abbrev=False)
    common(q)
    q.add_argument("--format", choices=("table", "json"), default="table")
    q.set_defaults(handler=run_list)

    q = sub.add_parser("show", help="a run's status, spec changes and last metrics", allow_abbrev=False)
    common(q)
    q.add_argument("run", help="run id (see `runs list`) or run folder")
    q.add_argument(
        "--metrics", default="5", metavar="N", help=f"last N metrics records (default: 5; {SHOWN.allowed()})"
    )
    q.add_argument("--format", choices=("text", "json"), default="text")
    q.add_argument("--json", action="store_true", help="the same as --format json")
    q.set_defaults(handler=run_show)

    q = sub.add_parser(
        "stop", help="stop after the current step (checkpoint saved); escalate if it does not", allow_abbrev=False
    )
    common(q)
    q.add_argument("run")
    q.add_argument(
        "--timeout",
        default="15",
        metavar="S",
        help=f"seconds to wait before SIGTERM (default: 15; {TIMEOUT.allowed()})",
    )
    q.set_defaults(handler=run_stop)

    q = sub.add_parser(
        "resume",
        help="continue an ended run from its newest checkpoint",
        allow_abbrev=False,
        epilog="exit status: 0 resumed (the worker trains on; follow it with `runs show`); 1 the run folder cannot be "
        "written; 2 no such run, a broken or completed run, no checkpoint, or a config.yaml the catalogue refuses "
        "(nothing is changed); 4 device busy (nothing is changed; --queue waits instead).",
    )
    common(q)
    q.add_argument("run")
    q.add_argument("--queue", action="store_true", help="wait for the device if it is busy")
    q.set_defaults(handler=run_resume)

    q = sub.add_parser(
        "export",
        help="write a run as a folder that runs anywhere: train.py, sft.yaml, accelerate.sh, a README and the "
        "built-in model, tokenizer and data it uses (the Runs page's complete bundle, unzipped)",
        allow_abbrev=False,
    )
    common(q)
    q.add_argument("run")
    q.add_argument("dest", help="a new or empty folder to write into (created if needed)")
    q.set_defaults(handler=run_export)

    q = sub.add_parser(
        "merge",
        help="write a LoRA/QLoRA run's base with its adapter merged in, as a plain transformers model",
        allow_abbrev=False,
    )
    common(q)
    q.add_argument("run")
    q.add_argument("dest", help="new or empty folder to write the merged model into")
    q.add_argument("--dtype", default="float32", metavar="NAME", help="float32, bfloat16 or float16 (default: float32)")
    q.set_defaults(handler=run_merge)

    runs_import.add_parser(sub, common)


def _find(args: argparse.Namespace) -> Path:
    from lrexplorer.runs.folder import store

    try:
        return index.find_run(args.run, store.runs_dir(args.runs_dir))
    except store.RunNotFound as exc:
        raise FieldError("run", str(exc)) from None
    except (OSError, ValueError):  # too long for the file system, or a NUL byte: no run has that name
        raise FieldError("run", f"no run {args.run[:80]!r}: not a run id nor a readable folder") from None


def _bad_config(exc: FieldError) -> FieldError:
    """A stored run whose config.yaml the catalogue refuses: the run is at fault, each field named."""
    return FieldError("run", "its config.yaml is not a valid spec (" + "; ".join(e.line for e in exc.errors) + ")")


def run_list(args: argparse.Namespace) -> int:
    from lrexplorer.runs.folder import store

    rows = index.list_runs(store.runs_dir(args.runs_dir))
    for row in rows:
        row["memory"] = store.read_memory_record(Path(row["path"]))
    if args.format == "json":
        json.dump(rows, args.out, indent=1, default=str)
        print(file=args.out)
        return Exit.OK
    if not rows:
        print(f"no runs in {store.runs_dir(args.runs_dir)}", file=args.out)
        return Exit.OK
    from lrexplorer.runs.folder.peak import peak_text

    print(
        f"{'run':<40} {'state':<10} {'step':>11}  {'started':<19}  {'predicted / measured peak':<32} message",
        file=args.out,
    )
    for r in rows:
        step = f"{r.get('global_step', 0)}/{r.get('max_steps', '?')}"
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.get("created_at") or 0))
        lines = str(r.get("problem") or r.get("message") or "").splitlines()
        message = lines[0][:60] if lines else ""
        peak = peak_text(store.read_memory_record(Path(r["path"])))
        print(
            f"{r['run_id']:<40} {r.get('state', '?'):<10} {step:>11}  {started:<19}  {peak:<32} {message}",
            file=args.out,
        )
    return Exit.OK


def run_show(args: argparse.Namespace) -> int:
    from lrexplorer.runs.folder import store

    shown = SHOWN.convert(args.metrics)
    run_dir = _find(args)
    status = index.run_row(run_dir, store.run_id_of(run_dir))
    records = store.read_metrics(run_dir)[-shown:] if shown > 0 else []
    from lrexplorer.runs.folder.schedule_match import describe, schedule_match

    schedule = schedule_match(run_dir)
    if args.format == "json" or args.json:
        data = {"path": str(run_dir), "status": status, "metrics": records, **runs_import.schedule_fields(schedule)}
        json.dump(data, args.out, indent=1, default=str)
        print(file=args.out)
        return Exit.OK
    from lrexplorer.cli.train import format_record

    print(f"run     {run_dir}", file=args.out)
    keys = ("state", "problem", "global_step", "max_steps", "device", "attn_implementation", "last_checkpoint")
    for key in (*keys, "message"):
        if status.get(key) not in (None, ""):
            print(f"{key:<8}{status[key]}" if len(key) < 8 else f"{key} {status[key]}", file=args.out)
    print(f"schedule {describe(schedule)}", file=args.out)
    for record in records:
        print("  " + format_record(record, status.get("max_steps")), file=args.out)
    return Exit.OK


def run_stop(args: argparse.Namespace) -> int:
    from lrexplorer.runs import launcher
    from lrexplorer.runs.imported import ReadOnlyRun

    run_dir = _find(args)
    try:
        status = launcher.stop_run(run_dir, grace_s=TIMEOUT.convert(args.timeout))
    except ReadOnlyRun as exc:  # the launcher refuses an imported run: it has no worker
        raise FieldError("run", str(exc)) from None
    print(f"{status.get('state')}: {status.get('message', '')}", file=args.out)
    return Exit.OK if status.get("state") not in ("queued", "running") else Exit.FAILED


def run_resume(args: argparse.Namespace) -> int:
    from lrexplorer.runs import launcher
    from lrexplorer.runs.folder import lock, store

    run_dir = _find(args)  # a run that does not exist is said as such, not as a bad config
    try:
        pid = launcher.resume_run(run_dir, queue=args.queue)
    except lock.DeviceBusy as exc:  # a RuntimeError too: caught first, it has its own exit status
        print(f"lrexplorer runs resume: {exc}", file=sys.stderr)
        return Exit.DEVICE_BUSY
    except (RuntimeError, FileNotFoundError, store.ConfigUnreadable) as exc:
        raise FieldError("run", str(exc)) from None
    except FieldError as exc:
        raise _bad_config(exc) from None
    except OSError as exc:
        print(f"lrexplorer runs resume: {exc.strerror or exc}", file=sys.stderr)
        return Exit.FAILED
    print(f"resumed (worker pid {pid})", file=args.out)
    return Exit.OK


def run_export(args: argparse.Namespace) -> int:
    from lrexplorer.runs.exports.bundle import write_bundle
    from lrexplorer.runs.exports.script import ExportError
    from lrexplorer.runs.folder import store

    run_dir = _find(args)  # a run that does not exist is said as such, before its config is read
    runs_import.refuse_imported(run_dir, "exported (only its logs are here)")
    try:
        spec = store.read_spec(run_dir)
    except store.ConfigUnreadable as exc:
        raise FieldError("run", str(exc)) from None
    except FieldError as exc:
        raise _bad_config(exc) from None
    try:
        written = write_bundle(spec, Path(args.dest), root=store.runs_dir(args.runs_dir))
    except ExportError as exc:
        raise FieldError("run", str(exc)) from None
    for path in written:
        print(path, file=args.out)
    return Exit.OK


def run_merge(args: argparse.Namespace) -> int:
    from lrexplorer.runs.exports.merge import merge_run
    from lrexplorer.runs.folder import store

    run_dir = _find(args)
    runs_import.refuse_imported(run_dir, "merged (it has no model here)")
    try:
        dest = merge_run(run_dir, Path(args.dest), args.dtype, root=store.runs_dir(args.runs_dir))
    except store.ConfigUnreadable as exc:
        raise FieldError("run", str(exc)) from None
    print(dest, file=args.out)
    return Exit.OK
