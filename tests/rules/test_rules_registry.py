"""The one registry of cross-field rules: the list of rules and their severities, a case that makes each rule
speak, and every front end (RunSpec validation, the pre-flight, `lrexplorer train --check`, the memory
estimate and `lrexplorer memory`) saying what a rule says in its words."""

from __future__ import annotations

from typing import Any

import pytest

from lrexplorer.catalogues.params import MEMORY, TRAIN, FieldError, resolve
from lrexplorer.cli import main
from lrexplorer.core.facts import Facts
from lrexplorer.core.hardware import CpuInfo, Hardware
from lrexplorer.frontend.preflight import preflight
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import TrainingSetup, subject, validate
from lrexplorer.rules.registry import BY_NAME, RULES, check
from lrexplorer.rules.rule import Outlook, Subject
from lrexplorer.runs.spec import RunSpec

CPU = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False, cpu_cores=2, deepspeed=True, bitsandbytes=True)
BARE_CPU = Facts(gpu_capabilities=(), cpu_bf16=False, flash_attn=False, cpu_cores=2, bitsandbytes=False)
AMPERE = Facts(gpu_capabilities=((8, 0),), cpu_bf16=True, flash_attn=False, deepspeed=True, bitsandbytes=True)
TURING = Facts(gpu_capabilities=((7, 5),), cpu_bf16=True, flash_attn=True, deepspeed=True, bitsandbytes=True)
LLAMA = resolve_model("Llama-3.2-1B").architecture
GEMMA = resolve_model("Gemma-2-2B").architecture

# Every rule, in the registry's order, with its severity: a new rule is one more line here.
LISTED = [
    ("one_mixed_precision", "refusal"),
    ("fp16_ignored_on_cpu", "advice"),
    ("bf16_needs_hardware", "refusal"),
    ("tf32_needs_ampere", "refusal"),
    ("fp16_with_float16_weights", "refusal"),
    ("float16_weights_on_cpu", "advice"),
    ("prefer_bf16", "advice"),
    ("mixed_precision_available", "advice"),
    ("flash_kernel_runs_here", "refusal"),
    ("sdpa_supported_by_model", "refusal"),
    ("eager_keeps_the_scores", "advice"),
    ("packing_needs_max_length", "refusal"),
    ("padding_free_keeps_full_length", "refusal"),
    ("padding_free_with_wrapped_packing", "advice"),
    ("packing_strategy_unused", "advice"),
    ("batch_shape_needs_sft", "refusal"),
    ("streaming_needs_max_steps", "refusal"),
    ("tokens_per_micro_batch", "refusal"),
    ("checkpointing_options_unused", "advice"),
    ("optim_runs_on_device", "refusal"),
    ("decay_below_one_over_lr", "refusal"),
    ("schedule_arguments", "refusal"),
    ("metric_schedule_needs_eval", "refusal"),
    ("high_learning_rate", "advice"),
    ("max_steps_overrides_epochs", "advice"),
    ("no_gradient_clipping", "advice"),
    ("one_quantization", "refusal"),
    ("quantized_needs_lora", "refusal"),
    ("quantized_needs_bitsandbytes", "refusal"),
    ("compute_dtype_on_device", "refusal"),
    ("float16_compute_on_cpu", "advice"),
    ("bnb_options_unused", "advice"),
    ("lora_options_unused", "advice"),
    ("lora_targets_in_model", "refusal"),
    ("processes_fit_the_machine", "refusal"),
    ("one_sharding_scheme", "refusal"),
    ("fsdp_cannot_shard_quantized", "refusal"),
    ("zero3_cannot_shard_4bit", "refusal"),
    ("fsdp_config_valid", "refusal"),
    ("fsdp_config_unused", "advice"),
    ("fsdp_needs_gpus", "refusal"),
    ("cpu_estimate_is_one_process", "refusal"),
    ("fsdp_on_one_process", "advice"),
    ("deepspeed_installed", "refusal"),
    ("offload_replaces_optim", "advice"),
    ("cpu_adam_builds_once", "advice"),
    ("eval_steps_follow_logging", "advice"),
    ("no_checkpoints", "advice"),
    ("no_logging", "advice"),
    ("will_not_fit", "advice"),
    ("tight_fit", "advice"),
    ("first_update_at_lr_zero", "advice"),
    ("warmup_as_long_as_the_run", "advice"),
    ("warmup_over_half", "advice"),
    ("logging_beyond_the_run", "advice"),
]


