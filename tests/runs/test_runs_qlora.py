"""QLoRA and LoRA runs: the quantization and adapter fields reach bitsandbytes and peft as TRL's own helpers
build them, the rules that refuse what a real run would fail on, and merging an adapter run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers.run_folders import make_run
from helpers.runs import assert_lr_matches_curve, count_lines, run_cli

from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.params import FieldError
from lrexplorer.cli import main
from lrexplorer.core.facts import Facts
from lrexplorer.runs.exports.bundle import write_bundle
from lrexplorer.runs.exports.script import ACCELERATE, SCRIPT, TRL_YAML
from lrexplorer.runs.folder import store
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.training.sources import check_sources

CPU_BF16 = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)
CPU_NO_BF16 = Facts(gpu_capabilities=(), cpu_bf16=False, flash_attn=False)
TURING = Facts(gpu_capabilities=((7, 5),), cpu_bf16=True, flash_attn=False)
QLORA = {"use_peft": True, "load_in_4bit": True}


def test_quantization_and_lora_arguments_are_what_trl_builds():
    from peft import LoraConfig
    from transformers import BitsAndBytesConfig
    from trl import ModelConfig, get_peft_config, get_quantization_config

    spec = RunSpec.from_dict(
        {
            **QLORA,
            "bnb_4bit_quant_type": "fp4",
            "bnb_4bit_compute_dtype": "bfloat16",
            "bnb_4bit_use_double_quant": True,
            "lora_r": 4,
            "lora_alpha": 8,
            "lora_dropout": 0.1,
            "lora_target_modules": "q_proj,v_proj",
            "use_rslora": True,
            "use_dora": True,
        },
        CPU_BF16,
    )
    # trl sft takes the compute dtype from dtype: the same model config, as trl sft would be given it.
    trl = ModelConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="fp4",
        use_bnb_nested_quant=True,
        dtype="bfloat16",
        use_peft=True,
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.1,
        lora_target_modules=["q_proj", "v_proj"],
        use_rslora=True,
        use_dora=True,
    )
    ours = BitsAndBytesConfig(**spec.quantization_kwargs()).to_dict()
    assert ours == get_quantization_config(trl).to_dict() and ours["bnb_4bit_compute_dtype"] == "bfloat16"
    assert LoraConfig(**spec.peft_kwargs()).to_dict() == get_peft_config(trl).to_dict()
    assert RunSpec.from_dict({"use_peft": True, "load_in_8bit": True}).quantization_kwargs() == {"load_in_8bit": True}
    assert RunSpec.from_dict({"use_peft": True}).quantization_kwargs() is None


@pytest.mark.parametrize(
    ("given", "facts", "field", "words"),
    [
        ({"load_in_4bit": True}, CPU_BF16, "load_in_4bit", "needs use_peft"),
        ({"use_peft": True, "load_in_8bit": True, "load_in_4bit": True}, CPU_BF16, "load_in_8bit", "load_in_4bit"),
        ({**QLORA, "bnb_4bit_compute_dtype": "bfloat16"}, CPU_NO_BF16, "bnb_4bit_compute_dtype", "bfloat16"),
        ({**QLORA, "bnb_4bit_compute_dtype": "bfloat16"}, TURING, "bnb_4bit_compute_dtype", "7.5"),
        ({**QLORA, "bnb_4bit_quant_type": "int4"}, CPU_BF16, "bnb_4bit_quant_type", "nf4, fp4"),
    ],
)
def test_refused_combinations_name_the_field(given, facts, field, words):
    with pytest.raises(FieldError) as caught:
        RunSpec.from_dict(given, facts)
    assert caught.value.field == field and words in str(caught.value)


def test_unused_options_are_notes_not_errors():
    spec = RunSpec.from_dict({"bnb_4bit_quant_type": "fp4", "use_dora": True}, CPU_BF16)
    assert any("bnb_4bit_quant_type" in n and "load_in_4bit" in n for n in spec.notes)
    assert any("use_dora" in n and "use_peft is off" in n for n in spec.notes)
    assert RunSpec.from_dict({**QLORA, "bnb_4bit_compute_dtype": "bfloat16"}, CPU_BF16).notes == []


def test_a_model_saved_already_quantized_is_refused(tmp_path):
    folder = tmp_path / "gptq-model"
    folder.mkdir()
    config = {"model_type": "llama", "quantization_config": {"quant_method": "gptq", "bits": 4}}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    values = RunSpec.from_dict({**QLORA, "model": str(folder)}, CPU_BF16).values
    [error] = check_sources(values, probe_hub=False)
    assert error.field == "load_in_4bit" and "gptq" in error.problem
    assert check_sources({**values, "load_in_4bit": False}, probe_hub=False) == []


def test_runs_merge_refuses_a_full_fine_tune_and_a_used_destination(isolated, tmp_path, capsys):
    full = make_run(isolated, "full")
    (full / store.FINAL).mkdir()
    (full / store.FINAL / "model.safetensors").write_bytes(b"")
    assert main(["runs", "merge", "full", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "run: full did not train LoRA adapters" in err and len(err.splitlines()) == 1, err
    make_run(isolated, "lora", config={"use_peft": True})
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("keep", encoding="utf-8")
    assert main(["runs", "merge", "lora", str(used)]) == 2
    assert "dest:" in capsys.readouterr().err and (used / "x").read_text() == "keep"
    assert main(["runs", "merge", "lora", str(tmp_path / "new"), "--dtype", "int8"]) == 2
    assert "dtype: must be one of float32, bfloat16, float16" in capsys.readouterr().err


# Loads and generates with transformers alone: no lrexplorer, no peft on the import path it uses.
FRESH = """
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
ids = tok("What is 2 + 3?", return_tensors="pt").input_ids
out = model.generate(ids, max_new_tokens=5, do_sample=False)
assert out.shape[1] > ids.shape[1]
torch.save(model(ids).logits.detach(), sys.argv[2])
print("modules", sorted(m for m in sys.modules if m.split(".")[0] in ("lrexplorer", "peft", "bitsandbytes")))
"""


@pytest.mark.slow
def test_qlora_run_trains_saves_the_adapter_and_merges_into_a_model_that_loads_anywhere(isolated, tmp_path):
    import torch

    from lrexplorer.runs.exports.merge import load_for_generation

    args = ["--load_in_4bit", "--use_peft", "--lora_r", "8", "--max_steps", "8", "--logging_steps", "1"]
    result = run_cli(["train", *args, "--learning_rate", "2e-3", "--run_id", "q"], cwd=isolated.parent, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = isolated / "q"
    status = store.read_status(run_dir)
    assert status["state"] == "completed" and status["quantization"] == "4-bit nf4, compute float32"
    assert 0 < status["trainable_parameters"] < status["parameters"] / 10
    values = store.read_spec(run_dir).values
    logs = assert_lr_matches_curve(run_dir, values, count_lines(builtin.dataset_files("arithmetic")["train"]))
    assert logs[-1]["loss"] < logs[0]["loss"]
    final = run_dir / store.FINAL
    assert (final / "adapter_model.safetensors").is_file() and not (final / "model.safetensors").exists()
    adapter = json.loads((final / "adapter_config.json").read_text())
    assert adapter["r"] == 8 and adapter["base_model_name_or_path"] == str(run_dir / store.BASE)

    merged = tmp_path / "merged"
    result = run_cli(["runs", "merge", "q", str(merged)], cwd=isolated.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json"} <= {
        p.name for p in merged.iterdir()
    }
    assert "quantization_config" not in json.loads((merged / "config.json").read_text())
    fresh = subprocess.run(
        [sys.executable, "-c", FRESH, str(merged), str(tmp_path / "logits.pt")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "modules []" in fresh.stdout
    # The merged model computes what the run's 4-bit base plus its adapter computes.
    model, tokenizer = load_for_generation(run_dir)
    with torch.no_grad():
        adapted = model(tokenizer("What is 2 + 3?", return_tensors="pt").input_ids).logits
    assert torch.allclose(torch.load(tmp_path / "logits.pt"), adapted, atol=1e-4)

    # The run exported and rerun through accelerate launch, with transformers, TRL, peft and bitsandbytes only.
    bundle = tmp_path / "bundle"
    written = {p.name for p in write_bundle(store.read_spec(run_dir), bundle)}
    assert {SCRIPT, ACCELERATE, TRL_YAML} <= written
    assert "load_in_4bit: true" in (bundle / TRL_YAML).read_text()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    result = subprocess.run(
        ["sh", str(bundle / ACCELERATE)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((bundle / "sft-output" / "trainer_state.json").read_text())
    history = [h for h in state["log_history"] if "loss" in h]
    assert [h["step"] for h in history] == [r["step"] for r in logs]
    for theirs, mine in zip(history, logs):
        assert theirs["learning_rate"] == pytest.approx(mine["learning_rate"], rel=1e-9, abs=1e-15)
        assert theirs["loss"] == pytest.approx(mine["loss"], rel=1e-4), theirs["step"]
