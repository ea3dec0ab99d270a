"""Every number the catalogue takes has an upper bound a real run can use, said by `allowed()`, and the
cross-field limits (a decay that wipes the weights, a schedule floor above the peak) are refused before
anything starts, with the field named."""

from __future__ import annotations

import json
import os

import pytest

from lrexplorer.catalogues.params import CATALOGUE, CATALOGUE_LIST, FieldError, resolve
from lrexplorer.cli import main
from lrexplorer.core.facts import Facts
from lrexplorer.runs.spec import RunSpec
from lrexplorer.schedules import compute_curve

CPU = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)
NUMERIC = [f for f in CATALOGUE_LIST if f.kind in ("int", "float")]


@pytest.mark.parametrize("field", NUMERIC, ids=lambda f: f.name)
def test_every_number_has_an_upper_bound_that_allowed_states(field):
    assert field.high is not None, f"{field.name} has no upper bound"
    assert "<" in field.allowed()
    field.convert(field.high if not field.high_open else field.high * (1 - 1e-9))
    with pytest.raises(FieldError) as err:
        field.convert(field.high * 2 + 1)
    assert err.value.field == field.name and field.allowed() in err.value.problem


def test_seed_covers_exactly_the_range_numpy_and_torch_take():
    import numpy as np
    import torch

    seed = CATALOGUE["seed"]
    top = seed.convert(2**32 - 1)
    np.random.seed(top)
    torch.manual_seed(top)
    with pytest.raises(ValueError):
        np.random.seed(2**32)
    with pytest.raises(FieldError, match="seed"):
        seed.convert(2**32)


def test_dataloader_workers_are_bounded_by_this_machines_cpus():
    field = CATALOGUE["dataloader_num_workers"]
    assert field.convert((os.cpu_count() or 1) * 4) == (os.cpu_count() or 1) * 4
    with pytest.raises(FieldError, match="dataloader_num_workers"):
        field.convert(1_000_000)


@pytest.mark.parametrize(
    "flag, value",
    [
        ("dataloader_num_workers", "1000000"),
        ("gradient_accumulation_steps", "1e23"),
        ("max_steps", "1e23"),
        ("seed", "1e23"),
        ("seed", "99999999999"),
        ("per_device_train_batch_size", "1e23"),
        ("warmup_ratio", "2"),
        ("weight_decay", "1e308"),
        ("max_length", "1e23"),
    ],
)
def test_train_refuses_absurd_numbers_naming_the_flag(flag, value, capsys):
    assert main(["train", "--check", f"--{flag}", value]) == 2
    err = capsys.readouterr().err
    assert f"--{flag}" in err and "Traceback" not in err


def test_warmup_ratio_of_one_or_more_is_refused_not_turned_into_steps():
    with pytest.raises(FieldError) as err:
        RunSpec.from_dict({"warmup_ratio": 2}, CPU)
    assert err.value.field == "warmup_ratio" and "< 1" in err.value.problem


def test_a_decay_that_wipes_the_weights_each_update_is_refused():
    """AdamW, SGD and Adafactor all scale each weight by (1 - lr x weight_decay) per update."""
    RunSpec.from_dict({"learning_rate": 0.1, "weight_decay": 9.0}, CPU)
    with pytest.raises(FieldError) as err:
        RunSpec.from_dict({"learning_rate": 0.5, "weight_decay": 2.0}, CPU)
    assert err.value.field == "weight_decay" and "learning_rate" in err.value.problem


def test_the_run_length_is_bounded_whichever_field_gives_it():
    values, _ = resolve({"max_steps": 100}, "schedule")
    from lrexplorer.runs.steps import plan_for

    with pytest.raises(FieldError):
        plan_for({**values, "max_steps": -1, "num_examples": 10**9, "num_train_epochs": 1e4})


