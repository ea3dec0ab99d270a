"""A generated table of malformed `lrexplorer` invocations, and how each one ended.

Every flag of every command is read from the real parser (so the table follows the catalogue as it
grows), and each gets a list of hostile values: empty, blank, nan, inf, huge, negative, wrong type,
broken JSON, a NUL byte, a path outside the runs directory, a long string. `train` always runs with
`--check` (validation and source checks only, nothing starts). `run_one` calls `lrexplorer.cli.main` in
this process and sorts the outcome: rejected (exit 2 naming the flag), accepted (exit 0), traceback (an
exception escaped), or other (any other exit, or exit 2 without naming the flag).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

from lrexplorer.catalogues.params import RENAMED_BY_OLD
from lrexplorer.cli import build_parser, main

HOSTILE = (
    "",
    " ",
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e23",
    "-1e23",
    "1e308",
    "99999999999999999999",
    "0.5",
    "abc",
    "null",
    "[]",
    "{}",
    '{"a":',
    '{"min_lr": 1}',
    "\x00",
    "1,2",
    "../../../etc/passwd",
    "9" * 400,
)
# What each command needs besides the flag under test, so the flag is what decides.
BASE = {
    "schedule": ["--max_steps", "20"],
    "memory": ["--model", "Llama-3.2-1B", "--per_device_train_batch_size", "1", "--max_length", "256", "--json"],
    "train": ["--check"],
}
# Flags left out: they do work rather than take input (--simulate runs a seconds-long FakeTensorMode step;
# --export writes a bundle, --detach/--queue start or wait for a real run), or only print and exit.
SKIP = {"--simulate", "--export", "--detach", "--queue", "--help", "--list", "--check", "--version", "--json"}


@dataclass(frozen=True)
class Case:
    command: str
    flag: str  # the option under test, or the positional's name
    argv: tuple[str, ...]
    also: tuple[str, ...] = ()  # other fields a refusal may name (a run that is not found comes first)


@dataclass(frozen=True)
class Outcome:
    case: Case
    kind: str  # rejected, accepted, traceback, other
    code: int | None
    text: str


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def cases(runs_dir: str, run_id: str = "r1", values: tuple[str, ...] = HOSTILE) -> Iterator[Case]:
    """Every hostile value for every value-taking flag of schedule, memory, train and the runs actions.
    `run_id` is an ended run in `runs_dir`, so a runs flag is checked on a run that exists."""
    commands = _subparsers(build_parser())
    for command in ("schedule", "memory", "train"):
        for action in commands[command]._actions:
            flag = next((o for o in action.option_strings if o.startswith("--")), None)
            if flag is None or flag in SKIP:
                continue
            if action.nargs == 0:  # store_true: present or not, nothing to fuzz but its presence
                yield Case(command, flag, (command, *BASE[command], flag))
                continue
            base = list(BASE[command])
            if flag in base:  # the flag under test replaces its base value
                i = base.index(flag)
                base = base[:i] + base[i + 2 :]
            for value in values:
                yield Case(command, flag, (command, *base, flag, value))
    for action_name, parser in _subparsers(commands["runs"]).items():
        positionals = [a.dest for a in parser._actions if not a.option_strings]
        for action in parser._actions:
            flag = next((o for o in action.option_strings if o.startswith("--")), None)
            if flag is None or flag in SKIP or flag == "--runs_dir":
                continue
            filler = [run_id] * len(positionals)
            first = ("folder",) if action_name == "import" else ()  # `import` reads its folder (here missing) first
            for value in values:
                yield Case("runs", flag, ("runs", action_name, "--runs_dir", runs_dir, *filler, flag, value), first)
        for i, dest in enumerate(positionals):
            for value in values:
                args = ["x"] * len(positionals)
                args[i] = value
                yield Case("runs", dest, ("runs", action_name, "--runs_dir", runs_dir, *args), also=("run",))


def run_one(case: Case) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(case.argv))
    except SystemExit as exc:  # main returns statuses; an escaping SystemExit is a bug too
        return Outcome(case, "other", exc.code if isinstance(exc.code, int) else None, err.getvalue())
    except BaseException:  # noqa: BLE001 - this is what the table counts
        return Outcome(case, "traceback", None, traceback.format_exc())
    text = err.getvalue()
    if "Traceback (most recent call last)" in text:
        return Outcome(case, "traceback", code, text)
    if code == 0:
        return Outcome(case, "accepted", code, text)
    # argparse refuses a value that looks like an option (`--flag -inf`) by naming the value instead.
    value = case.argv[-1] if case.argv[-1] != case.flag else None
    old = RENAMED_BY_OLD.get(case.flag.lstrip("-"))
    names = [case.flag.lstrip("-"), *case.also] + ([old.new] if old is not None and old.new else [])  # old name
    named = any(n in text for n in names) or (value is not None and f"arguments: {value}" in text)
    return Outcome(case, "rejected" if code == 2 and named else "other", code, text)
