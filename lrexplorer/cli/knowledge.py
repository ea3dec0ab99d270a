"""`lrexplorer knowledge`: the knowledge-injection lab from the command line.

Runs `lrexplorer.knowledge.lab.run_lab` on the built-in base model and fact set (or a fact file),
prints progress with an ETA on stderr and the results table (or JSON) on stdout. No torch import
before the run starts: `--help` and bad flags answer at once.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lrexplorer.cli.exit_codes import Exit
from lrexplorer.core.fields import Field, FieldError
from lrexplorer.knowledge.progress import format_duration

# The lab's numeric options, checked by the same field type as every other flag.
EPOCHS = Field("epochs", "float", None, "passes over the fact documents", low=0.0, low_open=True, high=1000.0)
LEARNING_RATE = Field("learning_rate", "float", None, "fine-tuning learning rate", low=0.0, low_open=True, high=10.0)

EPILOG = """\
examples:
  lrexplorer knowledge                                   # base, ft, rag, ft+rag; 1, 2, 5 paraphrases; 3 seeds
  lrexplorer knowledge --methods base,rag --seeds 1      # no training: seconds
  lrexplorer knowledge --paraphrases 1,8 --budget updates --json
  lrexplorer knowledge --facts my_facts.jsonl --output_dir runs/knowledge-1

fact file: JSON lines with fields fact, paraphrases (list), questions (list), answer, candidates (list).

