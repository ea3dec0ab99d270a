"""Real training and generation on a CUDA GPU: memory of real steps and generate calls beside the estimate,
each attention kernel, two processes.

Four parts, chosen with `--part` (default all of them):

memory: real steps of models built from the presets' configs beside the memory estimate (below).
attention: the built-in model in a short real run with each attention kernel, padded and padding_free
  batches, tokens/s and peak memory side by side (bench/attention_kernels.py's rows; bf16 on the GPU).
processes: the built-in model trained by two processes, FSDP2 full shard and plain DDP, tokens/s and rank
  0's measured peak beside the per-rank estimate (bench/gpu_processes.py); it needs two GPUs and says so
  when there are fewer. On the CPU two processes train DDP over gloo (FSDP is GPU-only: the row says so).
generate: one real generate call per preset of the families the generation estimate covers, the allocator's
  peak beside the estimate (bench/gpu_generate.py; --batch, --prompt_length, --max_new_tokens).

For each preset (random weights from its config, nothing downloaded) and each trainer (TRL's
SFTTrainer, the plain transformers Trainer), a real trainer runs three steps on random token ids;
step 2 (optimizer state alive, gradients set to None by step 1) is measured from `on_step_begin` to
`on_step_end`: `torch.cuda.max_memory_allocated` and `max_memory_reserved` after a peak reset, beside
the card's total as NVML reports it and our estimate of the same setup. A preset whose estimate does
not fit in 85 % of the card is built with fewer layers (halved until it fits; the row says how many).

`--device cpu` runs the same path on the built-in tiny config on the CPU, where torch's MemTracker
(every tensor storage) takes the allocator's place; there is no reserved figure and no NVML total.

    python bench/gpu_check.py                         # all three parts, on GPU 0 (and 1)
    python bench/gpu_check.py --part memory           # every preset, both trainers, on GPU 0
    python bench/gpu_check.py --only Qwen2.5-0.5B --max_length 1024 --batch 2
    python bench/gpu_check.py --device cpu --part memory   # the tiny config on the CPU (about a minute)
    python bench/gpu_check.py --device cpu --part processes --steps 6   # 2 CPU processes over gloo
    python bench/gpu_check.py --part generate --batch 8 --prompt_length 2048 --max_new_tokens 128
    python bench/gpu_check.py --device cpu --part generate --prompt_length 64 --max_new_tokens 8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from attention_kernels import kernel_rows, runs_root
from gpu_generate import generate_rows, halved
from gpu_processes import process_rows

from lrexplorer.catalogues.architecture import Architecture, from_config
from lrexplorer.core.units import MIB
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.setup import TrainingSetup

TRAINERS = ("sft", "transformers")
PARTS = ("memory", "attention", "processes", "generate")


class StepPeak:
    """A TrainerCallback (built lazily: transformers is imported inside) measuring step 2's peak."""

    def __new__(cls, device: str) -> Any:
        import torch
        from transformers import TrainerCallback

        from lrexplorer.memory.pytorch.counting import mem_tracker

        class Callback(TrainerCallback):
            def __init__(self) -> None:
                self.allocated: int | None = None
                self.reserved: int | None = None
                self.tracker: Any = None

            def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                if state.global_step != 1:
                    return
                if device == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                else:
                    self.tracker = mem_tracker()
                    self.tracker.track_external(kwargs["model"], getattr(kwargs["optimizer"], "optimizer", None))
                    self.tracker.__enter__()

            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                if state.global_step != 2:
                    return
                if device == "cuda":
                    torch.cuda.synchronize()
                    self.allocated = int(torch.cuda.max_memory_allocated())
                    self.reserved = int(torch.cuda.max_memory_reserved())
                else:
                    self.tracker.__exit__(None, None, None)
                    peak = self.tracker.get_tracker_snapshot("peak")
                    self.allocated = sum(dev.get("Total", 0) for dev in peak.values())

        return Callback()


def trainer_step(config: dict[str, Any], arch: Architecture, setup: TrainingSetup) -> tuple[int, int | None]:
    """(peak allocated, peak reserved or None) of step 2 of a real SFTTrainer or Trainer run of `setup`."""
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments, default_data_collator

    from lrexplorer.catalogues.builtin import load_tokenizer
    from lrexplorer.memory.pytorch.measure_sft import _quiet_datasets, sft_config, sft_dataset
    from lrexplorer.memory.pytorch.realmodel import build_model

    torch.manual_seed(0)
    if setup.device == "cuda":
        torch.set_default_device("cuda")
    try:
        model = build_model(config, arch, setup)
    finally:
        torch.set_default_device(None)
    peak = StepPeak(setup.device)
    with tempfile.TemporaryDirectory(prefix="lrexplorer-gpu-check-") as out, _quiet_datasets():
        data = sft_dataset(arch, setup)
        args = sft_config(setup, out)
        args.max_steps = 3
        if setup.trainer == "sft":
            from trl import SFTTrainer

            trainer: Any = SFTTrainer(
                model=model, args=args, train_dataset=data, processing_class=load_tokenizer(), callbacks=[peak]
            )
        else:
            data = data.map(lambda row: {"labels": row["input_ids"]})
            plain = TrainingArguments(
                output_dir=out,
                max_steps=3,
                per_device_train_batch_size=setup.per_device_train_batch_size,
                optim=setup.optim,
                bf16=setup.bf16,
                use_cpu=setup.device == "cpu",
                report_to=[],
                logging_strategy="no",
                save_strategy="no",
                disable_tqdm=True,
            )
            trainer = Trainer(
                model=model, args=plain, train_dataset=data, data_collator=default_data_collator, callbacks=[peak]
            )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    if peak.allocated is None:
        raise RuntimeError("the run ended before its second step")
    return peak.allocated, peak.reserved


