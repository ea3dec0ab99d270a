"""Pieces every `lrexplorer` subcommand shares: the user-error type and argparse value types.

Kept apart from `cli.py` so that subcommand modules can import them without importing the
dispatcher (which imports them), and so `memory`, `train` and `runs` parse values the same way.
"""

from __future__ import annotations

import argparse
import math


class UsageError(Exception):
    """A mistake in what the user typed: reported as one line on stderr with exit status 2."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# The spellings HfArgumentParser's `string_to_bool` accepts, so `--flag false` means the same here.
_TRUE = ("yes", "true", "t", "y", "1")
_FALSE = ("no", "false", "f", "n", "0")


def str_to_bool(text: str) -> bool:
    """argparse type for boolean TrainingArguments fields given a value (`--dataloader_drop_last true`)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def finite_float(text: str) -> float:
    """argparse type for floats that refuses nan and inf.

    They would otherwise reach arithmetic such as math.ceil(num_train_epochs * n) and crash with a
    traceback instead of a message naming the flag.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_bool_flag(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    """A boolean flag spelled as HfArgumentParser spells it: `--name` alone, or `--name true|false`."""
    parser.add_argument(
        f"--{name}",
        type=str_to_bool,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help=f"{help_text} (default: false; `--{name}` alone means true)",
    )
