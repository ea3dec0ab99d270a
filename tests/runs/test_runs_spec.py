"""Run specs: defaults, old names, cross-field rules (against what the real libraries accept), and the
exact SFTConfig the worker builds."""

from __future__ import annotations

import enum

import pytest

from lrexplorer.catalogues.params import TRAIN, FieldError, fields_for
from lrexplorer.core.facts import Facts, detect_facts
from lrexplorer.rules.attention import resolve_attention
from lrexplorer.runs.spec import RunSpec

CPU = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)
CPU_NO_BF16 = Facts(gpu_capabilities=(), cpu_bf16=False, flash_attn=False)
T4 = Facts(gpu_capabilities=((7, 5),), cpu_bf16=True, flash_attn=True)
A100 = Facts(gpu_capabilities=((8, 0),), cpu_bf16=True, flash_attn=True)
A100_NO_FA = Facts(gpu_capabilities=((8, 0),), cpu_bf16=True, flash_attn=False)


def errors_of(given: dict, facts: Facts = CPU) -> dict[str, str]:
    with pytest.raises(FieldError) as err:
        RunSpec.from_dict(given, facts)
    return {e.field: str(e) for e in err.value.errors}


def test_defaults_are_valid_here_and_round_trip_through_yaml():
    spec = RunSpec.from_dict({}, detect_facts())
    assert spec["model"] == "builtin:tiny" and spec["dataset"] == "builtin:arithmetic"
    again = RunSpec.from_yaml(spec.to_yaml(), detect_facts())
    assert again.values == spec.values
    assert list(spec.values) == [p.name for p in fields_for(TRAIN)]  # config.yaml lists fields in catalogue order


def test_old_names_are_translated_with_a_note():
    spec = RunSpec.from_dict(
        {
            "warmup_ratio": 0.1,
            "evaluation_strategy": "epoch",
            "group_by_length": True,
            "save_safetensors": True,
            "gradient_checkpointing": True,
            "max_seq_length": 64,
        },
        CPU,
    )
    assert spec["warmup_steps"] == 0.1 and spec["eval_strategy"] == "epoch"
    assert spec["train_sampling_strategy"] == "group_by_length" and spec["activation_checkpointing"] is True
    assert spec["max_length"] == 64
    assert len(spec.notes) >= 6 and any("warmup_ratio" in n for n in spec.notes)


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"warmup_ratio": 0.1, "warmup_steps": 5}, "warmup_ratio"),
        ({"save_safetensors": False}, "save_safetensors"),
        ({"learning_rat": 1e-3}, "learning_rat"),
        ({"num_gpus": 2}, "num_gpus"),  # a memory estimate's field, not a training argument
    ],
)
def test_names_a_run_does_not_take_are_refused(given, field):
    assert list(errors_of(given)) == [field]


def test_all_field_errors_are_reported_at_once():
    errs = errors_of({"learning_rate": 0, "max_steps": 0, "optim": "nope"})
    assert set(errs) == {"learning_rate", "max_steps", "optim"}


# -- cross-field rules; where transformers has the same rule, it must reject the same spec ------------------
def sft_config_rejects(**kw) -> bool:
    from trl import SFTConfig

    try:
        SFTConfig(output_dir=None, report_to="none", **kw)
    except ValueError:
        return True
    return False


def test_fp16_with_bf16_is_refused_like_transformers():
    assert "fp16" in errors_of({"fp16": True, "bf16": True}, A100)
    assert sft_config_rejects(fp16=True, bf16=True, use_cpu=True)


def test_tf32_without_ampere_is_refused_like_transformers():
    assert "tf32" in errors_of({"tf32": True}, CPU)
    assert "tf32" in errors_of({"tf32": True}, T4)
    RunSpec.from_dict({"tf32": True}, A100)
    assert sft_config_rejects(tf32=True, use_cpu=True)  # this machine: no Ampere GPU


def test_bf16_needs_hardware_support():
    assert "compute capability" in errors_of({"bf16": True}, T4)["bf16"]
    assert "bfloat16 instructions" in errors_of({"bf16": True}, CPU_NO_BF16)["bf16"]
    RunSpec.from_dict({"bf16": True}, A100)
    RunSpec.from_dict({"bf16": True}, CPU)
    RunSpec.from_dict({"bf16": True, "use_cpu": True}, T4)  # forced onto a CPU that has bf16


def test_flash_attention_rules():
    assert (
        "flash-attn package"
        in errors_of({"attn_implementation": "flash_attention_2", "bf16": True}, A100_NO_FA)["attn_implementation"]
    )
    assert (
        "compute capability"
        in errors_of({"attn_implementation": "flash_attention_2", "fp16": True}, T4)["attn_implementation"]
    )
    assert "float16/bfloat16" in errors_of({"attn_implementation": "flash_attention_2"}, A100)["attn_implementation"]
    cpu_with_package = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=True)
    assert (
        "CPU"
        in errors_of({"attn_implementation": "flash_attention_2", "bf16": True}, cpu_with_package)[
            "attn_implementation"
        ]
    )
    RunSpec.from_dict({"attn_implementation": "flash_attention_2", "bf16": True}, A100)


