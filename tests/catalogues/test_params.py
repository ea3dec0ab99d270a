"""The parameter catalogue against the real TRL / transformers dataclasses it names."""

from __future__ import annotations

import dataclasses
import enum
import inspect

import pytest

from lrexplorer.catalogues.params import (
    CATALOGUE,
    CATALOGUE_LIST,
    CONCEPTS,
    GROUPS,
    MEMORY,
    RENAMED,
    SCHEDULE,
    TOOLS,
    TRAIN,
    FieldError,
    by_group,
    defaults,
    fields_for,
    renamed_from,
    resolve,
    translate,
)
from lrexplorer.schedules import schedule_names

# Every argument the training notes explain must be in the catalogue, under its current name.
NOTES_ARGUMENTS = (
    "output_dir",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "lr_scheduler_type",
    "lr_scheduler_kwargs",
    "warmup_steps",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "max_grad_norm",
    "optim",
    "activation_checkpointing",
    "activation_checkpointing_kwargs",
    "bf16",
    "fp16",
    "tf32",
    "torch_compile",
    "logging_steps",
    "logging_strategy",
    "save_strategy",
    "save_steps",
    "eval_strategy",
    "eval_steps",
    "train_sampling_strategy",
    "dataloader_num_workers",
    "seed",
    "run_name",
    "report_to",
    "max_length",
    "attn_implementation",
    "use_peft",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "model",
    "dataset",
)
# Names the notes (or older releases) use that are gone or renamed, and must be translated.
NOTES_OLD_NAMES = (
    "warmup_ratio",
    "evaluation_strategy",
    "group_by_length",
    "save_safetensors",
    "gradient_checkpointing",
    "gradient_checkpointing_kwargs",
)


# BitsAndBytesConfig arguments that `trl sft` cannot name (it takes the compute dtype from dtype).
BNB_ONLY = ("bnb_4bit_compute_dtype",)


def trl_dataclasses():
    from trl import ModelConfig, ScriptArguments, SFTConfig

    return SFTConfig, ModelConfig, ScriptArguments


def effective_library_defaults() -> dict:
    """What each library actually uses when a field is left alone (after __post_init__)."""
    SFTConfig, ModelConfig, ScriptArguments = trl_dataclasses()
    out = {}
    for obj in (ScriptArguments(), ModelConfig(), SFTConfig(output_dir=None, use_cpu=True)):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            out[f.name] = value.value if isinstance(value, enum.Enum) else value
    out["use_cpu"] = next(
        f.default for f in dataclasses.fields(SFTConfig) if f.name == "use_cpu"
    )  # set above to build on CPU
    return out


def accelerate_launch_options() -> dict[str, object]:
    """`accelerate launch`'s options, by name, with their defaults."""
    from accelerate.commands.launch import launch_command_parser

    return {a.dest: a.default for a in launch_command_parser()._actions}


def test_catalogue_covers_the_notes_arguments():
    missing = [n for n in NOTES_ARGUMENTS if n not in CATALOGUE]
    assert not missing
    assert set(NOTES_OLD_NAMES) <= {r.old for r in RENAMED}


def test_every_name_is_a_real_trl_or_transformers_field():
    from transformers import BitsAndBytesConfig

    SFTConfig, ModelConfig, ScriptArguments = trl_dataclasses()
    sft = {f.name for f in dataclasses.fields(SFTConfig)}
    cli = (
        sft | {f.name for f in dataclasses.fields(ModelConfig)} | {f.name for f in dataclasses.fields(ScriptArguments)}
    )
    for p in CATALOGUE_LIST:
        if p.target == "sft":
            assert p.name in sft, p.name
        if p.name in BNB_ONLY:
            assert p.name in inspect.signature(BitsAndBytesConfig).parameters, p.name
        elif p.target == "launch":  # what `accelerate launch` takes (num_processes)
            assert p.name in accelerate_launch_options(), p.name
        elif p.target != "estimate":  # the estimates' own fields (num_gpus, zero_stage, ...) reach no library
            assert p.yaml_name in cli, f"{p.name}: `trl sft --config` has no field {p.yaml_name}"
    assert all(p.target != "estimate" for p in fields_for(TRAIN))  # a run passes every field it takes


def test_library_defaults_are_what_the_libraries_use():
    real = effective_library_defaults()
    from transformers import BitsAndBytesConfig

    launch = accelerate_launch_options()
    for p in CATALOGUE_LIST:
        if p.target == "estimate":
            continue
        if p.target == "launch":
            # accelerate launch leaves num_processes unset and starts one process without a config file
            assert launch[p.name] is None and p.default == 1, p.name
            continue
        if p.name in BNB_ONLY:
            value = getattr(BitsAndBytesConfig(load_in_4bit=True), p.name)
            assert p.hf_default == str(value).removeprefix("torch."), p.name
            continue
        expected = real[p.yaml_name]
        if p.name == "output_dir":
            continue  # transformers fills in a folder name when none is given
        if expected == [] and p.name == "report_to":
            expected = "none"  # __post_init__ turns report_to="none" into an empty list
        assert p.hf_default == expected or (not p.hf_default and not expected), (
            f"{p.name}: {p.hf_default!r} vs {expected!r}"
        )


