"""Runs on several processes: the DeepSpeed config lrexplorer writes for a ZeRO preset, and the `accelerate
launch` command that starts the ranks (the rules a distributed spec must pass are `rules/distributed.py`).

One run stays one supervised process group: the worker started by the launcher holds the device
lock(s) and the run's status, and starts `accelerate launch --num_processes N -m lrexplorer.runs.training.worker
RUN_DIR --rank-process` under it. Rank 0 writes the run folder; every rank writes its own log.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

RANKS_DIR = "ranks"  # per-rank logs and error records inside the run folder


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
