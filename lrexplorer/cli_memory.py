"""`lrexplorer memory`: the peak memory of one training step per GPU, and where it goes.

The analytic engine needs no torch and answers at once; `--simulate` runs the real step under
FakeTensorMode (imports torch and transformers, takes seconds). Flags use the TrainingArguments,
PEFT and bitsandbytes field names; figures are bytes in `--json`, GiB in the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .cli_common import UsageError, add_bool_flag

DESCRIPTION = """\
Estimate the memory one steady-state training step needs per device: weights, gradients,
optimizer states, activations (logits and loss included) and overheads, and the peak over the
forward, backward and optimizer-step phases. Reports whether it fits each GPU (the detected ones,
or the bundled catalogue when there is none) and the headroom left."""

EPILOG = """\
examples:
  lrexplorer memory --model Llama-3.1-8B --per_device_train_batch_size 4 --max_length 2048 --bf16
  lrexplorer memory --model ./my-model --per_device_train_batch_size 1 --max_length 4096 \\
      --lora_r 16 --load_in_4bit --gradient_checkpointing --json
  lrexplorer memory --model Qwen2.5-7B --per_device_train_batch_size 2 --max_length 1024 \\
      --num_gpus 8 --zero_stage 3 --gpu "A100 80GB"
  lrexplorer memory --list

