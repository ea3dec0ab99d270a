"""`lrexplorer memory`: the peak memory of one training step per GPU, and where it goes.

The analytic engine needs no torch and answers at once; `--simulate` runs the real step under
FakeTensorMode (imports torch and transformers, takes seconds). Flags use the TrainingArguments,
PEFT and bitsandbytes field names; figures are bytes in `--json`, GiB in the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from lrexplorer.catalogues.params import MEMORY, renamed_from
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.cli.options import add_fields, field_values, given_fields, say_advice
from lrexplorer.core.fields import FieldError
from lrexplorer.core.units import GIB
from lrexplorer.memory.advice.advisor import DEFAULT_MARGIN_PERCENT, MARGIN_HELP, MAX_MARGIN_PERCENT, check_margin
from lrexplorer.memory.setup import FSDP_ONLY

# Without these the estimate would describe an arbitrary run: the command asks for them.
REQUIRED = ("model", "per_device_train_batch_size", "max_length")

DESCRIPTION = """\
Estimate the memory one steady-state training step needs per device: weights, gradients,
optimizer states, activations (logits and loss included) and overheads, and the peak over the
forward, backward and optimizer-step phases. Reports whether it fits each GPU (the detected ones,
or the bundled catalogue when there is none) and the headroom left."""

EPILOG = """\
examples:
  lrexplorer memory --model Llama-3.1-8B --per_device_train_batch_size 4 --max_length 2048 --bf16
  lrexplorer memory --model ./my-model --per_device_train_batch_size 1 --max_length 4096 \\
      --use_peft --lora_r 16 --load_in_4bit --activation_checkpointing --json
  lrexplorer memory --model Qwen2.5-7B --per_device_train_batch_size 2 --max_length 1024 \\
      --num_gpus 8 --zero_stage 3 --gpu "A100 80GB"
  lrexplorer memory --model Llama-3.1-8B --per_device_train_batch_size 4 --max_length 2048 \
      --gpu "A100 80GB" --check && accelerate launch train.py
  lrexplorer memory --list

