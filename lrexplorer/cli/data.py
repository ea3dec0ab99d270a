"""`lrexplorer data`: what the Trainer will train on, before the run: TRL's preparation of the run's data.

Takes every flag of `lrexplorer train` (and --config), prepares the train split with TRL's own code (the
chat template, the loss masks, the cut at max_length, packing) and prints the totals and a few sequences
token by token, or all of it as JSON (`--json`). Nothing is trained and no file is written.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from lrexplorer.catalogues.params import TRAIN
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.cli.options import add_fields
from lrexplorer.cli.train import add_command, read_fields
from lrexplorer.core.fields import Field, FieldError
from lrexplorer.core.limits import MAX_SHOWN_SEQUENCES

EPILOG = """\
examples:
  lrexplorer data                                            # the built-in data, the Train page's defaults
  lrexplorer data --dataset chats.jsonl --assistant_only_loss --max_length 512
  lrexplorer data --config run.yaml --packing --max_length 1024 --json

In the examples: plain text is trained; [masked] has no label (a prompt, another role's turn); (first) has
a label but starts its sequence, so nothing predicts it; ✂{cut} lies beyond max_length and is never seen;
‖ separates the examples packed into one sequence. exit status: 0 done; 2 invalid flags or data TRL refuses."""

EXAMPLES = Field("examples", "int", 3, "sequences shown token by token", low=0, high=MAX_SHOWN_SEQUENCES)
MARKS = {"trained": "{}", "masked": "[{}]", "first": "({})", "cut": "{{{}}}"}


def add_parser(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "data",
        "show what the Trainer trains on: rows, sequences, tokens with a loss, cuts, packing",
        "Prepare the run's training data exactly as TRL's SFTTrainer will (chat template, loss masks, the cut at "
        "max_length, packing) and print its totals: rows, sequences, tokens, tokens with a loss, rows cut and "
        "tokens lost; then a few sequences token by token. Takes every flag of `lrexplorer train`.",
        EPILOG,
    )
    p.set_defaults(handler=run)
    p.add_argument("--config", metavar="YAML", help="run spec file (field: value); flags override it")
    p.add_argument(
        "--examples", default="3", metavar="N", help=f"sequences shown token by token ({EXAMPLES.allowed()})"
    )
    p.add_argument("--json", action="store_true", help="print everything as JSON (each token with its id and kind)")
    add_fields(p, TRAIN)


def run(args: argparse.Namespace) -> int:
    from lrexplorer.runs.spec import RunSpec
    from lrexplorer.runs.training.data_view import data_view
    from lrexplorer.runs.training.sources import check_sources

    examples = EXAMPLES.convert(args.examples)
    spec = RunSpec.from_dict(read_fields(args))
    problems = check_sources(spec.values)
    if problems:
        raise FieldError.collect(problems)
    view = data_view(spec.values, examples=examples)
    if args.json:
        json.dump(view.as_json(), args.out)
        print(file=args.out)
        return Exit.OK
    print(totals_text(view), file=args.out)
    for example in view.examples:
        print(file=args.out)
        print(example_text(example), file=args.out)
    return Exit.OK


def totals_text(view: Any) -> str:
    how = f"packed ({view.packing_strategy})" if view.packing else "one sequence per row"
    cut = f"max_length {view.max_length:,}" if view.max_length is not None else "no max_length"
    lines = [
        f"rows            {view.rows:,}",
        f"sequences       {view.sequences:,}  ({how}; {cut}; {'padding-free' if view.padding_free else 'padded'})",
        f"tokens          {view.tokens:,}",
        f"loss_tokens     {view.loss_tokens:,}  (labels the loss scores)",
        f"truncated_rows  {view.truncated_rows:,}  ({view.tokens_lost:,} tokens lost to the cut)",
    ]
    if view.dropped_rows:
        lines.append(f"dropped_rows    {view.dropped_rows:,}  (no trained token left after the cut: TRL drops them)")
    return "\n".join(lines)


def example_text(example: Any) -> str:
    parts = []
    for kind, joined, text in example.spans():
        shown = text.replace("\n", "⏎")
        parts.append((" ‖ " if joined else "") + ("✂" if kind == "cut" else "") + MARKS[kind].format(shown))
    note = " (dropped: no trained token)" if example.dropped else ""
    more = f" … {example.hidden:,} more tokens" if example.hidden else ""
    return f"{example.title}{note}:\n" + "".join(parts) + more
