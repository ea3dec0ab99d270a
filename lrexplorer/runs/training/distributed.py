"""Runs on several processes: the rules a distributed spec must pass, the DeepSpeed config lrexplorer
writes for a ZeRO preset, and the `accelerate launch` command that starts the ranks.

One run stays one supervised process group: the worker started by the launcher holds the device
lock(s) and the run's status, and starts `accelerate launch --num_processes N -m lrexplorer.runs.training.worker
RUN_DIR --rank-process` under it. Rank 0 writes the run folder; every rank writes its own log.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrexplorer.catalogues.params import FieldError
from lrexplorer.catalogues.params.distributed import fsdp_config_problem

if TYPE_CHECKING:
    from lrexplorer.runs.validate import Facts

# What DeepSpeed 0.19 does on CPU processes (gloo), found by running the built-in model (bench/README.md).
CPU_ADAM_BUILD = (
    "DeepSpeed compiles its CPU Adam (C++, with the compiler torch uses) the first time an _offload preset runs "
    "on this machine: about two minutes on two cores, then cached in ~/.cache/torch_extensions."
)
MAX_CPU_PROCESSES = 8  # gloo processes on one machine: more than a handful only share the same cores
RANKS_DIR = "ranks"  # per-rank logs and error records inside the run folder


def max_processes(values: dict[str, Any], facts: Facts) -> tuple[int, str]:
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
        out["fsdp"] = out["fsdp_config"] = (
            "FSDP needs GPUs: accelerate's CPU processes train plain data parallel (num_processes alone)"
        )
    if not facts.deepspeed:
        out["deepspeed"] = "deepspeed is not installed (pip install deepspeed)"
    return out


def check_distributed(values: dict[str, Any], facts: Facts, errors: list[FieldError], notes: list[str]) -> None:
    """The rules of num_processes, fsdp, fsdp_config and deepspeed against each other and the machine."""
    n, fsdp, ds = values["num_processes"], values["fsdp"], values["deepspeed"]
    on_cpu = facts.on_cpu(values["use_cpu"])
    top, why = max_processes(values, facts)
    if n > top:
        errors.append(FieldError("num_processes", f"must be between 1 and {top}: {why}; got {n}"))
    quantized = "load_in_4bit" if values["load_in_4bit"] else "load_in_8bit" if values["load_in_8bit"] else None
    if fsdp and ds:
        errors.append(FieldError("deepspeed", "cannot be combined with fsdp; choose FSDP or DeepSpeed, not both"))
    if fsdp and quantized:
        errors.append(
            FieldError(
                "fsdp",
                f"cannot shard bitsandbytes-quantized weights ({quantized}); turn fsdp off or load them unquantized",
            )
        )
    if values["fsdp_config"]:
        problem = fsdp_config_problem(values["fsdp_config"])
        if problem:
            errors.append(FieldError("fsdp_config", problem))
        elif not fsdp:
            notes.append("fsdp_config is ignored because fsdp is off.")
    if fsdp and on_cpu:
        # accelerate turns FSDP on only for GPU-like process groups (AcceleratorState: MULTI_GPU, ...); its CPU
        # processes (MULTI_CPU over gloo) ignore the FSDP plugin and train plain DDP, sharding nothing.
        errors.append(
            FieldError(
                "fsdp",
                "accelerate shards with FSDP on GPUs only: CPU processes (gloo) ignore it and train plain data "
                "parallel, so nothing would be sharded; turn fsdp off on the CPU (num_processes alone runs DDP)",
            )
        )
    elif fsdp and n == 1:
        notes.append("fsdp on one process shards nothing: every weight stays whole on that process.")
    if ds:
        if not facts.deepspeed:
            errors.append(
                FieldError(
                    "deepspeed",
                    "needs the deepspeed package, which is not installed (pip install deepspeed); leave it empty",
                )
            )
        if ds.startswith("zero3") and values["load_in_4bit"]:
            errors.append(
                FieldError("deepspeed", "zero3 cannot shard 4-bit weights (load_in_4bit); use zero2 or zero1")
            )
        if ds.endswith("_offload"):
            notes.append(f"{ds}: DeepSpeed's CPU Adam replaces optim (the optimizer states live in CPU RAM).")
            if on_cpu:
                notes.append(CPU_ADAM_BUILD)


def zero_config(preset: str) -> dict[str, Any]:
    """The DeepSpeed config of a ZeRO preset, with "auto" where transformers fills in the spec's values
    (`HfTrainerDeepSpeedConfig.trainer_config_process`)."""
    stage = int(preset[4])
    zero: dict[str, Any] = {
        "stage": stage,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": "auto",
    }
    config: dict[str, Any] = {
        "zero_optimization": zero,
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
    }
    if stage == 3:
        zero.update(
            stage3_prefetch_bucket_size="auto",
            stage3_param_persistence_threshold="auto",
            stage3_gather_16bit_weights_on_model_save=True,
        )
    if preset.endswith("_offload"):
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        if stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
        # ZeRO-Offload steps the states on the CPU with DeepSpeed's own Adam.
        config["optimizer"] = {
            "type": "AdamW",
            "params": {"lr": "auto", "betas": "auto", "eps": "auto", "weight_decay": "auto"},
        }
    return config


def prepare_deepspeed_rank() -> None:
    """What a rank of a DeepSpeed run sets before DeepSpeed starts its communication.

    DeepSpeed's CPU backend JIT-compiles a shared-memory all-reduce (about a minute on two cores, once per
    machine) for `inference_all_reduce` alone, the collective of tensor-parallel inference; training's
    collectives go through torch.distributed over gloo either way, so the build is skipped."""
    import importlib
    import warnings

    from lrexplorer.core.compat import uses_internals

    # ZeRO-3 calls these two collectives, deprecated in torch 2.13, several times per layer: the warning came back
    # on every call (something resets the warnings registry each step) and filled train.log. Ignored, not "once".
    warnings.filterwarnings(
        "ignore",
        message=r"`torch\.distributed\.(all_gather_into_tensor|reduce_scatter_tensor)` is deprecated",
        category=FutureWarning,
    )
    with uses_internals("deepspeed", "a DeepSpeed run", "it skips the build of deepspeed.comm's shared-memory op"):
        # By name: `import deepspeed.comm.torch as m` binds deepspeed.comm's attribute `torch`, which is PyTorch.
        comm = importlib.import_module("deepspeed.comm.torch")
        # setattr makes any name; a release without the function would build the op anyway, unnoticed.
        if not callable(getattr(comm, "build_shm_op", None)):
            raise AttributeError("deepspeed.comm.torch has no build_shm_op to skip")
        setattr(comm, "build_shm_op", lambda: None)  # noqa: B010


def free_port() -> int:
    """A TCP port free now on this machine, for the ranks' rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_command(values: dict[str, Any], run_dir: Path, resume: bool, port: int) -> list[str]:
    """`accelerate launch` starting `num_processes` ranks of the worker on this machine.

    `--multi_gpu` is accelerate's torchrun path, the one that starts several processes; on the CPU the
    ranks meet over gloo. FSDP and DeepSpeed reach the ranks through their TrainingArguments (fsdp,
    fsdp_config, deepspeed), as transformers documents for torchrun, so no plugin flags are needed.
    """
    precision = "bf16" if values["bf16"] else "fp16" if values["fp16"] else "no"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    cmd += ["--num_processes", str(values["num_processes"]), "--num_machines", "1", "--machine_rank", "0"]
    cmd += ["--main_process_ip", "127.0.0.1", "--main_process_port", str(port)]
    cmd += ["--mixed_precision", precision, "--dynamo_backend", "no", "--monitor_interval", "1"]
    cmd += ["-m", "lrexplorer.runs.training.worker", str(run_dir), "--rank-process"]
    return cmd + (["--resume"] if resume else [])


def rank_end_path(run_dir: Path, rank: int, failed: bool) -> Path:
    return Path(run_dir) / RANKS_DIR / f"rank-{rank}.{'error' if failed else 'end'}.json"


def rank_log_path(run_dir: Path, rank: int) -> Path:
    return Path(run_dir) / RANKS_DIR / f"rank-{rank}.log"
