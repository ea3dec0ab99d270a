"""Exports for more than one machine: the accelerate config file `accelerate config` would write for a
spec (distributed type, processes, machines, FSDP or DeepSpeed settings), the DeepSpeed config of a
ZeRO preset as JSON, and a Slurm batch script that starts `accelerate launch` on every node.

A spec's num_processes is what one machine runs; accelerate counts processes over all machines, so
the files say num_processes x num_machines.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lrexplorer.catalogues.params import FieldError
from lrexplorer.core.facts import Facts
from lrexplorer.runs.spec import RunSpec

ACCELERATE_CONFIG, DEEPSPEED_JSON, SBATCH = "accelerate_config.yaml", "ds_config.json", "slurm.sbatch"
DEFAULT_PORT = 29500  # torchrun's and accelerate's default rendezvous port
MAX_MACHINES = 4096

# fsdp_config keys as transformers reads them -> the keys `accelerate config` writes.
ACCELERATE_FSDP_KEYS = {
    "version": "fsdp_version",
    "reshard_after_forward": "fsdp_reshard_after_forward",
    "cpu_offload": "fsdp_offload_params",
    "activation_checkpointing": "fsdp_activation_checkpointing",
    "cpu_ram_efficient_loading": "fsdp_cpu_ram_efficient_loading",
    "state_dict_type": "fsdp_state_dict_type",
    "auto_wrap_policy": "fsdp_auto_wrap_policy",
    "transformer_layer_cls_to_wrap": "fsdp_transformer_layer_cls_to_wrap",
    "min_num_params": "fsdp_min_num_params",
}


@dataclass(frozen=True)
class Cluster:
    """Where an export runs: accelerate launch's multi-node options."""

    num_machines: int = 1
    machine_rank: int = 0
    main_process_ip: str | None = None
    main_process_port: int = DEFAULT_PORT

    def checked(self) -> Cluster:
        """This cluster, or FieldError naming the option that cannot work."""
        if not 1 <= self.num_machines <= MAX_MACHINES:
            raise FieldError(
                "num_machines", f"must be an integer between 1 and {MAX_MACHINES}; got {self.num_machines}"
            )
        if not 0 <= self.machine_rank < self.num_machines:
            raise FieldError(
                "machine_rank",
                f"must be between 0 and num_machines - 1 ({self.num_machines - 1}); got {self.machine_rank}",
            )
        if not 1 <= self.main_process_port <= 65535:
            raise FieldError("main_process_port", f"must be a TCP port, 1 to 65535; got {self.main_process_port}")
        ip = self.main_process_ip
        if self.num_machines > 1 and not ip:
            raise FieldError(
                "main_process_ip",
                "a run on several machines needs the address of the machine of rank 0 (e.g. 10.0.0.1), "
                "where the others meet it",
            )
        if ip is not None and (not ip or any(c.isspace() or c in "'\"$`;&|<>" for c in ip)):
            raise FieldError("main_process_ip", f"must be a host name or IP address; got {ip!r}")
        return self


def total_processes(spec: RunSpec, cluster: Cluster) -> int:
    return spec["num_processes"] * cluster.num_machines


def distributed_type(spec: RunSpec, facts: Facts, cluster: Cluster) -> str:
    if spec["deepspeed"]:
        return "DEEPSPEED"
    if spec["fsdp"]:
        return "FSDP"
    if total_processes(spec, cluster) == 1:
        return "NO"
    return "MULTI_CPU" if facts.on_cpu(spec["use_cpu"]) else "MULTI_GPU"


def accelerate_config(spec: RunSpec, facts: Facts, cluster: Cluster | None = None) -> dict[str, Any]:
    """The config `accelerate config` writes for this spec (loadable by accelerate's ClusterConfig)."""
    cluster = (cluster or Cluster()).checked()
    kind = distributed_type(spec, facts, cluster)
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": kind,
        "downcast_bf16": "no",
        "machine_rank": cluster.machine_rank,
        "main_training_function": "main",
        "mixed_precision": "bf16" if spec["bf16"] else "fp16" if spec["fp16"] else "no",
        "num_machines": cluster.num_machines,
        "num_processes": total_processes(spec, cluster),
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": facts.on_cpu(spec["use_cpu"]),
    }
    if cluster.num_machines > 1:
        config.update(main_process_ip=cluster.main_process_ip, main_process_port=cluster.main_process_port)
    if kind == "FSDP":
        settings = {"version": 2, **{k.removeprefix("fsdp_"): v for k, v in spec["fsdp_config"].items()}}
        settings.setdefault("auto_wrap_policy", "TRANSFORMER_BASED_WRAP")
        settings.setdefault("reshard_after_forward", True)
        settings.setdefault("state_dict_type", "FULL_STATE_DICT")
        wrap = settings.get("transformer_layer_cls_to_wrap")
        if isinstance(wrap, list):
            settings["transformer_layer_cls_to_wrap"] = ",".join(wrap)
        config["fsdp_config"] = {ACCELERATE_FSDP_KEYS[k]: v for k, v in settings.items()}
    if kind == "DEEPSPEED":
        config["deepspeed_config"] = {
            "deepspeed_config_file": DEEPSPEED_JSON,
            "zero3_init_flag": "zero3" in spec["deepspeed"],
        }
    return config


