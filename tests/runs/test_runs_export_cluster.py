"""Exports for several processes and machines: the accelerate config loads with accelerate's own
ClusterConfig, the launch command parses with accelerate's parser, the shell and Slurm scripts are
valid bash, and a multi-node export without the rendezvous address is refused naming the field."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from lrexplorer.core.facts import Facts
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.exports.bundle import write_bundle
from lrexplorer.runs.exports.cluster import Cluster, accelerate_config_yaml
from lrexplorer.runs.exports.script import accelerate_command
from lrexplorer.runs.spec import RunSpec

CPU = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False, cpu_cores=2)
GPUS = Facts(gpu_capabilities=((9, 0),) * 8, cpu_bf16=True, flash_attn=False, deepspeed=True)
TWO_NODES = Cluster(num_machines=2, machine_rank=1, main_process_ip="10.0.0.1", main_process_port=29400)


def load(tmp_path, text: str):
    from accelerate.commands.config.config_args import ClusterConfig

    path = tmp_path / "accelerate_config.yaml"
    path.write_text(text)
    return ClusterConfig.from_yaml_file(str(path))


@pytest.mark.parametrize(
    ("given", "facts", "cluster", "kind", "processes"),
    [
        ({}, CPU, Cluster(), "NO", 1),
        ({"num_processes": 2}, CPU, Cluster(), "MULTI_CPU", 2),
        ({"num_processes": 8, "bf16": True}, GPUS, TWO_NODES, "MULTI_GPU", 16),
        ({"num_processes": 8, "fsdp": "shard_grad_op offload"}, GPUS, TWO_NODES, "FSDP", 16),
        ({"num_processes": 4, "deepspeed": "zero3_offload"}, GPUS, Cluster(), "DEEPSPEED", 4),
    ],
)
def test_accelerate_config_loads_with_accelerate(tmp_path, given, facts, cluster, kind, processes):
    spec = RunSpec.from_dict(given, facts)
    config = load(tmp_path, accelerate_config_yaml(spec, facts, cluster))
    assert config.distributed_type.value == kind and config.num_processes == processes
    assert (config.num_machines, config.machine_rank) == (cluster.num_machines, cluster.machine_rank)
    assert config.main_process_ip == cluster.main_process_ip and config.use_cpu == (facts is CPU)
    if kind == "FSDP":
        assert config.fsdp_config["fsdp_version"] == 2
        assert config.fsdp_config["fsdp_reshard_after_forward"] is False and config.fsdp_config["fsdp_offload_params"]
    if kind == "DEEPSPEED":
        assert config.deepspeed_config["deepspeed_config_file"] == "ds_config.json"


def test_multi_node_command_parses_with_accelerate():
    from accelerate.commands.launch import launch_command_parser

    spec = RunSpec.from_dict({"num_processes": 8, "bf16": True}, GPUS)
    args = launch_command_parser().parse_args(shlex.split(accelerate_command(spec, facts=GPUS, cluster=TWO_NODES))[2:])
    assert (args.num_processes, args.num_machines, args.machine_rank) == (16, 2, 1)
    assert (args.main_process_ip, args.main_process_port) == ("10.0.0.1", 29400)
    assert args.multi_gpu and not args.cpu and args.training_script == "train.py"
    local = launch_command_parser().parse_args(shlex.split(accelerate_command(spec, facts=GPUS))[2:])
    assert local.num_processes == 8 and local.num_machines == 1 and local.main_process_ip is None


def test_bundle_scripts_are_valid_bash_and_carry_the_zero_config(tmp_path):
    spec = RunSpec.from_dict({"num_processes": 2, "deepspeed": "zero2", "max_steps": 2}, GPUS)
    names = {p.name for p in write_bundle(spec, tmp_path, GPUS, TWO_NODES)}
    assert {"accelerate.sh", "slurm.sbatch", "accelerate_config.yaml", "ds_config.json"} <= names
    for script in ("accelerate.sh", "slurm.sbatch"):
        done = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True, text=True)
        assert done.returncode == 0, (script, done.stderr)
    sbatch = (tmp_path / "slurm.sbatch").read_text()
    assert "#SBATCH --nodes=2" in sbatch and "#SBATCH --gpus-per-node=2" in sbatch and '"$SLURM_NODEID"' in sbatch
    assert json.loads((tmp_path / "ds_config.json").read_text()) == spec.sharding_kwargs()["deepspeed"]


def test_multi_node_without_the_main_address_is_refused(tmp_path):
    with pytest.raises(FieldError) as info:
        Cluster(num_machines=2).checked()
    assert info.value.field == "main_process_ip"
    with pytest.raises(FieldError) as info:
        Cluster(num_machines=2, machine_rank=2, main_process_ip="10.0.0.1").checked()
    assert info.value.field == "machine_rank"
    done = subprocess.run(
        [sys.executable, "-m", "lrexplorer", "train", "--export", str(tmp_path / "out"), "--num_machines", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "main_process_ip" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