def test_the_registry_lists_every_rule_once_with_its_severity():
    assert [(r.name, r.severity) for r in RULES] == LISTED
    assert len(BY_NAME) == len(RULES)
    for r in RULES:
        assert r.summary, f"{r.name} says in its docstring what it checks"
        assert set(r.tools) <= {TRAIN, MEMORY} and r.tools
        assert r.level == "error" if r.severity == "refusal" else r.level in ("error", "warning", "info")


def train(facts: Facts = CPU, outlook: Outlook | None = None, **given: Any) -> Subject:
    values, _ = resolve(given, TRAIN)  # each field converted, defaults filled: the rules see what a spec sees
    return Subject(TRAIN, values, facts, outlook=outlook)


def memory(arch: Any = LLAMA, **setup: Any) -> Subject:
    return subject(TrainingSetup(**setup), arch)


RUN = Outlook(total_steps=10, warmup_steps=0, first_lr=1e-4, peak_bytes=2**30, capacity_bytes=2**34)

# One case per rule that makes it speak, and the field it names.
CASES: dict[str, tuple[Subject, str]] = {
    "one_mixed_precision": (train(AMPERE, bf16=True, fp16=True), "fp16"),
    "fp16_ignored_on_cpu": (memory(device="cpu", fp16=True, dtype="float32"), "fp16"),
    "bf16_needs_hardware": (train(BARE_CPU, bf16=True), "bf16"),
    "tf32_needs_ampere": (train(TURING, tf32=True), "tf32"),
    "fp16_with_float16_weights": (train(TURING, fp16=True, dtype="float16"), "fp16"),
    "float16_weights_on_cpu": (train(dtype="float16"), "dtype"),
    "prefer_bf16": (train(AMPERE, fp16=True), "fp16"),
    "mixed_precision_available": (train(AMPERE), "bf16"),
    "flash_kernel_runs_here": (memory(device="cpu", attn_implementation="flash_attention_2"), "attn_implementation"),
    "sdpa_supported_by_model": (memory(GEMMA, attn_implementation="sdpa"), "attn_implementation"),
    "eager_keeps_the_scores": (train(attn_implementation="eager"), "attn_implementation"),
    "packing_needs_max_length": (train(packing=True, max_length=None), "max_length"),
    "padding_free_keeps_full_length": (train(padding_free=True, max_length=64), "padding_free"),
    "padding_free_with_wrapped_packing": (
        train(packing=True, packing_strategy="wrapped", padding_free=True, max_length=64),
        "padding_free",
    ),
    "packing_strategy_unused": (train(packing_strategy="wrapped"), "packing_strategy"),
    "batch_shape_needs_sft": (memory(padding_free=True, trainer="transformers"), "padding_free"),
    "streaming_needs_max_steps": (train(dataset_streaming=True), "max_steps"),
    "tokens_per_micro_batch": (
        memory(per_device_train_batch_size=4096, max_length=8192),
        "per_device_train_batch_size",
    ),
    "checkpointing_options_unused": (
        train(activation_checkpointing_kwargs={"use_reentrant": False}),
        "activation_checkpointing_kwargs",
    ),
    "decay_below_one_over_lr": (train(learning_rate=0.5, weight_decay=2.0), "weight_decay"),
    "schedule_arguments": (train(lr_scheduler_type="cosine", lr_scheduler_kwargs={"cycles": 2}), "lr_scheduler_kwargs"),
    "metric_schedule_needs_eval": (train(lr_scheduler_type="reduce_lr_on_plateau"), "eval_strategy"),
    "high_learning_rate": (train(learning_rate=0.1), "learning_rate"),
    "max_steps_overrides_epochs": (train(max_steps=10, num_train_epochs=3), "num_train_epochs"),
    "no_gradient_clipping": (train(max_grad_norm=0), "max_grad_norm"),
    "one_quantization": (train(use_peft=True, load_in_4bit=True, load_in_8bit=True), "load_in_8bit"),
    "quantized_needs_lora": (train(load_in_8bit=True), "load_in_8bit"),
    "quantized_needs_bitsandbytes": (train(BARE_CPU, use_peft=True, load_in_4bit=True), "load_in_4bit"),
    "compute_dtype_on_device": (
        train(TURING, use_peft=True, load_in_4bit=True, bnb_4bit_compute_dtype="bfloat16"),
        "bnb_4bit_compute_dtype",
    ),
    "float16_compute_on_cpu": (
        train(use_peft=True, load_in_4bit=True, bnb_4bit_compute_dtype="float16"),
        "bnb_4bit_compute_dtype",
    ),
    "bnb_options_unused": (train(bnb_4bit_quant_type="fp4"), "load_in_4bit"),
    "lora_options_unused": (train(use_dora=True), "use_peft"),
    "lora_targets_in_model": (memory(use_peft=True, lora_target_modules=("wq",)), "lora_target_modules"),
    "processes_fit_the_machine": (train(num_processes=3), "num_processes"),
    "one_sharding_scheme": (train(AMPERE, fsdp=True, deepspeed="zero2"), "deepspeed"),
    "fsdp_cannot_shard_quantized": (memory(fsdp=True, num_gpus=2, use_peft=True, load_in_4bit=True), "fsdp"),
    "zero3_cannot_shard_4bit": (memory(zero_stage=3, num_gpus=2, use_peft=True, load_in_4bit=True), "load_in_4bit"),
    "fsdp_config_valid": (train(AMPERE, fsdp=True, fsdp_config={"version": 1}), "fsdp_config"),
    "fsdp_config_unused": (train(fsdp_config={"reshard_after_forward": False}), "fsdp_config"),
    "fsdp_needs_gpus": (train(num_processes=2, fsdp=True), "fsdp"),
    "cpu_estimate_is_one_process": (memory(device="cpu", num_gpus=2), "device"),
    "fsdp_on_one_process": (train(AMPERE, fsdp=True), "fsdp"),
    "deepspeed_installed": (train(BARE_CPU, deepspeed="zero1"), "deepspeed"),
    "offload_replaces_optim": (train(AMPERE, deepspeed="zero2_offload"), "deepspeed"),
    "cpu_adam_builds_once": (train(deepspeed="zero3_offload"), "deepspeed"),
    "eval_steps_follow_logging": (train(eval_strategy="steps"), "eval_steps"),
    "no_checkpoints": (train(save_strategy="no"), "save_strategy"),
    "no_logging": (train(logging_strategy="no"), "logging_strategy"),
    "will_not_fit": (train(outlook=Outlook(peak_bytes=2**31, capacity_bytes=2**30)), "per_device_train_batch_size"),
    "tight_fit": (train(outlook=Outlook(peak_bytes=95, capacity_bytes=100)), "per_device_train_batch_size"),
    "first_update_at_lr_zero": (train(outlook=Outlook(first_lr=0.0)), "warmup_steps"),
    "warmup_as_long_as_the_run": (train(outlook=Outlook(total_steps=8, warmup_steps=8)), "warmup_steps"),
    "warmup_over_half": (train(outlook=Outlook(total_steps=8, warmup_steps=6)), "warmup_steps"),
    "logging_beyond_the_run": (train(logging_steps=50, outlook=RUN), "logging_steps"),
}