def test_old_names_are_gone_or_deprecated_and_new_names_exist():
    from transformers import TrainingArguments

    SFTConfig, ModelConfig, ScriptArguments = trl_dataclasses()
    current = {f.name for f in dataclasses.fields(SFTConfig)} | {f.name for f in dataclasses.fields(TrainingArguments)}
    trl_names = {f.name for f in dataclasses.fields(ModelConfig)} | {
        f.name for f in dataclasses.fields(ScriptArguments)
    }
    for r in RENAMED:
        assert r.new is None or r.new in CATALOGUE, r
        if r.old.startswith("gradient_checkpointing"):
            # Still accepted by transformers as a deprecated alias that warns.
            with pytest.warns(FutureWarning, match=r.old):
                SFTConfig(output_dir=None, use_cpu=True, **{r.old: {} if r.old.endswith("kwargs") else True})
        elif r.old in trl_names:
            assert r.old != r.new
        else:
            assert r.old not in current, f"{r.old} still exists"
    assert renamed_from("warmup_steps") == ["warmup_ratio"]
    assert renamed_from("eval_strategy") == ["evaluation_strategy"]


def test_choices_are_real_values():
    from transformers.trainer_utils import IntervalStrategy, SaveStrategy
    from transformers.training_args import OptimizerNames

    optims = {o.value for o in OptimizerNames}
    assert set(CATALOGUE["optim"].choices) <= optims
    assert set(CATALOGUE["eval_strategy"].choices) <= {s.value for s in IntervalStrategy}
    assert set(CATALOGUE["save_strategy"].choices) <= {s.value for s in SaveStrategy}
    assert list(CATALOGUE["lr_scheduler_type"].choice_values()) == schedule_names()
    for name in ("adamw_torch", "adamw_torch_fused", "adamw_8bit", "adafactor", "sgd"):  # the notes' optimizers
        assert name in CATALOGUE["optim"].choices


@pytest.mark.parametrize("optim", CATALOGUE["optim"].choices)
def test_every_optimizer_choice_builds_and_steps_on_this_machine(optim):
    import torch
    from transformers import Trainer

    SFTConfig = trl_dataclasses()[0]
    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(
        SFTConfig(output_dir=None, use_cpu=True, bf16=False, optim=optim)
    )
    layer = torch.nn.Linear(64, 70)  # > 4096 elements: bitsandbytes really uses 8-bit state
    opt = cls(layer.parameters(), **kwargs)
    before = layer.weight.detach().clone()
    layer(torch.randn(4, 64)).square().sum().backward()
    opt.step()
    assert not torch.equal(before, layer.weight.detach())


def test_every_field_is_documented_and_grouped():
    assert set(by_group(None)) == set(GROUPS)
    assert all(by_group(TRAIN)[g] for g in GROUPS)  # the Train form has no empty section
    for p in CATALOGUE_LIST:
        assert p.group in GROUPS and len(p.help) > 20, p.name
        assert p.concept is None or p.concept in CONCEPTS, p.name
        assert p.tools and set(p.tools) <= set(TOOLS) and set(p.tool_defaults) <= set(p.tools), p.name
        for tool in p.tools:  # every tool's default passes the field's own check
            default = p.default_for(tool)
            assert p.convert(default) == default or default is None, (p.name, tool)
    # The notes do not discuss LoRA, quantisation, sharding, remote code or generation; every other field links to a
    # concept.
    assert {p.name for p in CATALOGUE_LIST if p.concept is None} <= {
        "use_peft",
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "lora_target_modules",
        "trust_remote_code",
        "use_rslora",
        "use_dora",
        "load_in_4bit",
        "load_in_8bit",
        "bnb_4bit_quant_type",
        "bnb_4bit_compute_dtype",
        "bnb_4bit_use_double_quant",
        "zero_stage",
        "fsdp",
        "fsdp_config",
        "deepspeed",
        "fsdp_reshard_after_forward",
        "fsdp_offload_params",
        "fsdp_wrap",
        "prompt_length",
        "max_new_tokens",
        "min_new_tokens",
    }


