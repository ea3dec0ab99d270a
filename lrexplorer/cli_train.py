"""`lrexplorer train`: start a real fine-tuning run from a YAML spec and/or flags, and follow it.

Flags are generated from the parameter catalogue (`lrexplorer.params`), so every field has a flag
spelled as in TrainingArguments / SFTConfig, and older names (--warmup_ratio, --evaluation_strategy,
--gradient_checkpointing, ...) are accepted and translated with a note. Precedence: flags over the
--config file over lrexplorer's defaults. The run itself is the same worker process the Train page
launches; this command only prints its progress. No torch import here: `--help` must be instant.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .cli_common import UsageError
from .params import CATALOGUE_LIST, GROUPS, RENAMED

EPILOG = """\
examples:
  lrexplorer train --max_steps 40 --output_dir runs/first
  lrexplorer train --config run.yaml --learning_rate 3e-4
  lrexplorer train --model ./my-model --dataset data.jsonl --use_peft --lora_r 8 --max_steps 100
  lrexplorer train --config run.yaml --export exported/      # write train.py, sft.yaml, accelerate.sh; no training

exit status: 0 completed (or started, with --detach); 1 failed; 3 stopped (Ctrl-C stops after the current
step and saves a checkpoint; `lrexplorer runs resume RUN` continues); 2 invalid spec or flags; 4 device busy."""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="run a short real fine-tune (TRL SFTTrainer) and follow its progress",
        description="Fine-tune a model with TRL's SFTTrainer in a supervised worker process. Every field of the "
        "parameter catalogue is a flag; the run folder gets config.yaml, status.json, metrics.jsonl, train.log, "
        "checkpoints and the final model.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.set_defaults(handler=run)
    p.add_argument("--config", metavar="YAML", help="run spec file (field: value); flags override it")
    p.add_argument(
        "--runs_dir", metavar="DIR", help="where runs without --output_dir go (default: $LRX_RUNS_DIR or ./runs)"
    )
    p.add_argument(
        "--run_id", metavar="ID", help="folder name of the run inside the runs directory (default: time + dataset)"
    )
    p.add_argument(
        "--queue", action="store_true", help="wait for the device when another run holds it, instead of refusing"
    )
    p.add_argument(
        "--detach", action="store_true", help="start the run and return at once (follow it with `lrexplorer runs show`)"
    )
    p.add_argument(
        "--export",
        metavar="DIR",
        help="write the run as train.py, sft.yaml (trl sft) and accelerate.sh into DIR; do not train",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final status")
    for group_id, title in GROUPS.items():
        group = p.add_argument_group(title)
        for param in (q for q in CATALOGUE_LIST if q.group == group_id):
            _add_field(group, param)
    legacy = p.add_argument_group("older names (translated, with a note)")
    for old in RENAMED:
        if not any(old.old == q.name for q in CATALOGUE_LIST):
            legacy.add_argument(
                f"--{old.old}",
                dest=old.old,
                default=None,
                nargs="?",
                const="true",
                metavar="VALUE",
                help=f"-> {old.new or '(removed)'}: {old.note}",
            )


def _add_field(group: argparse._ArgumentGroup, param: Any) -> None:
    default = "null" if param.default is None else param.default
    allowed = ""
    if param.kind == "choice":
        allowed = "; see `lrexplorer schedule --list`" if param.name == "lr_scheduler_type" else f"; {param.allowed()}"
    text = f"{param.help} (default: {default}{allowed})".replace("%", "%%")  # argparse formats help with %
    if param.kind == "bool":
        group.add_argument(
            f"--{param.name}",
            dest=param.name,
            default=None,
            nargs="?",
            const="true",
            metavar="BOOL",
            help=text + f"; --{param.name} alone means true",
        )
    else:
        metavar = {"int": "N", "float": "X", "json": "JSON", "str_list": "A,B"}.get(param.kind, "VALUE")
        group.add_argument(f"--{param.name}", dest=param.name, default=None, metavar=metavar, choices=None, help=text)


def given_fields(args: argparse.Namespace) -> dict[str, Any]:
    """Catalogue (and old-name) fields given on the command line, as strings for the catalogue to convert."""
    names = [q.name for q in CATALOGUE_LIST] + [r.old for r in RENAMED]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def build_spec(args: argparse.Namespace) -> Any:
    from .runs.spec import RunSpec, SpecError

    fields: dict[str, Any] = {}
    if args.config:
        import yaml

        try:
            loaded = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise UsageError(f"--config: cannot read {args.config}: {exc.strerror}", "config") from None
        except yaml.YAMLError as exc:
            raise UsageError(f"--config: {args.config} is not valid YAML: {exc}", "config") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--config: {args.config} must be a mapping of field: value", "config")
        fields.update(loaded)
    fields.update(given_fields(args))
    try:
        return RunSpec.from_dict(fields)
    except SpecError as exc:
        raise UsageError("invalid run spec:\n  " + "\n  ".join(str(e) for e in exc.errors), exc.fields[0]) from None


def run(args: argparse.Namespace) -> int:
    from .runs import launcher, lock
    from .runs.spec import SpecError

    spec = build_spec(args)
    for note in spec.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.export:
        from .runs.export import write_bundle

        for path in write_bundle(spec, Path(args.export)):
            print(path)
        return 0
    try:
        run_dir = launcher.start_run(spec, args.runs_dir, run_id=args.run_id, queue=args.queue)
    except SpecError as exc:
        raise UsageError("; ".join(str(e) for e in exc.errors), exc.fields[0]) from None
    except lock.DeviceBusy as exc:
        print(f"lrexplorer train: {exc}", file=sys.stderr)
        return 4
    except (FileExistsError, ValueError) as exc:
        raise UsageError(str(exc), "output_dir") from None
    print(f"run folder: {run_dir}", file=sys.stderr)
    if args.detach:
        print(run_dir)
        return 0
    return follow(run_dir, quiet=args.quiet)


def follow(run_dir: Path, quiet: bool = False, poll_s: float = 0.25) -> int:
    """Print each new metrics record until the run ends; Ctrl-C asks for a graceful stop."""
    from .runs import launcher, store

    interrupted = {"n": 0}

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted["n"] += 1
        if interrupted["n"] == 1:
            print("\nstopping after the current step (Ctrl-C again to force)...", file=sys.stderr)
            launcher.request_stop(run_dir)
        else:
            launcher.stop_run(run_dir, grace_s=0.0)

    previous = signal.signal(signal.SIGINT, on_sigint)
    metrics = store.MetricsReader(run_dir)
    try:
        while True:
            status = store.reconcile(run_dir)
            records = metrics.read().records  # after the status: every record is in before a final status
            if not quiet:
                for record in records:
                    print(format_record(record, status.get("max_steps")), flush=True)
            if status.get("state") in store.FINAL_STATES:
                break
            time.sleep(poll_s)
    finally:
        signal.signal(signal.SIGINT, previous)
    state = status["state"]
    print(f"{state}: {status.get('message', '')}", file=sys.stderr if state != "completed" else sys.stdout)
    return {"completed": 0, "stopped": 3}.get(state, 1)


def format_record(record: dict[str, Any], max_steps: Any) -> str:
    step = f"step {record.get('step')}" + (f"/{max_steps}" if max_steps else "")
    if "train_runtime" in record:
        return f"{step}  done in {_num(record['train_runtime'], '.1f')} s, mean loss {_num(record.get('train_loss'), '.4f')}"
    parts = [step]
    for key, fmt in (
        ("loss", ".4f"),
        ("eval_loss", ".4f"),
        ("learning_rate", ".3e"),
        ("grad_norm", ".3f"),
        ("tokens_per_s", ".0f"),
        ("step_time_s", ".3f"),
    ):
        if record.get(key) is not None:
            parts.append(f"{key} {_num(record[key], fmt)}")
    return "  ".join(parts)


def _num(value: Any, fmt: str) -> str:
    # metrics.jsonl stores nan/inf as strings (JSON has no such numbers): print them as they are.
    return f"{value:{fmt}}" if isinstance(value, (int, float)) else str(value)