def fitting_config(config: dict[str, Any], arch: Architecture, setup: TrainingSetup, total: int | None) -> dict:
    """The config with its layers halved until the estimate fits in FIT_SHARE of `total` (None: as it is)."""
    return halved(config, lambda c: estimate(from_config(c), setup).peak_bytes, total)


def check(name: str, config: dict[str, Any], setup: TrainingSetup, total: int | None) -> dict[str, Any]:
    """One row: the real step's figures beside the estimate, or the error that stopped it."""
    arch = from_config(config, name)
    config = fitting_config(config, arch, setup, total)
    arch = from_config(config, name)
    row: dict[str, Any] = {
        "model": name,
        "layers": config["num_hidden_layers"],
        "trainer": setup.trainer,
        "estimate": estimate(arch, setup).peak_bytes,
        "nvml_total": total,
    }
    try:
        row["allocated"], row["reserved"] = trainer_step(config, arch, setup)
        row["error"] = row["estimate"] / row["allocated"] - 1
    except Exception as exc:  # noqa: BLE001 - one row's failure (an OOM) is a result, the table goes on
        row["failure"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
    finally:
        _free_cuda()
    return row


def _free_cuda() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def cases(device: str, only: set[str]) -> list[tuple[str, dict[str, Any]]]:
    if device == "cpu":
        from lrexplorer.catalogues.builtin import TINY_CONFIG
        from lrexplorer.runs.estimates import builtin_vocab_size

        return [("builtin:tiny", {"model_type": "llama", **TINY_CONFIG, "vocab_size": builtin_vocab_size()})]
    from lrexplorer.catalogues.presets import load_presets

    return [(p.name, p.config) for p in load_presets().values() if not only or p.name in only]


def run(device: str, only: set[str], max_length: int, batch: int) -> list[dict[str, Any]]:
    total = None
    if device == "cuda":
        from lrexplorer.core.hardware import detect_gpus

        gpus = detect_gpus()
        total = gpus[0].total_bytes if gpus else None
    rows = []
    for name, config in cases(device, only):
        for trainer in TRAINERS:
            setup = TrainingSetup(
                per_device_train_batch_size=batch,
                max_length=max_length,
                dtype="bfloat16" if device == "cuda" else "float32",
                optim="adamw_torch",
                attn_implementation="sdpa",
                device=device,
                trainer=trainer,
            )
            rows.append(check(name, config, setup, total))
            print_row(rows[-1])
    return rows


def mib(value: int | None) -> str:
    return "—" if value is None else f"{value / MIB:,.1f}"


def print_row(r: dict[str, Any]) -> None:
    measured = r.get("failure") or f"{mib(r['allocated'])} | {mib(r['reserved'])} | {100 * r['error']:+.2f}%"
    print(
        f"| {r['model']} | {r['layers']} | {r['trainer']} | {mib(r['nvml_total'])} | {mib(r['estimate'])} | {measured} |"
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Every row of the parts asked for, in order (each part's rows as its own table prints them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--part", default=",".join(PARTS), help=f"comma-separated among {', '.join(PARTS)}")
    parser.add_argument("--only", default="", help="memory, generate: comma-separated preset names (default: all)")
    parser.add_argument("--max_length", type=int, default=512, help="memory")
    parser.add_argument(
        "--batch", type=int, default=1, help="memory: per_device_train_batch_size; generate: batch_size"
    )
    parser.add_argument("--prompt_length", type=int, default=512, help="generate")
    parser.add_argument("--max_new_tokens", type=int, default=64, help="generate")
    parser.add_argument("--steps", type=int, default=30, help="attention and processes: updates per run")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.part.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        parser.exit(2, f"gpu_check.py: --part takes {', '.join(PARTS)} (comma-separated); got {args.part!r}\n")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.exit(2, "gpu_check.py: no CUDA GPU here; --device cpu runs the CPU path\n")
    rows = []
    if "memory" in parts:
        rows += memory_part(args.device, args.only, args.max_length, args.batch)
    with runs_root("lrx-gpu-check-") as root:
        if "attention" in parts:
            print()
            rows += kernel_rows(args.device, args.steps, root)
        if "processes" in parts:
            print()
            rows += process_rows(args.device, args.steps, root)
    if "generate" in parts:
        print()
        only = {s.strip() for s in args.only.split(",") if s.strip()}
        rows += generate_rows(
            args.device, cases(args.device, only), args.batch, args.prompt_length, args.max_new_tokens
        )
    return rows


def memory_part(device: str, only: str, max_length: int, batch: int) -> list[dict[str, Any]]:
    where = "on the CPU: the allocated column is MemTracker's peak" if device == "cpu" else "on GPU 0"
    print(f"Step 2 of real runs, batch {batch}, max_length {max_length}, {where}.")
    print(
        "| model | layers | trainer | NVML total MiB | estimate MiB | max allocated MiB | max reserved MiB | est. error |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    return run(device, {s.strip() for s in only.split(",") if s.strip()}, max_length, batch)


if __name__ == "__main__":
    main()