exit status: 0 on success, 2 for a bad flag, model or combination (the message names it)."""


def add_parser(subparsers: Any) -> None:
    """Register `memory` and its flags on the dispatcher."""
    from .memory.setup import ATTENTION, DEVICES, DTYPES, OPTIMIZERS

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
        "--model",
        metavar="PRESET|PATH|HUB_ID",
        help="a bundled preset (see --list), a config.json or a folder holding one, or a Hub id",
    )
    p.add_argument("--per_device_train_batch_size", type=int, metavar="B", help="sequences per micro-batch per GPU")
    p.add_argument("--max_length", type=int, metavar="S", help="tokens per sequence (every sequence this long)")
    p.add_argument(
        "--gradient_accumulation_steps",
        type=int,
        default=1,
        metavar="G",
        help="micro-batches per optimizer update (default: 1)",
    )
    add_bool_flag(p, "gradient_checkpointing", "recompute each layer's forward in the backward")
    p.add_argument(
        "--optim",
        default="adamw_torch_fused",
        metavar="NAME",
        help=f"optimizer, one of {', '.join(OPTIMIZERS)} (default: adamw_torch_fused)",
    )
    p.add_argument(
        "--torch_dtype",
        default=None,
        metavar="DTYPE",
        help=f"dtype the weights are loaded in, one of {', '.join(DTYPES)} (default: the model "
        "config's, as transformers loads it, else float32)",
    )
    add_bool_flag(p, "bf16", "bfloat16 mixed precision (autocast)")
    add_bool_flag(p, "fp16", "float16 mixed precision (autocast and loss scaling)")
    p.add_argument(
        "--attn_implementation",
        default=None,
        metavar="NAME",
        help=f"one of {', '.join(ATTENTION)} (default: sdpa, or eager for models without sdpa support)",
    )
    p.add_argument("--lora_r", type=int, default=0, metavar="R", help="LoRA rank; 0 trains all weights (default: 0)")
    p.add_argument(
        "--lora_target_modules",
        default=None,
        metavar="NAMES",
        help="comma-separated Linear names LoRA adapts, or all-linear (default: PEFT's for the model, "
        "q_proj,v_proj for Llama-like models)",
    )
    add_bool_flag(p, "load_in_4bit", "load the base weights in 4-bit NF4 (QLoRA; needs --lora_r)")
    add_bool_flag(p, "bnb_4bit_use_double_quant", "quantise the 4-bit scales too (about 0.37 bits per weight less)")
    p.add_argument("--num_gpus", type=int, default=1, metavar="N", help="data-parallel GPUs (default: 1)")
    p.add_argument("--zero_stage", type=int, default=0, metavar="0|1|2|3", help="DeepSpeed ZeRO stage (default: 0)")
    add_bool_flag(p, "fsdp", "FSDP full shard")
    p.add_argument(
        "--gpu",
        default="auto",
        metavar="auto|NAME",
        help="GPUs to check the fit on: auto (the detected ones, or the catalogue if none) or "
        "comma-separated catalogue names (default: auto)",
    )
    p.add_argument(
        "--device",
        default="cuda",
        metavar="DEVICE",
        help=f"where the run trains, one of {', '.join(DEVICES)}; cpu counts no CUDA context or "
        "workspace (default: cuda)",
    )
    p.add_argument(
        "--simulate",
        action="store_true",
        help="run the real step under FakeTensorMode and count every tensor (seconds; imports torch)",
    )
    p.add_argument("--json", action="store_true", help="print JSON with byte counts instead of the table")


def _setup(args: argparse.Namespace, config: dict[str, Any]) -> Any:
    from .memory.setup import TrainingSetup

    dtype = args.torch_dtype
    if dtype is None:  # transformers 5 loads weights in the checkpoint's dtype ("auto")
        dtype = str(config.get("dtype") or config.get("torch_dtype") or "float32")
        if dtype not in ("float32", "bfloat16", "float16"):
            dtype = "float32"
    targets = args.lora_target_modules
    if targets is not None:
        targets = (
            "all-linear"
            if targets.strip() == "all-linear"
            else tuple(t.strip() for t in targets.split(",") if t.strip())
        )
    return TrainingSetup(
        per_device_train_batch_size=args.per_device_train_batch_size,
        max_length=args.max_length,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        gradient_checkpointing=args.gradient_checkpointing,
        optim=args.optim,
        torch_dtype=dtype,
        bf16=args.bf16,
        fp16=args.fp16,
        attn_implementation=args.attn_implementation,
        lora_r=args.lora_r,
        lora_target_modules=targets,
        load_in_4bit=args.load_in_4bit,
        bnb_4bit_use_double_quant=args.bnb_4bit_use_double_quant,
        num_gpus=args.num_gpus,
        zero_stage=args.zero_stage,
        fsdp=args.fsdp,
        device=args.device,
    )


def _list() -> int:
    from .memory.gpus import catalogue
    from .memory.presets import load_presets
    from .memory.sources import resolve_model

    print("presets:")
    for name, preset in load_presets().items():
        arch = resolve_model(name).architecture
        print(f"  {name:18s} {arch.n_params / 1e9:7.2f} B  {preset.hub_id}")
    print("GPU catalogue:")
    for gpu in catalogue():
        cc = ".".join(map(str, gpu.compute_capability or ()))
        print(f"  {gpu.name:28s} {gpu.total_bytes / 1024**3:6.0f} GiB  compute capability {cc}")
    return 0


def run(args: argparse.Namespace) -> int:
    from .memory.errors import MemoryConfigError

    if args.list:
        return _list()
    missing = [f"--{n}" for n in ("model", "per_device_train_batch_size", "max_length") if getattr(args, n) is None]
    if missing:
        raise UsageError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required (or --list)")
    try:
        return _run(args)
    except MemoryConfigError as exc:
        raise UsageError(str(exc), exc.field) from None


def _run(args: argparse.Namespace) -> int:
    from .memory.estimate import estimate
    from .memory.gpus import resolve_gpus
    from .memory.report import result_dict, text_table
    from .memory.setup import validate
    from .memory.sources import resolve_model

    source = resolve_model(args.model)
    setup = _setup(args, source.config)
    validate(setup, source.architecture)
    gpus, note = resolve_gpus(args.gpu) if setup.device == "cuda" else ([], None)
    result: Any
    if args.simulate:
        from .memory.simulate import simulate_step

        def progress(message: str, fraction: float) -> None:
            print(f"simulating: {message} ({100 * fraction:.0f}%)", file=sys.stderr, flush=True)

        result = simulate_step(source.config, source.architecture, setup, progress=progress)
    else:
        result = estimate(source.architecture, setup)
    data = result_dict(result, setup, gpus, source.label)
    if args.json:
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(text_table(data, note))
    return 0
