"""A generated table of malformed `lrexplorer` invocations, and how each one ended.

Every flag of every command is read from the real parser (so the table follows the catalogue as it
grows), and each gets a list of hostile values: empty, blank, nan, inf, huge, negative, wrong type,
broken JSON, a NUL byte, a path outside the runs directory, a long string. Commands that would start
work run with `--check` (train, lr-find, sweep, knowledge: validation, source and folder checks, nothing
starts); `train --export` really writes its bundle, `runs export` and `runs merge` really write into the
destinations they are given. `run_one` calls `lrexplorer.cli.main` in this process and sorts the outcome:
rejected (exit 2 naming the flag, no file changed), accepted (exit 0, files changed only inside a folder
the command created), traceback (an exception escaped), wrote outside (a file changed anywhere else under
the scratch folder, or at all by a refused command), or other (any other exit, or exit 2 without naming
the flag).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lrexplorer.catalogues.params import CATALOGUE, RENAMED_BY_OLD
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
# What each command needs besides the flag under test, so the flag is what decides. SPACE and EXPORT are
# filled in by `cases`: a valid sweep space, and a fresh export folder for every invocation.
BASE = {
    "schedule": ["--max_steps", "20"],
    "memory": ["--model", "Llama-3.2-1B", "--per_device_train_batch_size", "1", "--max_length", "256", "--json"],
    "train": ["--check"],
    "train --export": ["--export", "EXPORT", "--num_machines", "2", "--main_process_ip", "10.0.0.1"],
    "lr-find": ["--check"],
    "sweep": ["--check", "--space", "SPACE"],
    "knowledge": ["--check"],
    "data": ["--examples", "0"],
}
# Flags left out: they do work rather than take input (--simulate runs a seconds-long FakeTensorMode step;
# --detach/--queue start or wait for a real run), or only print and exit.
SKIP = {"--simulate", "--detach", "--queue", "--help", "--list", "--check", "--version", "--json", "--quiet"}
CLUSTER = ("--num_machines", "--machine_rank", "--main_process_ip", "--main_process_port")
SPACE_YAML = "learning_rate: {values: [1.0e-4, 1.0e-3]}\n"
# Where a case really writes (an export, a merge), "../../../etc/passwd" would resolve against wherever the
# scratch folder lies: it becomes the absolute path of a file that exists, outside every scratch folder.
OUTSIDE = "/etc/passwd"


def _confined(value: str) -> str:
    return OUTSIDE if value.startswith("../") else value


@dataclass(frozen=True)
class Case:
    command: str
    flag: str  # the option under test, or the positional's name
    argv: tuple[str, ...]
    also: tuple[str, ...] = ()  # other fields a refusal may name (a run that is not found comes first)


@dataclass(frozen=True)
class Outcome:
    case: Case
    kind: str  # rejected, accepted, traceback, wrote outside, other
    code: int | None
    text: str


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _own(action: argparse.Action) -> bool:
    """A flag of the command itself, not one of the catalogue's training fields (those are fuzzed under train)."""
    return action.dest not in CATALOGUE and action.dest not in RENAMED_BY_OLD


def _flag_cases(command: str, parser: argparse.ArgumentParser, values: tuple[str, ...], wanted) -> Iterator[Case]:
    for action in parser._actions:
        flag = next((o for o in action.option_strings if o.startswith("--")), None)
        if flag is None or flag in SKIP or not wanted(flag, action):
            continue
        if action.nargs == 0:  # store_true: present or not, nothing to fuzz but its presence
            yield Case(command, flag, (command.split(maxsplit=1)[0], *BASE[command], flag))
            continue
        base = list(BASE[command])
        if flag in base:  # the flag under test replaces its base value
            i = base.index(flag)
            base = base[:i] + base[i + 2 :]
        for value in values:
            yield Case(command, flag, (command.split(maxsplit=1)[0], *base, flag, value))


