"""Exports read back by the real tools: `trl sft`'s own parser, `accelerate launch`'s parser, Python."""

from __future__ import annotations

import ast
import enum
import shlex
from pathlib import Path

import pytest
import yaml
from helpers.runs import save_tiny_hub_model, write_jsonl

from lrexplorer.catalogues import builtin
from lrexplorer.core.facts import Facts
from lrexplorer.runs.exports.script import (
    ExportError,
    accelerate_command,
    python_script,
    resolved_torch_kwargs,
    trl_yaml,
)
from lrexplorer.runs.spec import RunSpec
from lrexplorer.schedules import warmup

CPU = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)


def parse_with_trl(path):
    from trl.scripts.sft import make_parser

    return make_parser().parse_args_and_config(args=["--config", str(path)], fail_with_unknown_args=True)


@pytest.mark.parametrize(
    "extra",
    [
        {"lr_scheduler_type": "cosine", "warmup_steps": 0.05, "eval_strategy": "epoch", "optim": "adamw_8bit"},
        {
            "use_peft": True,
            "lora_r": 8,
            "lora_target_modules": "q_proj,v_proj",
            "activation_checkpointing": True,
            "activation_checkpointing_kwargs": {"use_reentrant": False},
            "train_sampling_strategy": "group_by_length",
        },
        {
            "use_peft": True,
            "lora_r": 8,
            "lora_target_modules": "q_proj,v_proj",
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "fp4",
            "bnb_4bit_use_double_quant": True,
            "use_rslora": True,
            "use_dora": True,
        },
    ],
)
def test_trl_yaml_parses_with_trl_into_the_same_config(tmp_path, extra):
    model_dir = save_tiny_hub_model(tmp_path / "m")
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "hello"}])
    spec = RunSpec.from_dict({"model": str(model_dir), "dataset": str(data), "max_steps": 7, **extra}, CPU)
    if extra.get("eval_strategy"):
        spec = RunSpec.from_dict({"max_steps": 7, **extra}, CPU)  # built-in data has a test split
    path = tmp_path / "sft.yaml"
    path.write_text(trl_yaml(spec, model_path=str(model_dir), facts=CPU))
    script_args, training_args, model_args, _ = parse_with_trl(path)
    for name, value in spec.sft_kwargs(use_cpu=True).items():
        real = getattr(training_args, name)
        real = real.value if isinstance(real, enum.Enum) else real
        assert real == value or (name == "report_to" and real == [] and value == "none"), name
    assert model_args.model_name_or_path == str(model_dir) and model_args.attn_implementation == "sdpa"
    assert model_args.use_peft == spec["use_peft"]
    if spec["use_peft"]:
        assert model_args.lora_r == 8 and list(model_args.lora_target_modules) == ["q_proj", "v_proj"]
    # trl sft builds the same BitsAndBytesConfig and LoraConfig from the YAML as the run does.
    from peft import LoraConfig
    from transformers import BitsAndBytesConfig
    from trl import get_peft_config, get_quantization_config

    quant = spec.quantization_kwargs()
    trl_quant = get_quantization_config(model_args)
    assert (trl_quant is None) == (quant is None)
    assert quant is None or trl_quant.to_dict() == BitsAndBytesConfig(**quant).to_dict()
    peft = spec.peft_kwargs()
    assert peft is None or get_peft_config(model_args).to_dict() == LoraConfig(**peft).to_dict()
    if builtin.is_builtin(spec["dataset"]):
        assert script_args.dataset_name.endswith("datasets/arithmetic") and script_args.dataset_test_split == "test"


def test_yaml_refuses_a_4bit_compute_dtype_trl_sft_cannot_express():
    spec = RunSpec.from_dict({"use_peft": True, "load_in_4bit": True, "bnb_4bit_compute_dtype": "bfloat16"}, CPU)
    with pytest.raises(ExportError, match="bnb_4bit_compute_dtype"):
        trl_yaml(spec, model_path="/m", facts=CPU)
    compile(python_script(spec, CPU), "train.py", "exec")


