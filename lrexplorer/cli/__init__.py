"""The `lrexplorer` command line: a dispatcher over one module per subcommand.

Each subcommand module provides `add_parser(subparsers)`, which registers its parser and sets the
`handler` default to a function `(argparse.Namespace) -> int` that writes its output to `args.out` (the real
stdout: while a handler runs, `sys.stdout` is stderr, so a library's chatter never mixes into the output). Adding `memory`, `train` or `runs`
is one new module and one entry in `SUBCOMMANDS`. Subcommand modules import only light modules at
the top (no torch, transformers): `lrexplorer --help` and `lrexplorer schedule` must start fast.

Commands: `app`, `schedule`, `memory` (with `memory_generate`, its --task generate), `train`, `data`, `lr_find`
(lr-find), `sweep`, `runs` (with `runs_import`: `runs import` and the schedule `runs show` reports),
`knowledge`; `options` holds the flags generated from the catalogue and the helpers the commands share;
`exit_codes` names every exit status (`Exit`); `__main__` runs the command line as `python -m lrexplorer.cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from types import ModuleType

from lrexplorer.cli import app as cli_app
from lrexplorer.cli import data as cli_data
from lrexplorer.cli import knowledge as cli_knowledge
from lrexplorer.cli import lr_find as cli_lr_find
from lrexplorer.cli import memory as cli_memory
from lrexplorer.cli import runs as cli_runs
from lrexplorer.cli import schedule as cli_schedule
from lrexplorer.cli import sweep as cli_sweep
from lrexplorer.cli import train as cli_train
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.core.compat import UnsupportedVersion
from lrexplorer.core.fields import FieldError
from lrexplorer.core.version import __version__

SUBCOMMANDS: tuple[ModuleType, ...] = (
    cli_app,
    cli_schedule,
    cli_memory,
    cli_train,
    cli_data,
    cli_lr_find,
    cli_sweep,
    cli_runs,
    cli_knowledge,
)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, every subcommand registered (also used by tests and docs to list flags)."""
    parser = argparse.ArgumentParser(
        prog="lrexplorer",
        description=(
            "See and check the hyperparameters of language-model fine-tuning. Flags use the "
            "transformers TrainingArguments field names."
        ),
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"lrexplorer {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (`Exit.INVALID` for a user error) instead of exiting."""
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown and not getattr(args, "passes_unknown", False):
            parser.error("unrecognized arguments: " + " ".join(unknown))
        args.unknown = unknown  # `app` hands the options it does not know to Streamlit
    except SystemExit as exc:  # argparse exits on --help and on bad flags; callers want a status
        return exc.code if isinstance(exc.code, int) else (Exit.OK if exc.code is None else Exit.INVALID)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return Exit.INVALID
    # The command writes its output to `args.out`, the real stdout; anything else printed while it runs goes to
    # stderr (DeepSpeed binds its logger to sys.stdout when transformers imports it; the Trainer prints its
    # logs), so `lrexplorer ... --json | jq` reads the command's output alone.
    args.out = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return args.handler(args)
    except FieldError as exc:
        # A user's mistake: one line naming each field at fault (as its flag), never a traceback.
        print(f"lrexplorer {args.command}: error: {flagged(exc, _options(parser, args))}", file=sys.stderr)
        return Exit.INVALID
    except UnsupportedVersion as exc:
        # An installed library the command cannot use: the message names it, the range and the pip command.
        print(f"lrexplorer {args.command}: error: {exc}", file=sys.stderr)
        return Exit.INVALID
    except BrokenPipeError:
        # `lrexplorer schedule ... | head`: the reader left; silence the flush at interpreter exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, args.out.fileno())
        return Exit.FAILED


def _options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> set[str]:
    """The flags of the command that ran, down to its action (`runs merge` has --dtype, `runs` none)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.command]
    nested = next((a for a in sub._actions if isinstance(a, argparse._SubParsersAction)), None)
    if nested is not None and getattr(args, nested.dest, None) in nested.choices:
        sub = nested.choices[getattr(args, nested.dest)]
    return {a.dest for a in sub._actions if a.option_strings}


def flagged(exc: FieldError, options: set[str]) -> str:
    """Every problem of `exc` on one line, a field that is a flag of the command written as the flag, and a
    schedule's argument (an error with a scope) under the flag that carries it."""

    def one(e: FieldError) -> str:
        if e.field in options:
            return "--" + e.line
        if e.scope and "lr_scheduler_kwargs" in options:
            return "--lr_scheduler_kwargs: " + e.line
        return e.line

    return " ".join(one(e) for e in exc.errors)