def cases(
    runs_dir: str,
    run_id: str = "r1",
    values: tuple[str, ...] = HOSTILE,
    lora_id: str | None = None,
    space: str | None = None,
) -> Iterator[Case]:
    """Every hostile value for every value-taking flag of schedule, memory, train (and its cluster export),
    lr-find, sweep, knowledge and the runs actions. `run_id` is an ended run in `runs_dir`, `lora_id` an ended
    LoRA run with its adapter (merged into each destination), `space` a valid sweep space file."""
    commands = _subparsers(build_parser())
    wanted = {
        "schedule": lambda flag, action: True,
        "memory": lambda flag, action: True,
        "train": lambda flag, action: flag != "--export",
        "train --export": lambda flag, action: flag in (*CLUSTER, "--export"),
        "lr-find": lambda flag, action: _own(action) or flag == "--output_dir",
        "sweep": lambda flag, action: (_own(action) or flag == "--output_dir") and (space or flag != "--space"),
        "knowledge": lambda flag, action: True,
        "data": lambda flag, action: _own(action),  # its training fields are train's, fuzzed there
    }
    exports = itertools.count()
    for command, keep in wanted.items():
        if command == "sweep" and space is None:
            continue
        for case in _flag_cases(command, commands[command.split()[0]], values, keep):
            # each export gets a folder of its own, so the flag under test decides, not an earlier export
            fresh = f"export-{next(exports)}"
            argv = tuple(fresh if a == "EXPORT" else space if a == "SPACE" else a for a in case.argv)
            if command == "train --export":
                argv = (*argv[:-1], _confined(argv[-1]))
            yield Case(case.command, case.flag, argv, case.also)
    for action_name, parser in _subparsers(commands["runs"]).items():
        positionals = [a.dest for a in parser._actions if not a.option_strings]
        for action in parser._actions:
            flag = next((o for o in action.option_strings if o.startswith("--")), None)
            if flag is None or flag in SKIP or flag == "--runs_dir":
                continue
            filler = [run_id] * len(positionals)
            if positionals == ["run", "dest"]:  # a new folder per invocation: the flag decides
                filler = [lora_id or run_id, f"dest-{action_name}-{next(exports)}"]
            first = ("folder",) if action_name == "import" else ()  # `import` reads its folder (here missing) first
            for value in values:
                yield Case("runs", flag, ("runs", action_name, "--runs_dir", runs_dir, *filler, flag, value), first)
        for i, dest in enumerate(positionals):
            for value in values:
                args = ["x"] * len(positionals)
                args[i] = value
                yield Case("runs", dest, ("runs", action_name, "--runs_dir", runs_dir, *args), also=("run",))
        if "dest" in positionals:  # into every hostile destination, from a run that exists
            source = lora_id if action_name == "merge" and lora_id else run_id
            for value in values:
                argv = ("runs", action_name, "--runs_dir", runs_dir, source, _confined(value))
                yield Case(f"runs {action_name}", "dest", argv)


def snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under `root`: (size, mtime in ns) of a file, None of a folder or link."""
    found: dict[str, tuple[int, int] | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            is_file = path.is_file() and not path.is_symlink()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns) if is_file else None
    return found


def outside_changes(before: dict, after: dict) -> list[str]:
    """Paths added, removed or modified that do not lie inside the command's own folder: one added meanwhile,
    or one that was an empty folder before."""
    parents = {str(Path(p).parent) for p in before}
    own_dirs = {p for p in after.keys() - before.keys() if after[p] is None}
    own_dirs |= {p for p, v in before.items() if v is None and p not in parents}
    changed = [p for p in before.keys() | after.keys() if before.get(p, "gone") != after.get(p, "gone")]

    def own(path: str) -> bool:
        parts = Path(path).parts
        return any(str(Path(*parts[:i])) in own_dirs for i in range(1, len(parts) + 1))

    return sorted(p for p in changed if not own(p))


def run_one(case: Case, root: Path | None = None) -> Outcome:
    """Run the case; with `root`, a change under it is allowed only inside a folder the command created,
    and only when the command succeeded."""
    before = snapshot(root) if root is not None else {}
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
    if root is not None:
        after = snapshot(root)
        stray = outside_changes(before, after) if code == 0 else sorted(set(before.items()) ^ set(after.items()))
        if stray:
            return Outcome(
                case, "wrote outside", code, f"changed files outside its own new folder: {stray[:5]}\n{text}"
            )
    if code == 0:
        return Outcome(case, "accepted", code, text)
    # argparse refuses a value that looks like an option (`--flag -inf`) by naming the value instead.
    value = case.argv[-1] if case.argv[-1] != case.flag else None
    old = RENAMED_BY_OLD.get(case.flag.lstrip("-"))
    names = [case.flag.lstrip("-"), *case.also] + ([old.new] if old is not None and old.new else [])  # old name
    named = any(n in text for n in names) or (value is not None and f"arguments: {value}" in text)
    return Outcome(case, "rejected" if code == 2 and named else "other", code, text)