@pytest.mark.parametrize("name", [r.name for r in RULES if r.name != "optim_runs_on_device"])
def test_each_rule_speaks_for_its_case_naming_the_field(name):
    case, field = CASES[name]
    found = BY_NAME[name](case)
    assert found is not None and found.field == field and found.text, found
    assert name in {f.rule for f in check(case).refusals + check(case).advice}


def test_every_optimizer_runs_on_both_devices_so_the_device_rule_stays_silent():
    """optim_runs_on_device guards the catalogue: an optimizer that gains a CUDA-only entry is refused on the
    CPU by name. Today every one has both."""
    from lrexplorer.catalogues.optimizers import OPTIMIZERS

    rule = BY_NAME["optim_runs_on_device"]
    assert all(rule(memory(device="cpu", optim=name)) is None for name in OPTIMIZERS)
    assert all(set(o.devices) == {"cpu", "cuda"} for o in OPTIMIZERS.values())


def test_defaults_raise_nothing_but_the_note_of_a_gpu_without_mixed_precision():
    assert check(train()).refusals == [] and check(train()).advice == []
    assert [f.rule for f in check(train(AMPERE)).advice] == ["mixed_precision_available"]
    assert check(memory()).refusals == [] and check(memory()).advice == []


# -- every front end reads the registry ----------------------------------------------------------------------
def hardware() -> Hardware:
    return Hardware(gpus=[], cpu=CpuInfo("test CPU", 2, 2, 16 * 2**30, 16 * 2**30))


