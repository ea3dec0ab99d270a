"""`lrexplorer memory --task generate`, the TRL-defaults figure of `--trainer sft` and `--fsdp_wrap`: JSON
shapes, the fit advisor's exit codes (its largest batch really is the largest the command accepts), and
exit 2 with one line naming the flag for what the generation estimate does not take.

Expected numbers come from transformers (parameter and buffer bytes on the meta device, SFTConfig's own
defaults), the config file and the command itself run with other flags, not from our formulas.
"""

from __future__ import annotations

import json

import pytest
import torch
from test_cli_memory import run_cli
from transformers import AutoConfig, AutoModelForCausalLM

from lrexplorer.catalogues.presets import find_preset

GEN = ["--task", "generate", "--model", "Llama-3.1-8B", "--prompt_length", "2048", "--max_new_tokens", "256"]


def as_json(capsys, *args: str) -> dict:
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_generate_json_has_the_peak_and_its_components(capsys) -> None:
    data = as_json(capsys, *GEN, "--batch_size", "4", "--dtype", "bfloat16")
    config = dict(find_preset("Llama-3.1-8B").config)
    config.pop("architectures", None)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=torch.bfloat16)
    held = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    assert data["task"] == "generate" and data["components"]["weights"] == held
    assert sum(data["components"].values()) == data["peak_bytes"] == max(data["phases"].values())
    assert {"kv_cache", "activations", "logits", "inputs", "cuda_context"} <= set(data["components"])
    per_token = 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * 128 * 2
    assert data["kv_cache_per_token_bytes"] == per_token
    assert data["kv_cache_bytes"] == per_token * 4 * (2048 + 256 - 1)  # the last token is never fed back


def test_the_largest_batch_and_longest_prompt_are_the_edges_of_check(capsys) -> None:
    gpu = ["--gpu", "NVIDIA L4", "--dtype", "bfloat16"]
    data = as_json(capsys, *GEN, "--batch_size", "1", *gpu)
    assert data["fits"] is True and data["gpu"] == "NVIDIA L4"
    most, longest = data["max_batch_size"], data["max_prompt_length"]
    assert most > 1 and longest > 2048
    for batch, code in ((most, 0), (most + 1, 1)):
        assert run_cli(capsys, *GEN, "--batch_size", str(batch), *gpu, "--check")[0] == code, batch
    prompt = [a if a != "2048" else str(longest) for a in GEN]
    assert run_cli(capsys, *prompt, "--batch_size", "1", *gpu, "--check")[0] == 0
    prompt = [a if a != "2048" else str(longest + 1) for a in GEN]
    assert run_cli(capsys, *prompt, "--batch_size", "1", *gpu, "--check")[0] == 1


def test_generate_table_in_gib(capsys) -> None:
    code, out, _ = run_cli(capsys, *GEN, "--batch_size", "2", "--device", "cpu")
    assert code == 0
    assert "task: generate" in out and "KV cache at the end of the call" in out and "PEAK (per device)" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--per_device_train_batch_size", "2", "--batch_size", "2"],
            "per_device_train_batch_size: is a training step's",
        ),
        (["--gradient_checkpointing", "--batch_size", "2"], "gradient_checkpointing: is a training step's"),
        ([], "batch_size: is required with --task generate"),
        (["--batch_size", "2", "--simulate"], "simulate: the generation estimate is analytic only"),
        (["--batch_size", "2", "--device", "cpu", "--check"], "check: checks the fit on one GPU"),
        (["--batch_size", "0"], "batch_size: must be"),
        (["--batch_size", "2", "--min_new_tokens", "300"], "min_new_tokens: must be at most max_new_tokens"),
    ],
)
def test_what_generate_does_not_take_exits_2_naming_the_flag(capsys, args: list[str], words: str) -> None:
    code, out, err = run_cli(capsys, *GEN, *args)
    assert code == 2 and words in err, err
    assert "Traceback" not in err and out == ""


def test_generation_flags_need_the_task_and_unmeasured_families_are_refused(capsys) -> None:
    code, _, err = run_cli(
        capsys,
        "--model",
        "SmolLM2-135M",
        "--per_device_train_batch_size",
        "1",
        "--max_length",
        "64",
        "--batch_size",
        "4",
    )
    assert code == 2 and "batch_size: is a generation setting: add --task generate" in err
    code, _, err = run_cli(
        capsys,
        "--task",
        "generate",
        "--model",
        "Gemma-2-2B",
        "--batch_size",
        "1",
        "--prompt_length",
        "64",
        "--max_new_tokens",
        "8",
    )
    assert code == 2 and "model: generation memory is modelled for llama, mistral, qwen2" in err


# ---------------------------------------------------------------------------- SFTTrainer: TRL's own defaults
SFT = [
    "--model",
    "SmolLM2-135M",
    "--per_device_train_batch_size",
    "2",
    "--max_length",
    "256",
    "--device",
    "cpu",
    "--dtype",
    "float32",
]


@pytest.mark.parametrize(
    "given",
    [
        [],
        ["--bf16", "false"],
        ["--activation_checkpointing", "false"],
        ["--fp16", "false"],
        ["--gradient_checkpointing", "false"],
    ],
)
def test_the_trl_figure_is_the_step_sftconfig_runs_for_the_fields_left_out(capsys, given: list[str], tmp_path) -> None:
    from trl import SFTConfig

    data = as_json(capsys, *SFT, *given)
    named = {given[i].lstrip("-"): given[i + 1] == "true" for i in range(0, len(given), 2)}
    named = {("activation_checkpointing" if k == "gradient_checkpointing" else k): v for k, v in named.items()}
    config = SFTConfig(str(tmp_path), use_cpu=True, report_to=[], **named)
    ran = {"bf16": config.bf16, "activation_checkpointing": config.activation_checkpointing}
    left = data.get("trl_defaults")
    assert (left or {}).get("fields", {}) == {k: v for k, v in ran.items() if v}
    if left:  # the same step, asked for explicitly
        flags = [f"--{k}={str(v).lower()}" for k, v in ran.items()]
        assert as_json(capsys, *SFT, *flags)["peak_bytes"] == left["peak_bytes"]


def test_the_trl_figure_is_said_in_the_table_and_absent_for_the_plain_trainer(capsys) -> None:
    code, out, _ = run_cli(capsys, *SFT)
    assert code == 0 and "TRL's defaults, bf16=true and activation_checkpointing=true" in out
    assert "trl_defaults" not in as_json(capsys, *SFT, "--trainer", "transformers")


# ---------------------------------------------------------------------------- FSDP2 groups
def test_fsdp_wrap_is_a_flag_of_fsdp(capsys) -> None:
    run = ["--model", "Llama-3.1-8B", "--per_device_train_batch_size", "1", "--max_length", "2048", "--bf16"]
    ours = as_json(capsys, *run, "--num_gpus", "8", "--fsdp")
    layers = as_json(capsys, *run, "--num_gpus", "8", "--fsdp", "--fsdp_wrap", "layers")
    assert layers["peak_bytes"] > ours["peak_bytes"]
    assert "one group per decoder layer + root" in layers["parallel"] and "accelerate's groups" in ours["parallel"]
    code, _, err = run_cli(capsys, *run, "--num_gpus", "8", "--fsdp_wrap", "layers")
    assert code == 2 and "fsdp_wrap: is an FSDP2 option" in err
    code, _, err = run_cli(capsys, *run, "--num_gpus", "8", "--fsdp", "--fsdp_wrap", "torchtune")
    assert code == 2 and "fsdp_wrap" in err and "accelerate, layers" in err
