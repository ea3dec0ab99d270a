"""`lrexplorer memory`: its JSON shape, its table, and exit status 2 with a message for bad input.

Expected numbers come from transformers (parameter counts on the meta device), the bundled GPU
catalogue file, and the definition of the output (peak = the largest phase), not from our engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from lrexplorer.catalogues.presets import find_preset
from lrexplorer.cli import main
from lrexplorer.core.units import GIB


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["memory", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def transformers_params(name: str) -> int:
    config = dict(find_preset(name).config)
    config.pop("architectures", None)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    return sum(p.numel() for p in model.parameters())


def test_json_shape_and_bytes(capsys) -> None:
    code, out, err = run_cli(
        capsys,
        "--model",
        "Qwen2.5-0.5B",
        "--per_device_train_batch_size",
        "2",
        "--max_length",
        "512",
        "--dtype",
        "bfloat16",
        "--gpu",
        "A100 80GB,T4",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert {"n_params", "trainable_params", "components", "peak_bytes", "gpus"} <= set(data)
    assert {"weights", "gradients", "optimizer_states", "activations"} <= set(data["components"])
    n = transformers_params("Qwen2.5-0.5B")
    assert data["n_params"] == data["trainable_params"] == n
    assert data["components"]["weights"] == 2 * n  # bfloat16
    assert data["peak_bytes"] == max(data["phases"].values())
    catalogue = {
        g["name"]: g["memory_gib"]
        for g in json.loads((Path(__file__).parents[2] / "lrexplorer" / "assets" / "gpus.json").read_text())["gpus"]
    }
    assert [g["name"] for g in data["gpus"]] == ["NVIDIA A100 80GB", "NVIDIA T4"]
    for g in data["gpus"]:
        assert set(g) >= {"name", "total_bytes", "fits", "headroom_bytes"}
        assert g["total_bytes"] == catalogue[g["name"]] * GIB
        assert g["headroom_bytes"] == g["total_bytes"] - data["peak_bytes"]
        assert g["fits"] == (g["headroom_bytes"] >= 0 and not g.get("unsupported"))
    assert data["gpus"][1]["unsupported"] and data["gpus"][1]["fits"] is False  # a T4 has no bfloat16
    assert all(isinstance(v, int) for v in data["components"].values())


def test_cpu_device_has_no_cuda_overheads_and_no_gpus(capsys) -> None:
    code, out, _ = run_cli(
        capsys,
        "--model",
        "SmolLM2-135M",
        "--per_device_train_batch_size",
        "1",
        "--max_length",
        "256",
        "--device",
        "cpu",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["gpus"] == [] and data["device"] == "cpu"
    assert data["components"]["cuda_context"] == 0 and data["components"]["cuda_workspace"] == 0


def test_table_in_gib(capsys) -> None:
    code, out, _ = run_cli(
        capsys,
        "--model",
        "Llama-3.2-1B",
        "--per_device_train_batch_size",
        "4",
        "--max_length",
        "1024",
        "--use_peft",
        "--lora_r",
        "16",
        "--load_in_4bit",
        "--gpu",
        "L4",
    )
    assert code == 0
    assert "GiB" in out and "PEAK" in out and "NVIDIA L4" in out and "optimizer states" in out


def test_lora_target_modules_and_flags_reach_the_setup(capsys) -> None:
    _code, out, _ = run_cli(
        capsys,
        "--model",
        "Llama-3.2-1B",
        "--per_device_train_batch_size",
        "1",
        "--max_length",
        "128",
        "--use_peft",
        "--lora_r",
        "8",
        "--lora_target_modules",
        "q_proj,k_proj,v_proj,o_proj",
        "--json",
    )
    data = json.loads(out)
    arch_cfg = find_preset("Llama-3.2-1B").config
    h, layers = arch_cfg["hidden_size"], arch_cfg["num_hidden_layers"]
    kv = arch_cfg["num_key_value_heads"] * arch_cfg["head_dim"]
    q = arch_cfg["num_attention_heads"] * arch_cfg["head_dim"]
    expected = layers * 8 * ((h + q) + (h + kv) + (h + kv) + (q + h))
    assert data["trainable_params"] == expected


@pytest.mark.parametrize(
    "args, words",
    [
        (["--model", "no-such-model"], "unknown model 'no-such-model'"),
        (["--model", "SmolLM2-135M", "--load_in_4bit"], "--load_in_4bit: needs LoRA"),
        (
            ["--model", "SmolLM2-135M", "--attn_implementation", "flash_attention_2", "--dtype", "float32"],
            "flash_attention_2 runs only in bfloat16 or float16",
        ),
        (["--model", "SmolLM2-135M", "--optim", "adam"], "--optim: must be one of"),
        (["--model", "SmolLM2-135M", "--gpu", "Voodoo 5"], "--gpu: 'Voodoo 5' is not in the catalogue"),
        (["--model", "SmolLM2-135M", "--zero_stage", "4"], "--zero_stage: must be an integer >= 0 and <= 3"),
        (["--model", "SmolLM2-135M", "--lora_r", "8"], "add --use_peft"),
        (["--model", "SmolLM2-135M", "--use_peft", "--lora_r", "0"], "--lora_r: must be an integer >= 1"),
        (["--model", "SmolLM2-135M", "--bf16", "maybe"], "--bf16: must be true or false"),
        (["--model", "SmolLM2-135M", "--bf16", "--fp16"], "bf16 and fp16 are exclusive"),
        (["--model", "SmolLM2-135M", "--zero_stage", "2", "--fsdp", "--num_gpus", "4"], "fsdp and zero_stage"),
        (["--model", "Mixtral"], "unknown model"),
        (["--model", "SmolLM2-135M", "--fsdp_offload_params"], "applies only with fsdp: add --fsdp"),
        (
            ["--model", "SmolLM2-135M", "--num_gpus", "4", "--fsdp_reshard_after_forward", "false"],
            "--fsdp_reshard_after_forward: is an FSDP2 option and applies only with fsdp",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_problem(capsys, args: list[str], words: str) -> None:
    code, out, err = run_cli(capsys, *args, "--per_device_train_batch_size", "1", "--max_length", "128")
    assert code == 2
    assert words in err
    assert "Traceback" not in err and out == ""


def test_unreadable_and_incomplete_configs(capsys, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{ nope")
    code, _, err = run_cli(capsys, "--model", str(bad), "--per_device_train_batch_size", "1", "--max_length", "8")
    assert code == 2 and "not valid JSON" in err
    moe = tmp_path / "moe"
    moe.mkdir()
    (moe / "config.json").write_text(json.dumps(AutoConfig.for_model("mixtral").to_dict()))
    code, _, err = run_cli(capsys, "--model", str(moe), "--per_device_train_batch_size", "1", "--max_length", "8")
    assert code == 2 and "mixture-of-experts models (mixtral) are not supported yet" in err
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"model_type": "llama", "hidden_size": 0}))
    code, _, err = run_cli(capsys, "--model", str(partial), "--per_device_train_batch_size", "1", "--max_length", "8")
    assert code == 2 and "'hidden_size' must be a positive integer" in err


def test_missing_required_flags_and_list(capsys) -> None:
    code, _, err = run_cli(capsys, "--model", "SmolLM2-135M")
    assert code == 2 and "--per_device_train_batch_size: is required" in err and "--max_length: is required" in err
    code, out, _ = run_cli(capsys, "--list")
    assert code == 0 and "Llama-3.1-70B" in out and "NVIDIA H100 80GB" in out


def test_analytic_cli_does_not_import_torch() -> None:
    code = (
        "import sys; from lrexplorer.cli import main; "
        "main(['memory', '--model', 'Gemma-2-2B', '--per_device_train_batch_size', '1', '--max_length', '64', "
        "'--json']); assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_simulate_reports_the_same_shape(capsys) -> None:
    code, out, err = run_cli(
        capsys,
        "--model",
        "SmolLM2-135M",
        "--per_device_train_batch_size",
        "1",
        "--max_length",
        "256",
        "--simulate",
        "--json",
        "--gpu",
        "L4",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["engine"] == "simulated" and "simulating:" in err
    assert {"n_params", "trainable_params", "components", "peak_bytes", "gpus"} <= set(data)
    assert data["n_params"] == transformers_params("SmolLM2-135M")
    assert data["gpus"][0]["headroom_bytes"] == data["gpus"][0]["total_bytes"] - data["peak_bytes"]


def test_old_names_read_as_the_catalogue_names_with_a_note(capsys) -> None:
    base = ["--model", "Qwen2.5-0.5B", "--per_device_train_batch_size", "2", "--json"]
    code, new, _ = run_cli(capsys, *base, "--max_length", "256", "--activation_checkpointing", "--dtype", "float32")
    assert code == 0
    code, old, err = run_cli(
        capsys, *base, "--max_seq_length", "256", "--gradient_checkpointing", "true", "--torch_dtype", "float32"
    )
    assert code == 0 and json.loads(old) == json.loads(new)
    for old_name, new_name in [
        ("max_seq_length", "max_length"),
        ("gradient_checkpointing", "activation_checkpointing"),
    ]:
        assert f"note: {old_name} read as {new_name}=" in err
    # Without --dtype the weights are in the dtype the checkpoint was saved in, as transformers 5 loads them.
    code, out, _ = run_cli(capsys, *base, "--max_length", "256")
    assert find_preset("Qwen2.5-0.5B").config["torch_dtype"] == "bfloat16"
    assert json.loads(out)["components"]["weights"] == 2 * transformers_params("Qwen2.5-0.5B")


def test_a_gpu_without_bfloat16_does_not_fit_a_bfloat16_run(capsys) -> None:
    # The V100's compute capability (7.0, from the bundled catalogue) has no bfloat16: plenty of memory
    # for a 1 B model at batch 1, but the run cannot start there, so the check fails and the table says no.
    args = ["--model", "Llama-3.2-1B", "--per_device_train_batch_size", "1", "--max_length", "256", "--gpu", "V100"]
    code, out, _ = run_cli(capsys, *args, "--dtype", "bfloat16", "--check")
    row = next(line for line in out.splitlines() if line.startswith("NVIDIA V100"))
    assert code == 1 and row.split()[4] == "NO" and "no bfloat16" in row and "memory would fit" in row
    code, out, _ = run_cli(capsys, *args, "--dtype", "bfloat16", "--json")
    gpu = json.loads(out)["gpus"][0]
    assert code == 0 and gpu["fits"] is False and gpu["fits_memory"] is True
    code, out, _ = run_cli(capsys, *args, "--dtype", "float32", "--check")
    row = next(line for line in out.splitlines() if line.startswith("NVIDIA V100"))
    assert code == 0 and row.split()[4] == "yes"


def test_fsdp_options_act_with_fsdp(capsys) -> None:
    common = ("--model", "SmolLM2-135M", "--per_device_train_batch_size", "1", "--max_length", "128", "--json")
    sharded = ("--fsdp", "--num_gpus", "4")
    code, out, _ = run_cli(capsys, *common, *sharded)
    default = json.loads(out)
    code2, out2, _ = run_cli(
        capsys, *common, *sharded, "--fsdp_offload_params", "--fsdp_reshard_after_forward", "false"
    )
    flipped = json.loads(out2)
    assert code == code2 == 0
    assert "shard-grad-op, CPU offload" in flipped["parallel"] and "full shard" in default["parallel"]
    assert flipped["cpu_ram_per_rank_bytes"] > 0 == default["cpu_ram_per_rank_bytes"]