def test_yaml_refuses_what_trl_sft_cannot_express():
    with pytest.raises(ExportError, match="torch scheduler"):
        trl_yaml(RunSpec.from_dict({"lr_scheduler_type": "StepLR"}, CPU), model_path="x", facts=CPU)
    with pytest.raises(ExportError, match="builtin:tiny"):
        trl_yaml(RunSpec.from_dict({}, CPU), facts=CPU)


def test_script_for_a_torch_schedule_embeds_the_workers_warmup_wrapper():
    spec = RunSpec.from_dict({"lr_scheduler_type": "OneCycleLR", "warmup_steps": 5, "max_steps": 50}, CPU)
    text = python_script(spec, CPU)
    compile(text, "train.py", "exec")
    assert Path(warmup.__file__).read_text(encoding="utf-8") in text, "the worker's warmup module, verbatim"
    assert "torch.optim.lr_scheduler.OneCycleLR" in text
    tree = ast.parse(Path(warmup.__file__).read_text(encoding="utf-8"))
    imported = [n.module or "." for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names]
    assert imported and all(m.split(".")[0] in ("collections", "typing", "torch") for m in imported), imported
    assert not [line for line in text.splitlines() if "import" in line and "lrexplorer" in line]  # standalone
    assert resolved_torch_kwargs(spec)["total_steps"] == 45  # span after warmup, as the worker resolves it


def test_script_derives_torch_arguments_from_the_data_file_when_max_steps_is_unset():
    spec = RunSpec.from_dict(
        {"lr_scheduler_type": "StepLR", "per_device_train_batch_size": 8, "num_train_epochs": 1}, CPU
    )
    assert resolved_torch_kwargs(spec)["step_size"] == 250 // 3  # 2000 examples / 8 = 250 updates


def test_accelerate_command_parses_with_accelerate():
    from accelerate.commands.launch import launch_command_parser

    spec = RunSpec.from_dict({"bf16": True}, CPU)
    cmd = accelerate_command(spec, facts=CPU)
    args = launch_command_parser().parse_args(shlex.split(cmd)[2:])
    assert args.cpu and args.mixed_precision == "bf16" and args.num_processes == 1
    assert args.training_script == "train.py"


def test_yaml_for_local_jsonl_uses_trl_dataset_mixture(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "hello"}])
    doc = yaml.safe_load(trl_yaml(RunSpec.from_dict({"dataset": str(data)}, CPU), model_path="m", facts=CPU))
    assert doc["datasets"] == [{"path": "json", "data_files": str(data), "split": "train"}]


@pytest.mark.slow
def test_exported_script_steps_a_torch_scheduler_after_warmup_as_torch_does(tmp_path):
    """The exported train.py, run with transformers/TRL only, logs for a torch class with warmup the LR of
    the real class started after a linear warmup (the embedded warmup module at work)."""
    import json
    import os
    import subprocess
    import sys

    from helpers.real_schedulers import rtol_for, torch_reference

    from lrexplorer.runs.exports.bundle import write_bundle
    from lrexplorer.runs.exports.script import SCRIPT

    kwargs = {"step_size": 2, "gamma": 0.5}
    spec = RunSpec.from_dict(
        {
            "lr_scheduler_type": "StepLR",
            "lr_scheduler_kwargs": kwargs,
            "warmup_steps": 3,
            "max_steps": 9,
            "logging_steps": 1,
            "learning_rate": 1e-3,
            "save_strategy": "no",
        },
        CPU,
    )
    bundle = tmp_path / "bundle"
    write_bundle(spec, bundle, CPU)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing points back at lrexplorer
    result = subprocess.run(
        [sys.executable, SCRIPT, "out"], cwd=bundle, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((bundle / "out" / "trainer_state.json").read_text())
    logged = [(h["step"], h["learning_rate"]) for h in state["log_history"] if "learning_rate" in h]
    real = torch_reference("StepLR", 1e-3, 9, 3, kwargs)
    assert [s for s, _ in logged] == list(range(1, 10))
    for step, lr in logged:  # the LR logged at step s is the one update s - 1 used
        assert lr == pytest.approx(real[step - 1], rel=rtol_for("StepLR"), abs=1e-15), step
