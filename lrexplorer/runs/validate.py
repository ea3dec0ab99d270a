"""Cross-field rules of a run spec, and the hardware facts they depend on.

Per-field types and ranges live in the catalogue (`Field.convert`); here are the rules that need
two fields or the machine: precision against the hardware, flash attention against its package and
GPU, a stream without max_steps, schedule arguments against the schedules catalogue. Every error
names the field to fix. `Facts` can be built by hand, so the page can check a spec for another
machine and tests can pose as a GPU this machine lacks.
"""

from __future__ import annotations

import importlib.util
import os
import platform
from dataclasses import dataclass, field
from typing import Any

from lrexplorer.catalogues.params import CATALOGUE, FieldError
from lrexplorer.core.kernels import FLASH, best_flash, installed_flash_kernels, is_flash, kernel_problem, sdpa_backend
from lrexplorer.core.limits import tokens_problem
from lrexplorer.runs.training.distributed import check_distributed
from lrexplorer.schedules import get_schedule

AMPERE = (8, 0)  # bf16 tensor cores, TF32 and flash-attention 2 start at compute capability 8.0


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about the machine that will train."""

    gpu_capabilities: tuple[tuple[int, int], ...]  # one per visible CUDA GPU, in torch's order
    cpu_bf16: bool  # the CPU has bfloat16 instructions (avx512_bf16 / amx_bf16 / arm bf16)
    flash_attn: bool  # the flash-attn (2) package is installed
    flash_kernels: frozenset[str] = frozenset()  # flash_attention_3 / _4 whose packages are installed
    deepspeed: bool = False  # the deepspeed package is importable
    cpu_cores: int = field(default_factory=lambda: os.cpu_count() or 1)

    @property
    def installed_kernels(self) -> frozenset[str]:
        return self.flash_kernels | ({"flash_attention_2"} if self.flash_attn else set())

    def on_cpu(self, use_cpu: bool) -> bool:
        return use_cpu or not self.gpu_capabilities

    @property
    def first_capability(self) -> tuple[int, int] | None:
        return self.gpu_capabilities[0] if self.gpu_capabilities else None

    def lock_name(self, use_cpu: bool) -> str:
        """One run per device: `cpu`, or the first visible GPU (the first of the run's GPUs)."""
        return self.lock_names(use_cpu, 1)[0]

    def lock_names(self, use_cpu: bool, num_processes: int) -> list[str]:
        """The devices a run of `num_processes` holds: `cpu` (all CPU processes share it), else one GPU
        per process, the first visible ones."""
        if self.on_cpu(use_cpu):
            return ["cpu"]
        visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        ids = visible or [str(i) for i in range(max(num_processes, 1))]
        return [f"gpu{i}" for i in ids[: max(num_processes, 1)]]


def cpu_has_bf16() -> bool:
    if platform.system() != "Linux":
        return True  # no cheap way to ask; transformers' own checks still run in the worker
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return True
    flags = set(text.replace("\n", " ").split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def detect_facts(use_torch: bool = False) -> Facts:
    """This machine. With `use_torch` (in the worker) CUDA is asked through torch; else through NVML."""
    if use_torch:
        import torch

        caps = (
            tuple(torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count()))
            if torch.cuda.is_available()
            else ()
        )
    else:
        from lrexplorer.core.hardware import detect_gpus

        gpus = detect_gpus()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            wanted = [int(x) for x in visible.split(",") if x.strip().isdigit()]
            gpus = [g for i in wanted for g in gpus if g.index == i]
        caps = tuple(g.compute_capability or (0, 0) for g in gpus)
    kernels = installed_flash_kernels()
    return Facts(
        gpu_capabilities=caps,
        cpu_bf16=cpu_has_bf16(),
        flash_attn="flash_attention_2" in kernels,
        flash_kernels=kernels - {"flash_attention_2"},
        deepspeed=importlib.util.find_spec("deepspeed") is not None,
    )


def _half(values: dict[str, Any]) -> bool:
    return bool(values["bf16"] or values["fp16"] or values["dtype"] in ("bfloat16", "float16"))


def _capability(values: dict[str, Any], facts: Facts) -> tuple[int, int] | None:
    return None if facts.on_cpu(values["use_cpu"]) else facts.first_capability


def resolve_attention(values: dict[str, Any], facts: Facts) -> str:
    """The attention implementation to load the model with (`auto` decided here, once): the newest flash
    kernel that can run, else sdpa."""
    wanted = values["attn_implementation"]
    if wanted != "auto":
        return wanted
    return best_flash(facts.installed_kernels, _capability(values, facts), _half(values)) or "sdpa"


def attention_note(values: dict[str, Any], facts: Facts) -> str:
    """What the run's attention will be, the SDPA backend when it is sdpa, and the kernels that cannot run."""
    cap, half = _capability(values, facts), _half(values)
    chosen = resolve_attention(values, facts)
    asked = values["attn_implementation"]
    text = f"Attention: {chosen}" + (" (auto)" if asked == "auto" else "")
    if chosen == "sdpa":
        padded = not values.get("padding_free") and not values.get("packing")
        text += f", SDPA backend {sdpa_backend(cap, half, padded)}"
    where = "this machine trains on the CPU" if cap is None else f"the GPU has compute capability {cap[0]}.{cap[1]}"
    blocked = [kernel_problem(n, facts.installed_kernels, cap, half, where) for n in FLASH]
    unavailable = [b for b in blocked if b]
    if unavailable:
        text += ". Not available here: " + "; ".join(unavailable)
    return text + "."


def validate(values: dict[str, Any], facts: Facts) -> tuple[list[FieldError], list[str]]:
    """(errors, notes) of the cross-field rules; `values` are already converted field by field."""
    errors: list[FieldError] = []
    notes: list[str] = []
    on_cpu = facts.on_cpu(values["use_cpu"])
    cap = facts.first_capability or (0, 0)  # (0, 0) only on the CPU, where on_cpu decides first
    gpu_text = "this machine trains on the CPU" if on_cpu else f"the GPU has compute capability {cap[0]}.{cap[1]}"

    if values["fp16"] and values["bf16"]:
        errors.append(FieldError("fp16", "cannot be combined with bf16; choose one mixed-precision mode"))
    if values["fp16"] and on_cpu:
        # transformers accepts it and CPU autocast runs it, so this is advice, not an error.
        notes.append("fp16 on the CPU runs through CPU autocast: slower than float32 here; it pays off on GPUs.")
    if values["bf16"]:
        if on_cpu and not facts.cpu_bf16:
            errors.append(
                FieldError("bf16", "this CPU has no bfloat16 instructions (avx512_bf16 / amx_bf16); turn bf16 off")
            )
        elif not on_cpu and cap < AMPERE:
            errors.append(
                FieldError("bf16", f"bfloat16 needs compute capability >= 8.0 (Ampere) and {gpu_text}; use fp16")
            )
    if values["tf32"] and (on_cpu or cap < AMPERE):
        errors.append(
            FieldError(
                "tf32", f"TF32 needs an NVIDIA GPU of compute capability >= 8.0 and {gpu_text}; leave tf32 unset"
            )
        )
    if values["dtype"] == "float16" and on_cpu:
        notes.append("dtype float16 on the CPU is slow and may overflow; bfloat16 or float32 are the usual choices.")

    if is_flash(values["attn_implementation"]):
        problem = kernel_problem(
            values["attn_implementation"], facts.installed_kernels, None if on_cpu else cap, _half(values), gpu_text
        )
        if problem:
            errors.append(FieldError("attn_implementation", f"{problem}; use sdpa or auto"))

    _check_packing(values, errors, notes)
    if values["dataset_streaming"] and values["max_steps"] == -1:
        errors.append(
            FieldError(
                "max_steps",
                "a streamed dataset has no length, so the number of updates cannot come "
                "from num_train_epochs; set max_steps >= 1",
            )
        )
    too_many = tokens_problem(values["per_device_train_batch_size"], values["max_length"])
    if too_many:
        errors.append(FieldError("per_device_train_batch_size", too_many))
    if values["learning_rate"] * values["weight_decay"] >= 1:
        # Every optimizer here multiplies each weight by (1 - lr x weight_decay) per update.
        errors.append(
            FieldError(
                "weight_decay",
                f"learning_rate x weight_decay must be below 1 (each update scales the weights by 1 - their "
                f"product, so {values['learning_rate']:g} x {values['weight_decay']:g} zeroes or flips them); "
                "typical weight_decay: 0 to 0.1",
            )
        )
    _check_schedule(values, errors)
    _check_quantization(values, facts, errors, notes)
    check_distributed(values, facts, errors, notes)
    if values["eval_strategy"] == "steps" and values["eval_steps"] is None:
        notes.append(f"eval_steps unset: evaluating every logging_steps ({values['logging_steps']:g}) updates.")
    if values["save_strategy"] == "no":
        notes.append("save_strategy is no: a stopped run cannot be resumed (no checkpoint).")
    if not values["use_peft"]:
        ignored = [n for n in ("lora_target_modules", "use_rslora", "use_dora") if values[n]]
        if ignored:
            notes.append(
                f"{', '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored because use_peft is off."
            )
    if values["activation_checkpointing_kwargs"] and not values["activation_checkpointing"]:
        notes.append("activation_checkpointing_kwargs is ignored because activation_checkpointing is off.")
    return errors, notes


def _check_packing(values: dict[str, Any], errors: list[FieldError], notes: list[str]) -> None:
    """packing, packing_strategy and padding_free against max_length, as SFTTrainer checks them."""
    if values["packing"] and values["max_length"] is None:
        errors.append(FieldError("max_length", "packing fills sequences of max_length tokens; give a number"))
    if values["padding_free"] and not values["packing"] and values["max_length"] is not None:
        # SFTTrainer refuses the pair: its padding-free collator does not enforce max_length.
        errors.append(
            FieldError(
                "padding_free",
                "without packing, TRL refuses padding_free with a max_length; set max_length to null "
                "(every example keeps its full length), turn packing on, or turn padding_free off",
            )
        )
    if values["packing"] and values["packing_strategy"] == "wrapped" and values["padding_free"]:
        notes.append("padding_free with wrapped packing: TRL advises against it (wrapped rows cut documents anywhere).")
    if not values["packing"] and values["packing_strategy"] != "bfd":
        notes.append("packing_strategy is ignored because packing is off.")


def _check_schedule(values: dict[str, Any], errors: list[FieldError]) -> None:
    try:
        schedule = get_schedule(values["lr_scheduler_type"])
        # The true span is known only once the data is loaded; any positive span checks names and types.
        span = values["max_steps"] if values["max_steps"] > 0 else 1000
        schedule.with_lr(schedule.resolve(values["lr_scheduler_kwargs"], span), values["learning_rate"])
    except FieldError as exc:
        # A scheduler argument's error names the argument; the spec field at fault is lr_scheduler_kwargs.
        errors.append(exc if exc.field == "lr_scheduler_type" else FieldError("lr_scheduler_kwargs", exc.line))
        return
    if schedule.metric_driven and values["eval_strategy"] == "no":
        errors.append(
            FieldError(
                "eval_strategy",
                f"{schedule.name} changes the LR after each evaluation; set eval_strategy to steps or epoch",
            )
        )


def _check_quantization(values: dict[str, Any], facts: Facts, errors: list[FieldError], notes: list[str]) -> None:
    """bitsandbytes-quantized base weights: LoRA on top, one format, a compute dtype the device has."""
    four, eight = values["load_in_4bit"], values["load_in_8bit"]
    if not (four or eight):
        changed = [n for n in BNB_4BIT if values[n] != CATALOGUE[n].default]
        if changed:
            notes.append(f"{', '.join(changed)}: used only with load_in_4bit, which is off.")
        return
    name = "load_in_4bit" if four else "load_in_8bit"
    if four and eight:
        errors.append(FieldError("load_in_8bit", "cannot be combined with load_in_4bit; choose one of them"))
    if not values["use_peft"]:
        errors.append(
            FieldError(name, "needs use_peft: quantized weights are frozen, only LoRA adapters on top of them train")
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        errors.append(FieldError(name, "needs the bitsandbytes package (pip install bitsandbytes)"))
    if not four:
        return
    on_cpu = facts.on_cpu(values["use_cpu"])
    cap = facts.first_capability or (0, 0)
    compute = values["bnb_4bit_compute_dtype"]
    if compute == "bfloat16" and on_cpu and not facts.cpu_bf16:
        errors.append(
            FieldError(
                "bnb_4bit_compute_dtype",
                "this CPU has no bfloat16 instructions (avx512_bf16 / amx_bf16); use float32",
            )
        )
    elif compute == "bfloat16" and not on_cpu and cap < AMPERE:
        errors.append(
            FieldError(
                "bnb_4bit_compute_dtype",
                f"bfloat16 needs compute capability >= 8.0 (Ampere) and the GPU has {cap[0]}.{cap[1]}; use float16",
            )
        )
    elif compute == "float16" and on_cpu:
        notes.append("bnb_4bit_compute_dtype float16 on the CPU is slow; float32 (or bfloat16) suits the CPU better.")


BNB_4BIT = ("bnb_4bit_quant_type", "bnb_4bit_compute_dtype", "bnb_4bit_use_double_quant")