def test_a_refusal_reads_the_same_from_the_spec_the_preflight_and_train_check(capsys, monkeypatch):
    given = {"learning_rate": 0.5, "weight_decay": 2.0}
    problem = BY_NAME["decay_below_one_over_lr"](train(**given)).text
    with pytest.raises(FieldError) as caught:
        RunSpec.from_dict(given, CPU)
    assert [(e.field, e.problem) for e in caught.value.errors] == [("weight_decay", problem)]
    assert [(e.field, e.problem) for e in preflight(given, CPU, hardware()).errors] == [("weight_decay", problem)]
    assert main(["train", "--check", "--learning_rate", "0.5", "--weight_decay", "2"]) == 2
    assert f"--weight_decay: {problem}." in capsys.readouterr().err


def test_advice_reads_the_same_from_the_spec_the_preflight_and_train_check(capsys):
    text = BY_NAME["no_gradient_clipping"](train(max_grad_norm=0)).text
    assert text in RunSpec.from_dict({"max_grad_norm": 0}, CPU).notes
    assert ("info", text) in preflight({"max_grad_norm": 0}, CPU, hardware()).warnings
    assert main(["train", "--check", "--max_grad_norm", "0"]) == 0
    err = capsys.readouterr().err
    assert f"note: {text}" in err.splitlines()
    # The pre-flight's own advice (over the updates it counts) reaches the command line too.
    late = BY_NAME["warmup_as_long_as_the_run"](train(outlook=Outlook(total_steps=8, warmup_steps=10))).text
    assert main(["train", "--check", "--max_steps", "8", "--warmup_steps", "10"]) == 0
    assert f"warning: {late}" in capsys.readouterr().err.splitlines()


def test_a_rule_of_both_tools_reads_the_same_from_a_run_and_an_estimate(capsys):
    refusal = BY_NAME["one_mixed_precision"](memory(bf16=True, fp16=True)).text
    with pytest.raises(FieldError) as caught:
        RunSpec.from_dict({"bf16": True, "fp16": True}, AMPERE)
    assert caught.value.problem == refusal
    with pytest.raises(FieldError) as caught:
        validate(TrainingSetup(bf16=True, fp16=True), LLAMA)
    assert caught.value.problem == refusal
    model = ["--model", "SmolLM2-135M", "--per_device_train_batch_size", "1", "--max_length", "64"]
    assert main(["memory", *model, "--bf16", "--fp16"]) == 2
    assert f"--fp16: {refusal}." in capsys.readouterr().err

    advice = BY_NAME["fp16_ignored_on_cpu"](memory(device="cpu", fp16=True)).text
    assert advice in RunSpec.from_dict({"fp16": True}, CPU).notes
    assert ("warning", advice) in preflight({"fp16": True}, CPU, hardware()).warnings
    assert [a.text for a in validate(TrainingSetup(device="cpu", fp16=True), LLAMA)] == [advice]
    assert main(["memory", *model, "--device", "cpu", "--fp16"]) == 0
    assert f"warning: {advice}" in capsys.readouterr().err.splitlines()
    assert main(["train", "--check", "--fp16"]) == 0
    assert f"warning: {advice}" in capsys.readouterr().err.splitlines()


def test_the_estimate_is_checked_by_the_rules_before_any_figure():
    from lrexplorer.memory.analytic.estimate import estimate

    with pytest.raises(FieldError) as caught:
        estimate(LLAMA, TrainingSetup(per_device_train_batch_size=4096, max_length=8192))
    tokens = BY_NAME["tokens_per_micro_batch"](memory(per_device_train_batch_size=4096, max_length=8192))
    assert caught.value.field == "per_device_train_batch_size" and caught.value.problem == tokens.text