The trainer modelled is --trainer sft (TRL's SFTTrainer, what lrexplorer runs and exports) unless
--trainer transformers; a TRL version or architecture the SFT model does not cover falls back to the
plain Trainer's loss with a warning.

With one GPU (named with --gpu, or detected) the fit advisor keeps --margin percent of its memory free,
reports the largest per_device_train_batch_size that fits and, when the run does not fit, the changes
that make it fit (each figure a re-run of the estimate).

exit status: 0 on success (with --check: the run fits), 1 with --check when it does not fit,
2 for a bad flag, model or combination (the message names it)."""


def add_parser(subparsers: Any) -> None:
    """Register `memory`: its catalogue fields as flags, and --list, --gpu, --simulate, --json."""
    p = subparsers.add_parser(
        "memory",
        help="estimate the memory of a training step per GPU (analytic or simulated)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.set_defaults(handler=run)
    p.add_argument("--list", action="store_true", help="print the bundled model presets and GPU catalogue and exit")
    p.add_argument(
        "--gpu",
        default="auto",
        metavar="auto|NAME",
        help="GPUs to check the fit on: auto (the detected ones, or the catalogue if none) or "
        "comma-separated catalogue names (default: auto)",
    )
    p.add_argument(
        "--simulate",
        action="store_true",
        help="run the real step under FakeTensorMode and count every tensor (seconds; imports torch)",
    )
    p.add_argument("--json", action="store_true", help="print JSON with byte counts instead of the table")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 0 when the peak fits the GPU (--gpu NAME or the detected one) with the margin, 1 when not",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN_PERCENT,
        metavar="PERCENT",
        help=f"{MARGIN_HELP} (0 to {MAX_MARGIN_PERCENT:g}; default {DEFAULT_MARGIN_PERCENT:g})",
    )
    add_fields(p, MEMORY, required=REQUIRED)


def _list(out: TextIO) -> int:
    from lrexplorer.catalogues.presets import load_presets
    from lrexplorer.memory.gpus import catalogue
    from lrexplorer.memory.model_source import resolve_model

    print("presets:", file=out)
    for name, preset in load_presets().items():
        arch = resolve_model(name).architecture
        print(f"  {name:18s} {arch.n_params / 1e9:7.2f} B  {preset.hub_id}", file=out)
    print("GPU catalogue:", file=out)
    for gpu in catalogue():
        cc = ".".join(map(str, gpu.compute_capability or ()))
        print(f"  {gpu.name:28s} {gpu.total_bytes / GIB:6.0f} GiB  compute capability {cc}", file=out)
    return Exit.OK


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args.out)
    given = given_fields(args, MEMORY)
    missing = [n for n in REQUIRED if n not in given and not set(renamed_from(n)) & given.keys()]
    if missing:
        raise FieldError.collect([FieldError(n, "is required (or --list)") for n in missing])
    values, notes = field_values(args, MEMORY)
    if "lora_r" in given and not values["use_peft"]:
        raise FieldError("lora_r", "sets the rank of LoRA adapters, which are off: add --use_peft to estimate LoRA")
    stray = [n for n in FSDP_ONLY if n in given]
    if stray and not values["fsdp"]:
        raise FieldError(stray[0], "is an FSDP2 option and applies only with fsdp: add --fsdp (with --num_gpus)")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return _run(args, values)


def _run(args: argparse.Namespace, values: dict[str, Any]) -> int:
    from lrexplorer.memory.advice.advisor import advise
    from lrexplorer.memory.advice.report import advice_text, result_dict, text_table
    from lrexplorer.memory.analytic.estimate import estimate
    from lrexplorer.memory.gpus import Fit, resolve_gpus
    from lrexplorer.memory.model_source import resolve_model
    from lrexplorer.memory.setup import setup_from_values, validate

    source = resolve_model(values["model"])
    setup = setup_from_values(values, source.config)
    for finding in validate(setup, source.architecture):  # the rules' advice, as the Memory page shows it
        say_advice(finding.level, finding.text)
    check_margin(args.margin)
    gpus, note = resolve_gpus(args.gpu) if setup.device == "cuda" else ([], None)
    target = advisor_gpu(gpus, note, setup.device, args.check)
    result: Any
    if args.simulate:
        from lrexplorer.memory.pytorch.simulate import simulate_step
        from lrexplorer.memory.pytorch.simulate_parallel import simulate_parallel_step

        def progress(message: str, fraction: float) -> None:
            print(f"simulating: {message} ({100 * fraction:.0f}%)", file=sys.stderr, flush=True)

        if setup.fsdp and setup.num_gpus > 1:  # one rank, on a fake process group this one-shot process owns
            result = simulate_parallel_step(source.config, source.architecture, setup, progress=progress)
        else:
            result = simulate_step(source.config, source.architecture, setup, progress=progress)
    else:
        result = estimate(source.architecture, setup)
    data = result_dict(result, setup, gpus, source.label)
    advice = advise(source.architecture, setup, target, args.margin) if target is not None else None
    if advice is not None:
        data.update(advice.to_dict())
    # The advisor weighs memory only: a GPU that cannot run the setup (no bfloat16, no flash-attention)
    # fails the check whatever its headroom.
    cannot = Fit(target, 0).problems(setup, setup.attention(source.architecture)) if target is not None else []
    if args.json:
        json.dump(data, args.out, indent=1)
        args.out.write("\n")
    else:
        print(text_table(data, note), file=args.out)
        if advice is not None:
            print("\n" + advice_text(advice), file=args.out)
        if cannot:
            cannot_text = "; ".join(cannot)
            print(
                f"{target.name if target else ''} cannot run this setup, whatever its memory: {cannot_text}",
                file=args.out,
            )
    return Exit.FAILED if args.check and advice is not None and (not advice.fits or cannot) else Exit.OK


def advisor_gpu(gpus: list[Any], note: str | None, device: str, check: bool) -> Any:
    """The GPU the fit advisor answers for: the one named or detected (the smallest of several);
    none for the whole catalogue. --check without one is a usage error."""
    if device == "cuda" and gpus and note is None:
        return min(gpus, key=lambda g: g.total_bytes)
    if check:
        where = "it needs device cuda" if device != "cuda" else "name one with --gpu NAME (none was detected)"
        raise FieldError("check", f"checks the fit on one GPU: {where}")
    return None
