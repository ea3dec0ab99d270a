"""`lrexplorer train`: start a real fine-tuning run from a YAML spec and/or flags, and follow it.

Flags are generated from the parameter catalogue (`lrexplorer.catalogues.params`), so every field has a flag
spelled as in TrainingArguments / SFTConfig, and older names (--warmup_ratio, --evaluation_strategy,
--gradient_checkpointing, ...) are accepted and translated with a note. Precedence: flags over the
--config file over lrexplorer's defaults. The run itself is the same worker process the Train page
launches; this command only prints its progress. No torch import here: `--help` must be instant.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from lrexplorer.catalogues.params import TRAIN
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.cli.options import add_fields, given_fields, say_advice, show
from lrexplorer.core.fields import FieldError

EPILOG = """\
examples:
  lrexplorer train --max_steps 40 --output_dir runs/first
  lrexplorer train --config run.yaml --learning_rate 3e-4
  lrexplorer train --model ./my-model --dataset data.jsonl --use_peft --lora_r 8 --max_steps 100
  lrexplorer train --config run.yaml --export exported/      # write train.py, sft.yaml, accelerate.sh; no training
  lrexplorer train --config run.yaml --check                 # validate everything a launch checks; no training

exit status: 0 completed (or started, with --detach); 1 failed; 3 stopped (Ctrl-C stops after the current
step and saves a checkpoint; `lrexplorer runs resume RUN` continues); 2 invalid spec or flags; 4 device busy."""


def add_parser(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "train",
        "run a short real fine-tune (TRL SFTTrainer) and follow its progress",
        "Fine-tune a model with TRL's SFTTrainer in a supervised worker process. Every training field "
        "of the parameter catalogue is a flag; the run folder gets config.yaml, status.json, metrics.jsonl, train.log, "
        "checkpoints and the final model.",
        EPILOG,
    )
    p.set_defaults(handler=run)
    add_run_options(p)
    p.add_argument(
        "--run_id", metavar="ID", help="folder name of the run inside the runs directory (default: time + dataset)"
    )
    p.add_argument(
        "--detach", action="store_true", help="start the run and return at once (follow it with `lrexplorer runs show`)"
    )
    p.add_argument(
        "--export",
        metavar="DIR",
        help="write the run into DIR as a folder that runs anywhere (train.py, sft.yaml for trl sft, accelerate.sh, "
        "a README and the built-in files they use); do not train",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="check the spec and the model and dataset (paths, files, first rows) as a launch would, print the "
        "Train page's advice (updates, memory, precision, ...) and the fields that differ from the defaults, and "
        "exit: 0 when the run could start, 2 naming what is wrong",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final status")
    cluster = p.add_argument_group(
        "several machines (with --export: accelerate_config.yaml, slurm.sbatch and accelerate.sh for a cluster)"
    )
    cluster.add_argument("--num_machines", type=int, default=1, metavar="N", help="machines (default: 1)")
    cluster.add_argument("--machine_rank", type=int, default=0, metavar="N", help="this machine's rank (default: 0)")
    cluster.add_argument(
        "--main_process_ip", metavar="HOST", help="address of the machine of rank 0 (several machines)"
    )
    cluster.add_argument(
        "--main_process_port", type=int, default=29500, metavar="PORT", help="its port (default: 29500)"
    )
    add_fields(p, TRAIN)


def _cluster(args: argparse.Namespace) -> Any:
    from lrexplorer.runs.exports.cluster import Cluster

    return Cluster(args.num_machines, args.machine_rank, args.main_process_ip, args.main_process_port).checked()


def add_command(subparsers: Any, name: str, summary: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand's parser, laid out as every `lrexplorer` command is (epilog kept as written)."""
    return subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options every command that starts runs takes besides the training fields."""
    p.add_argument("--config", metavar="YAML", help="run spec file (field: value); flags override it")
    p.add_argument(
        "--runs_dir", metavar="DIR", help="where runs without --output_dir go (default: $LRX_RUNS_DIR or ./runs)"
    )
    p.add_argument(
        "--queue", action="store_true", help="wait for the device when another run holds it, instead of refusing"
    )


def build_spec(args: argparse.Namespace) -> Any:
    from lrexplorer.runs.spec import RunSpec

    return RunSpec.from_dict(read_fields(args))


def read_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The run fields given: the --config file's, then the flags' over them (unvalidated)."""
    fields: dict[str, Any] = {}
    if args.config:
        import yaml

        try:
            loaded = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            raise FieldError(
                "config", f"cannot read {args.config[:200]!r}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        except yaml.YAMLError as exc:
            raise FieldError("config", f"{args.config} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise FieldError("config", f"{args.config} must be a mapping of field: value")
        fields.update(loaded)
    fields.update(given_fields(args, TRAIN))
    return fields


def run(args: argparse.Namespace) -> int:
    from lrexplorer.runs import launcher
    from lrexplorer.runs.folder import lock

    if args.check:
        return check(args)
    spec = build_spec(args)
    for note in spec.renamed:
        print(f"note: {note}", file=sys.stderr)
    for finding in spec.advice:
        say_advice(finding.level, finding.text)
    if args.export:
        from lrexplorer.runs.training.sources import check_sources

        problems = check_sources(spec.values, probe_hub=False)
        if problems:
            raise FieldError.collect(problems)
    cluster = _cluster(args)
    if args.export:
        from lrexplorer.runs.exports.bundle import write_bundle

        for path in write_bundle(spec, Path(args.export), cluster=cluster):
            print(path, file=args.out)
        return Exit.OK
    if cluster.num_machines > 1:
        raise FieldError("num_machines", "a run started here trains on this machine; use it with --export")
    try:
        run_dir = launcher.start_run(spec, args.runs_dir, run_id=args.run_id, queue=args.queue)
    except FieldError:
        raise  # it already names its field; the ValueError below would not
    except lock.DeviceBusy as exc:
        print(f"lrexplorer train: {exc}", file=sys.stderr)
        return Exit.DEVICE_BUSY
    except (FileExistsError, ValueError) as exc:
        raise FieldError("output_dir", str(exc)) from None
    except OSError as exc:  # a full or read-only disk: nothing was left behind, say so in one line
        print(f"lrexplorer train: {disk_message(exc)}", file=sys.stderr)
        return Exit.FAILED
    print(f"run folder: {run_dir}", file=sys.stderr)
    if args.detach:
        print(run_dir, file=args.out)
        return Exit.OK
    return follow(run_dir, args.out, quiet=args.quiet)


def check(args: argparse.Namespace) -> int:
    """`--check`: the Train page's pre-flight on this machine (the spec, the model and data as a launch checks
    them, the rules' advice over the updates and memory it computes), then the fields that differ from the
    defaults. Refusals raise, as a launch would."""
    from lrexplorer.core.facts import detect_facts
    from lrexplorer.core.hardware import detect
    from lrexplorer.frontend.preflight import preflight

    pf = preflight(read_fields(args), detect_facts(), detect())
    if pf.errors or pf.spec is None:
        raise FieldError.collect(pf.errors)
    for level, text in pf.warnings:
        say_advice(level, text)
    if pf.plan_error:
        print(f"note: {pf.plan_error}", file=sys.stderr)
    for name, value in pf.spec.changed().items():
        print(f"{name}: {show(value)}", file=args.out)
    print("ok: the run can start", file=sys.stderr)
    return Exit.OK


def disk_message(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full: {exc.strerror}{f' ({exc.filename})' if exc.filename else ''}; free some space and retry"
    return f"cannot write the run folder: {exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}"


def follow(run_dir: Path, out: TextIO, quiet: bool = False, poll_s: float = 0.25) -> int:
    """Print each new metrics record to `out` until the run ends; Ctrl-C asks for a graceful stop."""
    from lrexplorer.runs import launcher
    from lrexplorer.runs.folder import store

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
                    print(format_record(record, status.get("max_steps")), file=out, flush=True)
            if status.get("state") in store.FINAL_STATES:
                break
            time.sleep(poll_s)
    finally:
        signal.signal(signal.SIGINT, previous)
    state = status["state"]
    print(f"{state}: {status.get('message', '')}", file=sys.stderr if state != "completed" else out)
    return {"completed": Exit.OK, "stopped": Exit.STOPPED}.get(state, Exit.FAILED)


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