exit status: 0 done; 2 bad flag or fact file (the message names the field and line); 3 stopped by Ctrl-C
(partial results are still printed)."""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "knowledge",
        help="knowledge injection: base vs fine-tuning vs retrieval, accuracy on new facts",
        description="Teach the built-in base model facts about invented people by fine-tuning on paraphrases "
        "of them (ft), by retrieving them into the prompt (rag), or both, and score multiple-choice answers "
        "by log-probability as Ovadia et al. (2024) do.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.set_defaults(handler=run)
    p.add_argument("--methods", default="base,ft,rag,ft+rag", metavar="A,B", help="any of base, ft, rag, ft+rag")
    p.add_argument("--paraphrases", default="1,2,5", metavar="N,M", help="paraphrase counts to fine-tune on (1..K)")
    p.add_argument("--seeds", default="3", metavar="N", help="fine-tuning seeds per paraphrase count (default: 3)")
    p.add_argument("--epochs", default=None, metavar="E", help="passes over the fact documents")
    p.add_argument(
        "--budget",
        default="epochs",
        metavar="epochs|updates",
        help="epochs: same passes for every count; updates: every count gets the updates of E passes over the largest",
    )
    p.add_argument("--learning_rate", default=None, metavar="X", help="fine-tuning learning rate")
    p.add_argument("--per_device_train_batch_size", default=None, metavar="B", help="fine-tuning batch size")
    p.add_argument("--top_k", default=None, metavar="K", help="documents retrieved into the prompt")
    p.add_argument("--facts", metavar="JSONL", help="a fact file instead of the built-in fact set")
    p.add_argument("--model", metavar="DIR", help="a base model folder instead of the built-in one")
    p.add_argument("--output_dir", metavar="DIR", help="write results.json and the training log (log.jsonl) here")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _ints(text: str, field: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise FieldError(field, f"expected whole numbers separated by commas, got {text!r}") from None


def _int(text: str | None, field: str, default: int) -> int:
    if text is None:
        return default
    values = _ints(text, field)
    if len(values) != 1:
        raise FieldError(field, f"expected one whole number, got {text!r}")
    return values[0]


def build_settings(args: argparse.Namespace) -> Any:
    from lrexplorer.knowledge.lab import LabSettings

    defaults = LabSettings()
    return LabSettings(
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        paraphrases=_ints(args.paraphrases, "paraphrases"),
        seeds=_int(args.seeds, "seeds", defaults.seeds),
        epochs=defaults.epochs if args.epochs is None else EPOCHS.convert(args.epochs),
        budget=args.budget,
        learning_rate=defaults.learning_rate
        if args.learning_rate is None
        else LEARNING_RATE.convert(args.learning_rate),
        batch_size=_int(args.per_device_train_batch_size, "per_device_train_batch_size", defaults.batch_size),
        top_k=_int(args.top_k, "top_k", defaults.top_k),
    )


def load_and_check(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    from lrexplorer.knowledge.facts import FactFileError, load_facts
    from lrexplorer.knowledge.lab import validate

    settings = build_settings(args)
    try:
        facts = load_facts(args.facts) if args.facts else load_facts()
    except FactFileError as exc:
        raise FieldError("facts", str(exc)) from None
    try:
        validate(settings, facts)
    except ValueError as exc:
        field = str(exc).split(":", 1)[0]
        raise FieldError(field, str(exc).split(": ", 1)[1]) from None
    if args.model and not (Path(args.model) / "config.json").is_file():
        raise FieldError("model", f"{args.model} is not a model folder (no config.json)")
    return settings, facts


def run(args: argparse.Namespace) -> int:
    settings, facts = load_and_check(args)
    from lrexplorer.knowledge.cpu import passive_openmp_wait

    passive_openmp_wait()
    from lrexplorer.knowledge import assets
    from lrexplorer.knowledge.lab import run_lab
    from lrexplorer.knowledge.lab_folder import LabFolder
    from lrexplorer.knowledge.results import table

    folder = LabFolder(args.output_dir) if args.output_dir else None
    if folder is not None:
        folder.begin({**settings.to_json(), "facts": args.facts or "built-in"})
    stop = {"asked": False}

    def on_sigint(signum: int, frame: Any) -> None:
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nstopping after the current step (Ctrl-C again to abort)...", file=sys.stderr)

    def should_stop() -> bool:
        return stop["asked"] or (folder is not None and folder.should_stop())

    printer = None if args.quiet else ProgressPrinter()

    def progress(fraction: float, message: str, eta_s: float | None) -> None:
        if printer is not None:
            printer(fraction, message, eta_s)
        if folder is not None:
            folder.progress(fraction, message, eta_s)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with cpu_lock(args.output_dir or "lrexplorer knowledge", folder):
            result = run_lab(
                settings,
                facts,
                model_dir=args.model or assets.MODEL_DIR,
                progress=progress,
                should_stop=should_stop,
                log=folder.log if folder is not None else lambda record: None,
            )
    except BaseException as exc:
        if folder is not None:
            folder.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    payload = result.to_json()
    if folder is not None:
        state = "stopped" if result.stopped else "completed"
        folder.finish(state, f"{state} in {format_duration(result.elapsed_s)}", payload)
    print(json.dumps(payload, indent=1) if args.json else table(result), file=args.out)
    return Exit.STOPPED if result.stopped else Exit.OK


@contextmanager
def cpu_lock(holder: str, folder: Any = None) -> Iterator[None]:
    """Hold the CPU's run lock while the lab trains: one training per device, as for every run. A lab
    folder shows `queued` while the lock is taken by another run."""
    from lrexplorer.runs.folder import lock

    busy = lock.is_busy("cpu")
    if busy is not None:
        text = f"waiting for the cpu: busy with {busy.get('run_dir') or 'another run'}"
        print(text, file=sys.stderr, flush=True)
        if folder is not None:
            folder.update(state="queued", message=text)
    held = lock.acquire("cpu", holder, wait=True)
    if folder is not None:
        folder.update(state="running", message="loading the model")
    try:
        yield
    finally:
        held.close()


class ProgressPrinter:
    """One stderr line per phase and at most one every few seconds within it: `[ 42%] message, ETA 3m05s`."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self.last_message = ""
        self.last_time = 0.0

    def __call__(self, fraction: float, message: str, eta_s: float | None) -> None:
        now = time.monotonic()
        if message == self.last_message and now - self.last_time < self.every_s:
            return
        self.last_message, self.last_time = message, now
        eta = "" if eta_s is None else f", ETA {format_duration(eta_s)}"
        print(f"[{fraction * 100:3.0f}%] {message}{eta}", file=sys.stderr, flush=True)