@pytest.mark.parametrize(
    ("facts", "given", "expected"),
    [
        (A100, {"bf16": True}, "flash_attention_2"),
        (A100, {"dtype": "bfloat16"}, "flash_attention_2"),
        (A100, {}, "sdpa"),  # float32: flash-attn cannot run it
        (A100_NO_FA, {"bf16": True}, "sdpa"),
        (T4, {"fp16": True}, "sdpa"),
        (A100, {"bf16": True, "use_cpu": True}, "sdpa"),
        (CPU, {"bf16": True}, "sdpa"),
        (CPU, {"attn_implementation": "eager"}, "eager"),
    ],
)
def test_auto_attention(facts, given, expected):
    spec = RunSpec.from_dict(given, facts)
    assert resolve_attention(spec.values, facts) == expected


def test_flash_attn_detection_matches_transformers():
    from transformers.modeling_flash_attention_utils import FLASH_ATTENTION_COMPATIBILITY_MATRIX as MATRIX

    facts = detect_facts()
    assert facts.flash_attn == MATRIX[2]["pkg_availability_check"]()
    for version in (3, 4):
        assert (f"flash_attention_{version}" in facts.flash_kernels) == MATRIX[version]["pkg_availability_check"]()


def test_stream_needs_max_steps():
    assert "max_steps" in errors_of({"dataset_streaming": True})
    RunSpec.from_dict({"dataset_streaming": True, "max_steps": 10}, CPU)


def test_scheduler_arguments_are_checked_by_the_schedules_catalogue():
    errs = errors_of({"lr_scheduler_type": "cosine", "lr_scheduler_kwargs": {"num_cycle": 2}})
    assert "lr_scheduler_kwargs" in errs and "num_cycles" in errs["lr_scheduler_kwargs"]
    errs = errors_of({"lr_scheduler_type": "StepLR", "lr_scheduler_kwargs": '{"gamma": -1}'})
    assert "gamma" in errs["lr_scheduler_kwargs"]
    assert "lr_scheduler_type" in errors_of({"lr_scheduler_type": "Cosine"})
    assert "eval_strategy" in errors_of({"lr_scheduler_type": "reduce_lr_on_plateau"})
    RunSpec.from_dict({"lr_scheduler_type": "StepLR", "lr_scheduler_kwargs": {"step_size": 5, "gamma": 0.5}}, CPU)


# -- what SFTConfig receives ------------------------------------------------------------------------------
def build_config(spec: RunSpec):
    from trl import SFTConfig

    return SFTConfig(output_dir="unused", **spec.sft_kwargs(use_cpu=True))


@pytest.mark.parametrize(
    "given",
    [
        {},
        {
            "lr_scheduler_type": "cosine_with_restarts",
            "lr_scheduler_kwargs": {"num_cycles": 3},
            "warmup_steps": 0.1,
            "activation_checkpointing": True,
            "activation_checkpointing_kwargs": {"use_reentrant": False},
            "optim": "adamw_8bit",
            "eval_strategy": "steps",
            "eval_steps": 5,
            "train_sampling_strategy": "group_by_length",
            "bf16": True,
            "max_length": None,
            "save_total_limit": None,
            "run_name": "demo",
        },
    ],
)
def test_sft_config_gets_every_value_of_the_spec(given):
    spec = RunSpec.from_dict(given, CPU)
    config = build_config(spec)
    for name, value in spec.sft_kwargs(use_cpu=True).items():
        real = getattr(config, name)
        real = real.value if isinstance(real, enum.Enum) else real
        if name == "report_to":
            assert real == [] and value == "none"
        else:
            assert real == value, name


def test_torch_scheduler_goes_through_the_mixin():
    spec = RunSpec.from_dict({"lr_scheduler_type": "OneCycleLR", "lr_scheduler_kwargs": {"pct_start": 0.2}}, CPU)
    kw = spec.sft_kwargs(use_cpu=True)
    assert kw["lr_scheduler_type"] == "constant" and kw["lr_scheduler_kwargs"] == {}
    assert spec.trainer_schedule() == ("OneCycleLR", {"pct_start": 0.2})
    build_config(spec)


def test_peft_kwargs_build_a_real_lora_config():
    from peft import LoraConfig

    spec = RunSpec.from_dict({"use_peft": True, "lora_r": 4, "lora_target_modules": "q_proj,v_proj"}, CPU)
    config = LoraConfig(**spec.peft_kwargs())
    assert config.r == 4 and set(config.target_modules) == {"q_proj", "v_proj"} and config.lora_alpha == 32
    assert RunSpec.from_dict({}, CPU).peft_kwargs() is None