# -- schedule floors against the peak ---------------------------------------------------------------------
FLOORS = [
    ("cosine_with_min_lr", {"min_lr": 1.0}, "min_lr"),
    ("cosine_warmup_with_min_lr", {"min_lr": 1.0}, "min_lr"),
    ("polynomial", {"lr_end": 1.0}, "lr_end"),
    ("CosineAnnealingLR", {"eta_min": 1.0}, "eta_min"),
    ("CosineAnnealingWarmRestarts", {"eta_min": 1.0}, "eta_min"),
    ("CyclicLR", {"base_lr": 1.0, "max_lr": 0.01}, "base_lr"),
]


@pytest.mark.parametrize("name, kwargs, field", FLOORS, ids=[f[0] for f in FLOORS])
def test_a_schedule_floor_above_the_peak_is_refused_everywhere(name, kwargs, field, capsys):
    with pytest.raises(FieldError) as err:
        compute_curve(name, 1e-3, 100, 0, kwargs)
    assert err.value.field == field and err.value.scope == name
    with pytest.raises(FieldError) as err:
        RunSpec.from_dict({"lr_scheduler_type": name, "lr_scheduler_kwargs": kwargs, "learning_rate": 1e-3}, CPU)
    assert err.value.field == "lr_scheduler_kwargs" and field in err.value.problem
    import json

    code = main(
        ["schedule", "--lr_scheduler_type", name, "--lr_scheduler_kwargs", json.dumps(kwargs), "--max_steps", "100"]
    )
    assert code == 2 and field in capsys.readouterr().err


def test_a_floor_below_the_peak_still_draws():
    curve = compute_curve("cosine_with_min_lr", 1e-3, 100, 0, {"min_lr": 1e-4})
    assert curve.lr.min() >= 1e-4 - 1e-12 and curve.lr.max() <= 1e-3


# -- memory ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "flag, value",
    [("max_length", "1e23"), ("max_length", "200000"), ("per_device_train_batch_size", "1e9"), ("num_gpus", "1e9")],
)
def test_memory_refuses_absurd_sizes_naming_the_flag(flag, value, capsys):
    args = {"model": "Llama-3.2-1B", "per_device_train_batch_size": "1", "max_length": "512", flag: value}
    argv = ["memory", *[x for k, v in args.items() for x in (f"--{k}", v)]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--{flag}" in err and "Traceback" not in err


def test_memory_max_length_is_checked_against_the_models_positions(capsys):
    from lrexplorer.memory.model_source import resolve_model

    positions = resolve_model("Llama-3.2-1B").config["max_position_embeddings"]
    base = ["memory", "--model", "Llama-3.2-1B", "--per_device_train_batch_size", "1", "--json"]
    assert main([*base, "--max_length", str(positions)]) == 0
    capsys.readouterr()
    assert main([*base, "--max_length", str(positions + 1)]) == 2
    err = capsys.readouterr().err
    assert "--max_length" in err and str(positions) in err


def test_train_max_length_is_checked_against_the_models_positions(tmp_path, capsys):
    from lrexplorer.catalogues.builtin import TINY_CONFIG

    positions = TINY_CONFIG["max_position_embeddings"]
    assert main(["train", "--check", "--max_length", str(positions)]) == 0
    capsys.readouterr()
    assert main(["train", "--check", "--max_length", str(positions + 1)]) == 2
    err = capsys.readouterr().err
    assert "--max_length" in err and str(positions) in err
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "max_position_embeddings": 64}))
    assert main(["train", "--check", "--model", str(folder), "--max_length", "65"]) == 2
    assert "--max_length" in capsys.readouterr().err


def test_tokens_per_micro_batch_are_bounded_so_no_estimate_is_astronomical(capsys):
    """Each of batch and length within its bound, their product is not: refused, naming the batch."""
    argv = ["memory", "--model", "Llama-3.1-8B", "--per_device_train_batch_size", "65536", "--max_length", "131072"]
    assert main(argv) == 2
    assert "--per_device_train_batch_size" in capsys.readouterr().err
    with pytest.raises(FieldError) as err:
        RunSpec.from_dict({"per_device_train_batch_size": 65536, "max_length": 2**20}, CPU)
    assert err.value.field == "per_device_train_batch_size"
