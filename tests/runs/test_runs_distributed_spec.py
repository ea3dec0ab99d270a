"""The distributed fields of a run spec: each refusal names its field, the legacy fsdp string reads as
transformers itself reads it, the ZeRO presets leave to transformers only keys it fills in, and the CLI
refuses what the spec refuses."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from lrexplorer.core.facts import Facts
from lrexplorer.core.fields import FieldError
from lrexplorer.rules.distributed import unavailable
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.training.distributed import zero_config

CPU2 = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False, cpu_cores=2)
CPU2_DS = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False, cpu_cores=2, deepspeed=True)
TWO_GPUS = Facts(gpu_capabilities=((8, 0), (8, 0)), cpu_bf16=True, flash_attn=False, deepspeed=True)
NO_DEEPSPEED = Facts(gpu_capabilities=((8, 0), (8, 0)), cpu_bf16=True, flash_attn=False, deepspeed=False)
QLORA = {"use_peft": True, "load_in_4bit": True}


def refused(values: dict, facts: Facts) -> dict[str, str]:
    with pytest.raises(FieldError) as info:
        RunSpec.from_dict(values, facts)
    out: dict[str, str] = {}
    for e in info.value.errors:
        out[e.field] = f"{out.get(e.field, '')} {e.problem}".strip()
    return out


def test_num_processes_is_bounded_by_the_cores_or_the_gpus():
    assert RunSpec.from_dict({"num_processes": 2}, CPU2)["num_processes"] == 2
    assert "2 cores here" in refused({"num_processes": 3}, CPU2)["num_processes"]
    assert RunSpec.from_dict({"num_processes": 2}, TWO_GPUS)["num_processes"] == 2
    assert "2 GPUs" in refused({"num_processes": 3}, TWO_GPUS)["num_processes"]
    # use_cpu on a GPU machine: CPU processes, bounded by the cores.
    assert "cores" in refused({"num_processes": 64, "use_cpu": True}, TWO_GPUS)["num_processes"]
    assert ">= 1" in refused({"num_processes": 0}, CPU2)["num_processes"]


def test_sharding_refusals_name_the_field_and_the_reason():
    assert "GPUs only" in refused({"num_processes": 2, "fsdp": True}, CPU2)["fsdp"]
    assert "quantized" in refused({"num_processes": 2, "fsdp": True, **QLORA}, TWO_GPUS)["fsdp"]
    assert "not both" in refused({"fsdp": True, "deepspeed": "zero2"}, TWO_GPUS)["deepspeed"]
    assert "4-bit" in refused({"deepspeed": "zero3_offload", **QLORA}, TWO_GPUS)["deepspeed"]
    assert "not installed" in refused({"num_processes": 2, "deepspeed": "zero2"}, NO_DEEPSPEED)["deepspeed"]
    assert "not installed" in refused({"deepspeed": "zero1"}, CPU2)["deepspeed"]
    # Every preset runs on CPU processes (test_runs_deepspeed.py); the offload ones compile DeepSpeed's CPU Adam.
    for preset in ("zero1", "zero2", "zero3"):
        assert RunSpec.from_dict({"num_processes": 2, "deepspeed": preset}, CPU2_DS)["deepspeed"] == preset
    offload = RunSpec.from_dict({"num_processes": 2, "deepspeed": "zero3_offload"}, CPU2_DS)
    assert any("compiles its CPU Adam" in note for note in offload.notes)
    assert set(unavailable(CPU2_DS, use_cpu=False)) == {"fsdp", "fsdp_config"}  # the Train page offers deepspeed
    assert "not installed" in unavailable(CPU2, use_cpu=False)["deepspeed"]
    assert "zero1, zero2, zero3" in refused({"deepspeed": "zero4"}, TWO_GPUS)["deepspeed"]
    assert "version must be 2" in refused({"fsdp": True, "fsdp_config": {"version": 1}}, TWO_GPUS)["fsdp_config"]
    assert "allowed keys" in refused({"fsdp": True, "fsdp_config": {"sharding": 1}}, TWO_GPUS)["fsdp_config"]
    assert "words among" in refused({"fsdp": "hybrid_shard"}, TWO_GPUS)["fsdp"]
    ok = RunSpec.from_dict({"num_processes": 2, "deepspeed": "zero3", "bf16": True}, TWO_GPUS)
    assert ok.sft_kwargs(use_cpu=False)["deepspeed"]["zero_optimization"]["stage"] == 3


@pytest.mark.parametrize("legacy", ["full_shard auto_wrap", "shard_grad_op auto_wrap offload", "full_shard offload"])
def test_the_legacy_fsdp_string_reads_as_transformers_reads_it(legacy, tmp_path):
    from transformers import TrainingArguments

    spec = RunSpec.from_dict({"num_processes": 2, "fsdp": legacy}, TWO_GPUS)
    assert spec["fsdp"] is True and any("fsdp=true" in n for n in spec.notes)
    ours = spec.sharding_kwargs()
    translated = TrainingArguments(str(tmp_path), fsdp=ours["fsdp"], fsdp_config=ours["fsdp_config"])
    original = TrainingArguments(str(tmp_path), fsdp=legacy)
    assert translated.fsdp_plugin_args == original.fsdp_plugin_args
    assert translated.fsdp_plugin_args["fsdp_version"] == 2


def test_zero_presets_leave_auto_only_where_transformers_fills_it_in():
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    filled = inspect.getsource(HfTrainerDeepSpeedConfig)

    def autos(node: dict, prefix: str = "") -> list[str]:
        out = []
        for k, v in node.items():
            path = f"{prefix}{k}"
            out += autos(v, path + ".") if isinstance(v, dict) else [path] if v == "auto" else []
        return out

    for preset in ("zero1", "zero2", "zero3", "zero2_offload", "zero3_offload"):
        config = zero_config(preset)
        assert config["zero_optimization"]["stage"] == int(preset[4])
        assert ("offload_optimizer" in config["zero_optimization"]) == preset.endswith("_offload")
        for path in autos(config):
            assert f'"{path}"' in filled, (preset, path)


def test_memory_estimates_keep_fsdp_as_a_switch():
    from lrexplorer.catalogues.params import MEMORY, resolve

    values, notes = resolve({"fsdp": "full_shard auto_wrap", "num_gpus": 4}, MEMORY)
    assert values["fsdp"] is True and "fsdp_config" not in values and notes


def test_cli_refuses_deepspeed_with_fsdp_in_one_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lrexplorer",
            "train",
            "--deepspeed",
            "zero3",
            "--fsdp",
            "--check",
            "--output_dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "deepspeed:" in done.stderr and "Traceback" not in done.stderr


def test_a_failing_rank_reaches_the_status_with_its_rank(tmp_path, monkeypatch):
    from lrexplorer.runs.folder import store
    from lrexplorer.runs.training import ranks, worker

    def ended(records: list[tuple[int, str, str]], code: int = 1, terminated: bool = False) -> dict:
        run_dir = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        (run_dir / "ranks").mkdir(parents=True)
        store.write_json_atomic(run_dir / store.STATUS, {"state": "running", "run_id": run_dir.name})
        for rank, state, message in records:  # what each rank's worker records as it ends
            monkeypatch.setattr(worker, "_RANK", [rank])
            worker._finish(run_dir, state, message, global_step=7)
        monkeypatch.setattr(worker, "_RANK", [])
        assert store.read_status(run_dir)["state"] == "running", "no rank writes the run's end itself"
        ranks.settle(run_dir, 2, code, terminated, worker._finish)
        return store.read_status(run_dir)

    status = ended([(1, "failed", "ValueError: a bad row"), (0, "failed", "RuntimeError: connection closed")])
    assert status["state"] == "failed" and status["global_step"] == 7
    assert status["message"].splitlines() == [
        "rank 1: ValueError: a bad row",
        "rank 0: RuntimeError: connection closed",
    ]
    status = ended([(1, "stopped", "stopped"), (0, "stopped", "stopped on request at step 7")], code=0)
    assert (status["state"], status["message"]) == ("stopped", "stopped on request at step 7")
    status = ended([], code=-9)
    assert status["state"] == "failed" and "exit code -9" in status["message"]
    assert ended([], terminated=True)["state"] == "stopped"


def test_preflight_estimates_one_rank_of_the_sharded_run():
    from lrexplorer.frontend.preflight import preflight

    def peak(**given) -> int:
        pf = preflight({"num_processes": 4, **given}, GPUS4, None)
        assert pf.memory is not None and pf.memory.peak_bytes is not None, pf.memory
        return pf.memory.peak_bytes

    ddp = peak()
    assert peak(fsdp=True) < ddp and peak(deepspeed="zero3") < peak(deepspeed="zero1") <= ddp
    # fsdp_config's settings reach the estimate: shard_grad_op keeps each layer gathered until its backward,
    # cpu_offload moves the shards, gradients and optimizer states to CPU RAM.
    full = peak(fsdp=True)
    assert peak(fsdp=True, fsdp_config={"reshard_after_forward": True}) == full
    assert peak(fsdp=True, fsdp_config={"fsdp_reshard_after_forward": False}) > full
    assert peak(fsdp=True, fsdp_config={"cpu_offload": True}) < full
    cpu = preflight({"num_processes": 2}, CPU2, None).memory
    assert cpu is not None and any("2 CPU processes" in note for note in cpu.assumptions)
    # ZeRO shards CPU processes too: one rank holds its share of the gradients and optimizer states.
    zero = preflight({"num_processes": 2, "deepspeed": "zero1"}, CPU2_DS, None).memory
    assert zero is not None and zero.peak_bytes is not None and cpu.peak_bytes is not None
    assert zero.peak_bytes < cpu.peak_bytes and any("DeepSpeed zero1" in note for note in zero.assumptions)


GPUS4 = Facts(gpu_capabilities=((8, 0),) * 4, cpu_bf16=True, flash_attn=False, deepspeed=True)


def test_a_run_on_several_gpus_holds_each_of_their_locks(tmp_path, monkeypatch):
    from lrexplorer.runs.folder import lock

    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert GPUS4.lock_names(False, 2) == ["gpu0", "gpu1"] and GPUS4.lock_names(True, 2) == ["cpu"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert GPUS4.lock_names(False, 2) == ["gpu3", "gpu5"] and GPUS4.lock_name(False) == "gpu3"
    other = lock.acquire("gpu5", "another run", wait=False)
    with pytest.raises(lock.DeviceBusy):
        lock.acquire_all(["gpu3", "gpu5"], "this run", wait=False)
    assert lock.is_busy("gpu3") is None, "a refused start keeps none of the locks"
    other.close()
    held = lock.acquire_all(["gpu3", "gpu5"], "this run", wait=False)
    assert lock.is_busy("gpu3") and lock.is_busy("gpu5")
    for fh in held:
        fh.close()
