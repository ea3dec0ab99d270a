"""Rules of several processes: how many this machine runs, FSDP and DeepSpeed against each other, the device
and quantized weights, and what an estimate of several processes models. `max_processes` and `unavailable`
answer the Train form, which bounds and disables its inputs with the same reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrexplorer.catalogues.params.distributed import fsdp_config_problem
from lrexplorer.core.facts import Facts
from lrexplorer.core.fields import FieldError
from lrexplorer.core.groups import MEMORY, TRAIN
from lrexplorer.rules.rule import BOTH, Subject, advice, refusal

MAX_CPU_PROCESSES = 8  # gloo processes on one machine: more than a handful only share the same cores
# What DeepSpeed 0.19 does on CPU processes (gloo), found by running the built-in model (bench/README.md).
CPU_ADAM_BUILD = (
    "DeepSpeed compiles its CPU Adam (C++, with the compiler torch uses) the first time an _offload preset runs "
    "on this machine: about two minutes on two cores, then cached in ~/.cache/torch_extensions."
)
FSDP_ON_GPUS = "FSDP needs GPUs: accelerate's CPU processes train plain data parallel (num_processes alone)"
NO_DEEPSPEED = "deepspeed is not installed (pip install deepspeed)"


def max_processes(values: Mapping[str, Any], facts: Facts) -> tuple[int, str]:
    """(the largest num_processes this machine runs, why)."""
    if facts.on_cpu(values["use_cpu"]):
        cap = max(1, min(MAX_CPU_PROCESSES, facts.cpu_cores))
        return cap, f"on the CPU one process per core, at most {MAX_CPU_PROCESSES} ({facts.cpu_cores} cores here)"
    count = len(facts.gpu_capabilities)
    return count, f"one process per GPU and this machine has {count} GPU{'s' if count != 1 else ''}"


def unavailable(facts: Facts, use_cpu: bool) -> dict[str, str]:
    """The distributed fields this machine cannot use, each with the reason (the Train form disables them)."""
    out: dict[str, str] = {}
    if facts.on_cpu(use_cpu):
        out["fsdp"] = out["fsdp_config"] = FSDP_ON_GPUS
    if not facts.deepspeed:
        out["deepspeed"] = NO_DEEPSPEED
    return out


@refusal("num_processes", needs=("facts",))
def processes_fit_the_machine(s: Subject) -> str | None:
    """More processes than this machine's cores (on the CPU) or GPUs."""
    assert s.facts is not None
    n = s.values["num_processes"]
    top, why = max_processes(s.values, s.facts)
    return f"must be between 1 and {top}: {why}; got {n}" if n > top else None


@refusal("deepspeed", tools=BOTH)
def one_sharding_scheme(s: Subject) -> FieldError | None:
    """FSDP and DeepSpeed ZeRO together."""
    other = "deepspeed" if s.tool == TRAIN else "zero_stage"
    if s.values["fsdp"] and s.values[other]:
        # A run names the DeepSpeed preset at fault; an estimate, the fsdp switch.
        field = "deepspeed" if s.tool == TRAIN else "fsdp"
        return FieldError(field, f"fsdp and {other} are exclusive: shard with FSDP or DeepSpeed ZeRO, not both")
    return None


@refusal("fsdp", tools=BOTH)
def fsdp_cannot_shard_quantized(s: Subject) -> str | None:
    """FSDP over bitsandbytes-quantized weights."""
    quantized = "load_in_4bit" if s.values["load_in_4bit"] else "load_in_8bit" if s.values.get("load_in_8bit") else None
    if s.values["fsdp"] and quantized:
        return f"cannot shard bitsandbytes-quantized weights ({quantized}); turn fsdp off or load them unquantized"
    return None


@refusal("deepspeed", tools=BOTH)
def zero3_cannot_shard_4bit(s: Subject) -> FieldError | None:
    """ZeRO-3 over 4-bit weights."""
    if not s.values["load_in_4bit"]:
        return None
    if s.tool == TRAIN and str(s.values["deepspeed"] or "").startswith("zero3"):
        return FieldError("deepspeed", "ZeRO-3 cannot shard 4-bit weights (load_in_4bit); use zero2 or zero1")
    if s.tool == MEMORY and s.values["zero_stage"] == 3:
        return FieldError("load_in_4bit", "ZeRO-3 cannot shard 4-bit weights (load_in_4bit); use zero_stage 2 or 1")
    return None


@refusal("fsdp_config")
def fsdp_config_valid(s: Subject) -> str | None:
    """An fsdp_config FSDP2 does not take."""
    return fsdp_config_problem(s.values["fsdp_config"]) if s.values["fsdp_config"] else None


@advice("info", "fsdp_config")
def fsdp_config_unused(s: Subject) -> str | None:
    """fsdp_config while fsdp is off."""
    if s.values["fsdp_config"] and not s.values["fsdp"] and not fsdp_config_problem(s.values["fsdp_config"]):
        return "fsdp_config is ignored because fsdp is off."
    return None


@refusal("fsdp", tools=BOTH)
def fsdp_needs_gpus(s: Subject) -> str | None:
    """FSDP on CPU processes, which accelerate does not shard."""
    # accelerate turns FSDP on only for GPU-like process groups (AcceleratorState: MULTI_GPU, ...); its CPU
    # processes (MULTI_CPU over gloo) ignore the FSDP plugin and train plain DDP, sharding nothing.
    if s.values["fsdp"] and s.on_cpu:
        return (
            "accelerate shards with FSDP on GPUs only: CPU processes (gloo) ignore it and train plain data parallel, "
            "so nothing would be sharded; turn fsdp off on the CPU (several processes alone train data parallel)"
        )
    return None


@refusal("device", tools=(MEMORY,))
def cpu_estimate_is_one_process(s: Subject) -> str | None:
    """An estimate of plain data parallel on CPU processes, which the memory model does not cover."""
    v = s.values
    if s.on_cpu and v["num_gpus"] > 1 and not v["zero_stage"] and not v["fsdp"]:
        return (
            "cpu estimates one CPU process, alone or one of num_gpus processes under a zero_stage: "
            "plain data parallel (num_gpus without zero_stage) is modelled on GPUs"
        )
    return None


@advice("info", "fsdp")
def fsdp_on_one_process(s: Subject) -> str | None:
    """FSDP with a single process."""
    if s.values["fsdp"] and not s.on_cpu and s.values["num_processes"] == 1:
        return "fsdp on one process shards nothing: every weight stays whole on that process."
    return None


@refusal("deepspeed", needs=("facts",))
def deepspeed_installed(s: Subject) -> str | None:
    """A DeepSpeed preset without the deepspeed package."""
    assert s.facts is not None
    if s.values["deepspeed"] and not s.facts.deepspeed:
        return "needs the deepspeed package, which is not installed (pip install deepspeed); leave it empty"
    return None


@advice("info", "deepspeed")
def offload_replaces_optim(s: Subject) -> str | None:
    """A ZeRO-Offload preset, whose optimizer is DeepSpeed's CPU Adam."""
    preset = s.values["deepspeed"]
    if preset and preset.endswith("_offload"):
        return f"{preset}: DeepSpeed's CPU Adam replaces optim (the optimizer states live in CPU RAM)."
    return None


@advice("info", "deepspeed")
def cpu_adam_builds_once(s: Subject) -> str | None:
    """A ZeRO-Offload preset on the CPU, which compiles DeepSpeed's CPU Adam on its first run."""
    preset = s.values["deepspeed"]
    return CPU_ADAM_BUILD if preset and preset.endswith("_offload") and s.on_cpu else None