def accelerate_config_yaml(spec: RunSpec, facts: Facts, cluster: Cluster | None = None) -> str:
    return yaml.safe_dump(accelerate_config(spec, facts, cluster), sort_keys=True)


def deepspeed_json(spec: RunSpec) -> str | None:
    """The DeepSpeed config of the spec's ZeRO preset (the dict the script passes too), or None."""
    sharding = spec.sharding_kwargs()["deepspeed"]
    return None if sharding is None else json.dumps(sharding, indent=2) + "\n"


def launch_flags(spec: RunSpec, facts: Facts, cluster: Cluster) -> list[str]:
    """accelerate launch's process flags for this spec on `cluster` (after `accelerate launch`)."""
    total = total_processes(spec, cluster)
    flags = ["--num_machines", str(cluster.num_machines), "--num_processes", str(total)]
    if cluster.num_machines > 1:
        flags += ["--machine_rank", str(cluster.machine_rank), "--main_process_ip", str(cluster.main_process_ip)]
        flags += ["--main_process_port", str(cluster.main_process_port)]
    if total > 1:
        flags.append("--multi_gpu")  # torchrun's launcher: several processes (over gloo on CPUs)
    elif facts.on_cpu(spec["use_cpu"]):
        flags.append("--cpu")
    return flags


def sbatch_script(spec: RunSpec, facts: Facts, cluster: Cluster, script: str, output: str) -> str:
    """A Slurm batch script: one task per node, each running accelerate launch with the node's rank; the
    first node of the allocation is the rendezvous (so main_process_ip is found at run time)."""
    per_node = spec["num_processes"]
    gpus = "" if facts.on_cpu(spec["use_cpu"]) else f"#SBATCH --gpus-per-node={per_node}\n"
    launch = ["accelerate", "launch", "--config_file", ACCELERATE_CONFIG, "--num_machines", str(cluster.num_machines)]
    launch += [
        "--num_processes",
        str(total_processes(spec, cluster)),
        "--main_process_port",
        str(cluster.main_process_port),
    ]
    # Single-quoted for `bash -c`, so each node expands its own SLURM_NODEID.
    per_task = f'{shlex.join(launch)} --machine_rank "$SLURM_NODEID" --main_process_ip "$MAIN_IP" {shlex.join([script, output])}'
    return (
        "#!/bin/bash\n"
        f"#SBATCH --job-name={shlex.quote(spec['run_name'] or 'lrexplorer-sft')}\n"
        f"#SBATCH --nodes={cluster.num_machines}\n"
        "#SBATCH --ntasks-per-node=1\n"
        f"{gpus}"
        "#SBATCH --output=%x-%j.out\n"
        "# Submit from the folder holding this script: sbatch slurm.sbatch\n"
        "set -euo pipefail\n"
        'cd "${SLURM_SUBMIT_DIR:-.}"\n'
        'MAIN_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"\n'
        "export MAIN_IP\n"
        f"srun bash -c {shlex.quote(per_task)}\n"
    )


def write_cluster_files(
    spec: RunSpec, dest: Path, facts: Facts, cluster: Cluster, script: str, output: str
) -> list[Path]:
    """accelerate_config.yaml, slurm.sbatch and (for a ZeRO preset) ds_config.json into `dest`."""
    files = {
        ACCELERATE_CONFIG: accelerate_config_yaml(spec, facts, cluster),
        SBATCH: sbatch_script(spec, facts, cluster, script, output),
    }
    ds = deepspeed_json(spec)
    if ds is not None:
        files[DEEPSPEED_JSON] = ds
    for name, text in files.items():
        (Path(dest) / name).write_text(text, encoding="utf-8")
    return [Path(dest) / name for name in files]
