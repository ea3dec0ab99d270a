"""What the Train page says before Start (lrexplorer.frontend.preflight): step counts and LR curve from the
engines, the memory estimate through the Memory engine (or why it is unavailable), and the warnings,
on this machine and posing as GPUs it lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lrexplorer.catalogues.builtin import dataset_files
from lrexplorer.core.facts import Facts
from lrexplorer.core.hardware import CpuInfo, GpuInfo, Hardware
from lrexplorer.frontend.preflight import preflight
from lrexplorer.runs.estimates import builtin_vocab_size, count_examples, memory_check
from lrexplorer.schedules import compute_curve

CPU = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)
AMPERE = Facts(gpu_capabilities=((8, 0),), cpu_bf16=True, flash_attn=False)
TURING = Facts(gpu_capabilities=((7, 5),), cpu_bf16=True, flash_attn=False)


def hardware(gpu_gib: float | None = None, ram_gib: float = 16) -> Hardware:
    gpus = [GpuInfo(0, "Test GPU", int(gpu_gib * 2**30), int(gpu_gib * 2**30), (8, 0), None)] if gpu_gib else []
    return Hardware(gpus=gpus, cpu=CpuInfo("test CPU", 2, 2, int(ram_gib * 2**30), int(ram_gib * 2**30)))


def texts(pf, level: str | None = None) -> str:
    return " ".join(t for lv, t in pf.warnings if level is None or lv == level)


def builtin_on_cuda(values: dict, **fields: Any) -> tuple[Any, Any]:
    """(architecture, memory setup) of the built-in model on one CUDA GPU in bf16 mixed precision, as the
    run with these values pads its batches (their longest example), with `fields` on top."""
    from lrexplorer.catalogues.architecture import from_config
    from lrexplorer.catalogues.builtin import TINY_CONFIG
    from lrexplorer.memory.setup import TrainingSetup
    from lrexplorer.runs.training.lengths import dataset_lengths

    arch = from_config({"model_type": "llama", **TINY_CONFIG, "vocab_size": builtin_vocab_size()})
    setup = TrainingSetup(
        max_length=128,
        dtype="float32",
        bf16=True,
        attn_implementation="sdpa",
        device="cuda",
        longest_example=dataset_lengths(values).longest,
        **fields,
    )
    return arch, setup


def test_defaults_plan_the_builtin_run():
    pf = preflight({}, CPU, hardware())
    assert pf.ok and pf.num_examples == 2000
    assert (pf.plan.total_steps, pf.plan.warmup_steps) == (250, 0)
    assert (pf.curve.lr == compute_curve("linear", 5e-4, 250, 0).lr).all()
    assert pf.memory.device == "cpu" and 0 < pf.memory.peak_bytes < 2**30 and pf.memory.fits


def test_builtin_vocab_size_is_the_tokenizers_length():
    from lrexplorer.catalogues.builtin import load_tokenizer

    assert builtin_vocab_size() == len(load_tokenizer())


def test_memory_check_is_the_memory_engines_estimate():
    from lrexplorer.memory.analytic.estimate import estimate
    from lrexplorer.runs.spec import RunSpec

    values = RunSpec.from_dict(
        {"per_device_train_batch_size": 4, "activation_checkpointing": True, "bf16": True, "optim": "adamw_8bit"},
        AMPERE,
    ).values
    mem = memory_check(values, AMPERE, hardware(24))
    expected = estimate(
        *builtin_on_cuda(values, per_device_train_batch_size=4, activation_checkpointing=True, optim="adamw_8bit")
    )
    assert mem.peak_bytes == expected.peak_bytes and mem.device == "cuda" and mem.capacity_bytes == 24 * 2**30


TWO_AMPERES = Facts(gpu_capabilities=((8, 0), (8, 0)), cpu_bf16=True, flash_attn=False)


@pytest.mark.parametrize(
    "fsdp_config",
    [{"reshard_after_forward": False, "cpu_offload": True}, {"fsdp_reshard_after_forward": False}],
    ids=["plain-keys", "accelerate-prefix"],
)
def test_fsdp_options_of_the_run_reach_the_memory_estimate(fsdp_config):
    """fsdp and its fsdp_config options give the per-rank estimate of the equivalent memory setup."""
    from lrexplorer.memory.analytic.estimate import estimate
    from lrexplorer.runs.spec import RunSpec

    run = {"num_processes": 2, "bf16": True, "per_device_train_batch_size": 4, "optim": "adamw_torch"}

    def check(config: dict) -> int:
        values = RunSpec.from_dict({**run, "fsdp": True, "fsdp_config": config}, TWO_AMPERES).values
        peak = memory_check(values, TWO_AMPERES, hardware(24)).peak_bytes
        assert peak is not None
        return peak

    values = RunSpec.from_dict(run, TWO_AMPERES).values
    arch, setup = builtin_on_cuda(
        values,
        per_device_train_batch_size=4,
        optim="adamw_torch",
        num_gpus=2,
        fsdp=True,
        fsdp_reshard_after_forward=False,
        fsdp_offload_params=bool(fsdp_config.get("cpu_offload")),
    )
    assert check(fsdp_config) == estimate(arch, setup).peak_bytes
    defaults = check({})
    assert (
        defaults == estimate(arch, setup.with_(fsdp_reshard_after_forward=True, fsdp_offload_params=False)).peak_bytes
    )
    assert check(fsdp_config) != defaults
    ddp = memory_check(values, TWO_AMPERES, None)
    assert ddp.peak_bytes == estimate(arch, setup.with_(fsdp=False)).peak_bytes != defaults


def test_memory_estimate_unavailable_says_why_and_never_raises():
    from lrexplorer.runs.spec import RunSpec

    values = RunSpec.from_dict({"model": "someone/some-model"}, CPU).values
    mem = memory_check(values, CPU, hardware())
    assert mem.peak_bytes is None and "config.json" in mem.unavailable


def test_will_not_fit_on_a_small_gpu():
    pf = preflight({"per_device_train_batch_size": 512, "max_length": 512}, AMPERE, hardware(gpu_gib=1))
    assert pf.memory.fits is False and "Will not fit" in texts(pf, "error") and "GPU 0 (Test GPU" in texts(pf, "error")


def test_lr_zero_and_warmup_longer_than_the_run():
    pf = preflight({"warmup_steps": 10.0, "max_steps": 8}, CPU, hardware())
    assert "The first update uses LR 0" in texts(pf, "warning")
    assert "Warmup (10 updates) is as long as the run (8 updates)" in texts(pf, "warning")
    assert "LR 0" not in texts(preflight({"lr_scheduler_type": "constant"}, CPU, hardware()))


def test_precision_and_attention_advice_depends_on_the_gpu():
    assert "prefer bf16" in texts(preflight({"fp16": True}, AMPERE, hardware(24)))
    assert "prefer bf16" not in texts(preflight({"fp16": True}, TURING, hardware(24)))
    note = texts(preflight({"bf16": True}, AMPERE, hardware(24)))
    assert "Attention: sdpa (auto)" in note and "flash_attention_2 needs the flash-attn package" in note
    pf = preflight({"attn_implementation": "flash_attention_2", "bf16": True}, AMPERE, hardware(24))
    assert pf.errors and pf.errors[0].field == "attn_implementation" and "flash-attn" in str(pf.errors[0])
    assert "supports bf16" in texts(preflight({}, AMPERE, hardware(24)))


def test_length_from_a_local_file_or_unknown_for_the_hub(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(30)), encoding="utf-8")
    pf = preflight({"dataset": str(data), "per_device_train_batch_size": 4}, CPU, hardware())
    assert pf.num_examples == 30 and pf.plan.total_steps == 8
    pf = preflight({"dataset": "someone/some-data"}, CPU, hardware())
    assert pf.plan is None and "set max_steps" in pf.plan_error
    assert preflight({"dataset": "someone/some-data", "max_steps": 50}, CPU, hardware()).plan.total_steps == 50
    lines = Path(dataset_files("facts")["train"]).read_text(encoding="utf-8").splitlines()
    assert count_examples({"dataset": "builtin:facts", "dataset_streaming": False}) == sum(
        1 for s in lines if s.strip()
    )


def test_field_errors_come_from_the_spec():
    pf = preflight({"learning_rate": 0, "warmup_ratio": 0.1, "nonsense": 1}, CPU, hardware())
    assert not pf.ok and {e.field for e in pf.errors} == {"learning_rate", "nonsense"}


@pytest.mark.parametrize("bad", [{"logging_strategy": "no"}, {"logging_steps": 500.0}])
def test_empty_charts_are_announced(bad):
    assert "charts stay empty" in texts(preflight(bad, CPU, hardware()), "warning")


def test_qlora_preflight_estimates_the_4bit_base_that_loads():
    """The pre-flight of a QLoRA run counts the base weights in 4 bits: the estimate's weights are close to
    the footprint of the 4-bit model bitsandbytes really loads, and well under the LoRA run's."""
    from lrexplorer.catalogues import builtin
    from lrexplorer.runs.spec import RunSpec
    from lrexplorer.runs.training import sources

    lora = memory_check(RunSpec.from_dict({"use_peft": True}, CPU).values, CPU, hardware())
    values = RunSpec.from_dict({"use_peft": True, "load_in_4bit": True, "bnb_4bit_use_double_quant": True}, CPU).values
    qlora = memory_check(values, CPU, hardware())
    assert qlora.peak_bytes is not None and qlora.components["weights"] < lora.components["weights"] / 3
    real = sources.load_model(values, builtin.load_tokenizer(), "sdpa").get_memory_footprint()
    assert qlora.components["weights"] == pytest.approx(real, rel=0.15)