def test_one_default_per_field_unless_the_field_says_which_tool_differs():
    # The few tool defaults, each said once on its field.
    assert {(p.name, t) for p in CATALOGUE_LIST for t in p.tool_defaults} == {
        ("model", MEMORY),
        ("max_length", MEMORY),
        ("optim", MEMORY),
        ("dtype", MEMORY),
    }
    train, schedule, memory = defaults(TRAIN), defaults(SCHEDULE), defaults(MEMORY)
    assert (
        schedule["learning_rate"] == train["learning_rate"]
        and schedule["num_train_epochs"] == train["num_train_epochs"]
    )
    assert memory["optim"] == "adamw_torch_fused" != train["optim"] and memory["max_length"] == 1024
    assert set(schedule) == {p.name for p in fields_for(SCHEDULE)}


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("learning_rate", -1, ">"),
        ("learning_rate", "abc", "number"),
        ("learning_rate", float("nan"), "finite"),
        ("max_steps", 0, "-1"),
        ("max_steps", 2.5, "integer"),
        ("per_device_train_batch_size", 0, ">= 1"),
        ("optim", "adamw_9bit", "one of"),
        ("bf16", "maybe", "true or false"),
        ("lr_scheduler_kwargs", "{bad", "JSON"),
        ("lr_scheduler_kwargs", "[1]", "object"),
        ("adam_beta2", 1.0, "< 1"),
        ("report_to", None, "required"),
    ],
)
def test_bad_values_name_the_field(name, value, words):
    with pytest.raises(FieldError) as err:
        CATALOGUE[name].convert(value)
    assert err.value.field == name and str(err.value).startswith(f"{name}:") and words in str(err.value)
    assert err.value.errors == [err.value] and words in err.value.problem


def test_conversions_follow_hf_argument_parser_spelling():
    assert CATALOGUE["bf16"].convert("true") is True and CATALOGUE["bf16"].convert("0") is False
    assert CATALOGUE["max_steps"].convert("-1") == -1 and CATALOGUE["warmup_steps"].convert("0.03") == 0.03
    assert CATALOGUE["lora_target_modules"].convert("q_proj, v_proj") == ["q_proj", "v_proj"]
    assert CATALOGUE["save_total_limit"].convert("null") is None
    assert CATALOGUE["lr_scheduler_type"].convert("OneCycleLR") == "OneCycleLR"
    assert defaults()["lr_scheduler_kwargs"] is not defaults()["lr_scheduler_kwargs"]  # fresh copies


def test_str_to_bool_is_hf_argument_parsers():
    import argparse

    from transformers.hf_argparser import string_to_bool

    from lrexplorer.core.fields import FALSE_WORDS, TRUE_WORDS, str_to_bool

    for word in (*TRUE_WORDS, *FALSE_WORDS, "TRUE", " No ", "T"):
        assert str_to_bool(word) is string_to_bool(word.strip()), word
    for word in ("maybe", "on", "2", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            string_to_bool(word)
        with pytest.raises(ValueError):
            str_to_bool(word)


def test_resolve_reports_every_problem_at_once_and_translates_old_names():
    values, notes = resolve({"gradient_checkpointing": "true", "torch_dtype": "bfloat16"}, MEMORY)
    assert values["activation_checkpointing"] is True and values["dtype"] == "bfloat16"
    assert len(notes) == 2 and all("read as" in n for n in notes)
    with pytest.raises(FieldError) as err:
        resolve({"learning_rate": "-1", "max_steps": "ten", "num_gpus": 2, "learning_rat": 1}, TRAIN)
    assert err.value.fields == ["learning_rat", "learning_rate", "max_steps", "num_gpus"]
    assert "did you mean learning_rate" in str(err.value) and "memory" in str(err.value.errors[-1])
    assert len(str(err.value).splitlines()) == 4


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ({"warmup_ratio": 0.1, "warmup_steps": 5}, "warmup_ratio", "not both"),
        ({"warmup_ratio": 1.5}, "warmup_ratio", "< 1"),  # a ratio was a fraction; 1.5 updates would be a count
        ({"save_safetensors": False}, "save_safetensors", "cannot be expressed"),
        ({"learning_rat": 1e-3}, "learning_rat", "did you mean learning_rate"),
    ],
)
def test_old_names_that_cannot_be_translated_are_refused(given, field, words):
    _, _, errors = translate(given, CATALOGUE)
    assert [e.field for e in errors] == [field] and words in str(errors[0])


def test_field_error_collects_several_problems():
    one, two = FieldError("a", "is wrong."), FieldError("gamma", "must be > 0", "StepLR")
    both = FieldError.collect([one, FieldError.collect([two])])
    assert both.fields == ["a", "gamma"] and both.field == "a" and isinstance(both, ValueError)
    assert str(both) == "a: is wrong.\ngamma (StepLR): must be > 0."
    assert FieldError.collect([two]) is two
