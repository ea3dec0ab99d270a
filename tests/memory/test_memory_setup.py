"""Setups the estimate refuses (naming the field), and properties every estimate must keep.

The refusals mirror what a real run does with those settings; the properties hold for any
architecture and setup, so hypothesis draws them at random across every preset.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrexplorer.catalogues.presets import preset_names
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import ATTENTION, DTYPES, OPTIMIZERS, TrainingSetup, setup_from_values

LLAMA = resolve_model("Llama-3.2-1B").architecture
GEMMA = resolve_model("Gemma-2-2B").architecture


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"load_in_4bit": True}, "load_in_4bit"),
        ({"attn_implementation": "flash_attention_2", "dtype": "float32"}, "attn_implementation"),
        (
            {"attn_implementation": "flash_attention_2", "dtype": "bfloat16", "device": "cpu"},
            "attn_implementation",
        ),
        ({"bf16": True, "fp16": True}, "fp16"),
        ({"zero_stage": 2, "fsdp": True, "num_gpus": 2}, "fsdp"),
        ({"fp16": True, "dtype": "float16"}, "fp16"),
        ({"optim": "adam"}, "optim"),
        ({"dtype": "float64"}, "dtype"),
        ({"dtype": "auto"}, "dtype"),  # auto is settled from the model's config by setup_from_values
        ({"attn_implementation": "flex"}, "attn_implementation"),
        ({"per_device_train_batch_size": 0}, "per_device_train_batch_size"),
        ({"max_length": -5}, "max_length"),
        ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps"),
        ({"zero_stage": 4}, "zero_stage"),
        ({"device": "cpu", "num_gpus": 2}, "device"),
        ({"use_peft": True, "lora_r": 0}, "lora_r"),
        ({"per_device_train_batch_size": 2.0}, "per_device_train_batch_size"),  # typed values only
        ({"activation_checkpointing": "true"}, "activation_checkpointing"),
        ({"use_peft": True, "lora_r": 8, "lora_target_modules": ("q_proj", "wq")}, "lora_target_modules"),
        ({"use_peft": True, "lora_r": 8, "load_in_4bit": True, "zero_stage": 3, "num_gpus": 2}, "load_in_4bit"),
    ],
)
def test_impossible_setups_are_refused_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(FieldError) as info:
        estimate(LLAMA, TrainingSetup(**changes))
    assert info.value.field == field
    assert field in str(info.value) or info.value.field == "fp16"


def test_sdpa_is_refused_for_gemma2_and_eager_is_its_default() -> None:
    with pytest.raises(FieldError, match="sdpa"):
        estimate(GEMMA, TrainingSetup(attn_implementation="sdpa"))
    assert estimate(GEMMA, TrainingSetup()).setup.attention(GEMMA) == "eager"


def test_setup_from_values_converts_catalogue_values_and_settles_auto_from_the_config() -> None:
    qwen = resolve_model("Qwen2.5-0.5B")
    notes: list[str] = []
    given = {
        "per_device_train_batch_size": "2",
        "max_length": None,
        "activation_checkpointing": "true",
        "use_peft": True,
        "lora_target_modules": "q_proj, v_proj",
        "learning_rate": 1e-3,  # a training field the estimate does not take: ignored
    }
    setup = setup_from_values(given, qwen.config, notes)
    assert setup == TrainingSetup(
        per_device_train_batch_size=2,
        max_length=qwen.config["max_position_embeddings"],  # null: the model's longest sequence
        gradient_accumulation_steps=1,
        activation_checkpointing=True,
        optim="adamw_torch_fused",  # the memory tool's default
        dtype=qwen.config["torch_dtype"],  # auto: the dtype the checkpoint was saved in
        attn_implementation=None,  # auto: what transformers picks for the model
        use_peft=True,
        lora_r=16,
        lora_target_modules=("q_proj", "v_proj"),
        device="cuda",
    )
    assert "max_length is null" in notes[0]
    with pytest.raises(FieldError) as info:
        setup_from_values({"per_device_train_batch_size": 0, "optim": "adam", "zero_stage": 7})
    assert info.value.fields == ["per_device_train_batch_size", "optim", "zero_stage"]


setups = st.builds(
    TrainingSetup,
    per_device_train_batch_size=st.integers(1, 16),
    max_length=st.sampled_from([128, 512, 2048, 8192]),
    gradient_accumulation_steps=st.integers(1, 8),
    activation_checkpointing=st.booleans(),
    optim=st.sampled_from(list(OPTIMIZERS)),
    dtype=st.sampled_from(DTYPES),
    bf16=st.booleans(),
    attn_implementation=st.sampled_from([None, *ATTENTION]),
    use_peft=st.booleans(),
    lora_r=st.sampled_from([8, 64]),
    load_in_4bit=st.booleans(),
    num_gpus=st.sampled_from([1, 2, 8]),
    zero_stage=st.sampled_from([0, 1, 2, 3]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(preset_names()), setup=setups)
def test_every_valid_setup_gives_a_coherent_estimate(name: str, setup: TrainingSetup) -> None:
    arch = resolve_model(name).architecture
    try:
        est = estimate(arch, setup)
    except FieldError as exc:
        assert exc.field  # refused, and it says which setting
        return
    c = est.components
    assert est.peak_bytes == max(est.phases.values())
    assert est.phases["optimizer_step"] >= c["weights"] + c["gradients"] + c["optimizer_states"]
    assert est.phases["forward"] >= c["weights"] + c["optimizer_states"] + c["activations"]
    assert all(v >= 0 for v in c.values())
    # More tokens never need less memory; checkpointing never keeps more activations.
    bigger = estimate(arch, setup.with_(max_length=setup.max_length * 2))
    assert bigger.peak_bytes >= est.peak_bytes
    if not setup.activation_checkpointing:
        assert estimate(arch, setup.with_(activation_checkpointing=True)).components["activations"] <= c["activations"]


def test_one_estimate_is_fast() -> None:
    # The bench (bench/memory_speed.py) reports the figure; this only guards against a blow-up.
    arch = resolve_model("Llama-3.1-70B").architecture
    setup = TrainingSetup(
        per_device_train_batch_size=4,
        max_length=8192,
        gradient_accumulation_steps=4,
        activation_checkpointing=True,
        bf16=True,
        dtype="float32",
    )
    estimate(arch, setup)
    start = time.perf_counter()
    for _ in range(20):
        estimate(arch, setup)
    assert (time.perf_counter() - start) / 20 < 0.05
