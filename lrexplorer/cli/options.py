"""The flags of every `lrexplorer` command that takes training arguments, generated from the catalogue.

`add_fields(parser, tool)` adds one flag per catalogue field the tool takes, named exactly as the
field (and so as TrainingArguments / SFTConfig name it), with the field's help, allowed values and
the tool's default, then the old names the tool still accepts (`params.RENAMED`). Every flag is
parsed as text and converted by its field (`field_values`), so the CLI refuses what the pages refuse,
with the same words. Booleans are spelled as HfArgumentParser spells them: `--x` alone, or
`--x true|false`. Only options that are not training arguments are written by hand in each command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

from lrexplorer.catalogues.params import GROUPS, by_group, fields_for, renamed_for, resolve
from lrexplorer.core.fields import Field

# How each level of the rules' advice (`lrexplorer.rules`) is written on the command line.
LEVEL_WORDS = {"error": "warning", "warning": "warning", "info": "note"}
METAVARS = {"int": "N", "float": "X", "json": "JSON", "str_list": "A,B", "int_list": "A,B", "choice": "NAME"}


def show(value: Any) -> str:
    """A value as one types it on the command line: null, true, 5e-05, {"a": 1}."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def flag_help(field: Field, tool: str, required: bool = False) -> str:
    allowed = "see `lrexplorer schedule --list`" if field.choices_of is not None else field.allowed()
    start = "required" if required else f"default: {show(field.default_for(tool))}"
    text = f"{field.help} Allowed: {allowed}; {start}."
    if field.kind == "bool":
        text += f" --{field.name} alone means true."
    return text.replace("%", "%%")  # argparse formats help texts with %


def add_fields(parser: argparse.ArgumentParser, tool: str, required: Iterable[str] = ()) -> None:
    """One flag per catalogue field of `tool`, in the catalogue's groups, then its accepted old names.

    Every flag defaults to None, meaning "not given": the tool's default is filled in by `field_values`.
    """
    required = set(required)
    groups = by_group(tool)
    for group_id, title in GROUPS.items():
        if not groups[group_id]:
            continue
        group = parser.add_argument_group(title)
        for field in groups[group_id]:
            boolean = field.kind == "bool"
            group.add_argument(
                f"--{field.name}",
                dest=field.name,
                default=None,
                nargs="?" if boolean else None,
                const="true" if boolean else None,
                metavar="BOOL" if boolean else METAVARS.get(field.kind, "VALUE"),
                help=flag_help(field, tool, field.name in required),
            )
    old_names = renamed_for(tool)
    if old_names:
        legacy = parser.add_argument_group("older names (translated, with a note)")
        for old in old_names:
            legacy.add_argument(
                f"--{old.old}",
                dest=old.old,
                default=None,
                nargs="?",
                const="true",
                metavar="VALUE",
                help=f"-> {old.new or '(removed)'}: {old.note}".replace("%", "%%"),
            )


def given_fields(args: argparse.Namespace, tool: str) -> dict[str, Any]:
    """The catalogue fields (and old names) of `tool` given on the command line, as typed."""
    names = [f.name for f in fields_for(tool)] + [r.old for r in renamed_for(tool)]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def field_values(args: argparse.Namespace, tool: str) -> tuple[dict[str, Any], list[str]]:
    """(every field of `tool`, notes): the flags given, converted by their fields, over the tool's defaults.
    Raises one FieldError naming every bad flag."""
    return resolve(given_fields(args, tool), tool)


def say_advice(level: str, text: str) -> None:
    """One line of advice on stderr, as `warning: ...` or `note: ...`: the words the pages show."""
    print(f"{LEVEL_WORDS[level]}: {text}", file=sys.stderr)
