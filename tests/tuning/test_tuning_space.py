"""A sweep's YAML space: what it accepts, in which types, and the errors that name the field."""

from __future__ import annotations

import pytest

from lrexplorer.catalogues.params import CATALOGUE, FieldError
from lrexplorer.tuning.space import load_space, parse_space, space_from_dict

GOOD = """
learning_rate: {low: 1e-5, high: 1e-2, log: true}
per_device_train_batch_size: {low: 2, high: 16}
warmup_steps: {low: 0, high: 2}
lr_scheduler_type: {values: [linear, cosine, linear]}
bf16: {values: [false, "yes"]}
lora_target_modules: {values: ["q_proj,v_proj", all-linear]}
"""


def test_a_space_takes_each_value_in_its_fields_type(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(GOOD)
    space = load_space(str(path))
    dims = {d.name: d for d in space.dimensions}
    assert space.names == [
        "learning_rate",
        "per_device_train_batch_size",
        "warmup_steps",
        "lr_scheduler_type",
        "bf16",
        "lora_target_modules",
    ]
    lr = dims["learning_rate"]
    assert (lr.low, lr.high, lr.log, lr.integer) == (1e-5, 1e-2, True, False)  # YAML reads 1e-5 as text
    assert dims["lr_scheduler_type"].values == ("linear", "cosine")  # repeats dropped
    assert dims["bf16"].values == (False, True)
    assert dims["lora_target_modules"].values == (["q_proj", "v_proj"], ["all-linear"])
    assert space.grid_size() is None
    assert space_from_dict(space.to_yaml()) == space


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("per_device_train_batch_size", 1, 8),
        ("lora_r", 4, 5),
        ("max_steps", 10, 200),
        ("gradient_accumulation_steps", 1, 3),
        ("warmup_steps", 0, 2),
        ("learning_rate", 1e-5, 1e-3),
        ("adam_beta2", 0.99, 0.9999),
        ("lora_dropout", 0, 0.5),
        ("logging_steps", 1, 10),
        ("eval_steps", 5, 6),
        ("max_grad_norm", 0, 4),
    ],
)
def test_whole_number_fields_are_found_by_asking_convert(name, low, high):
    dim = space_from_dict({name: {"low": low, "high": high}}).dimensions[0]
    assert dim.integer == (CATALOGUE[name].kind == "int")
    assert isinstance(dim.low, int) == dim.integer


def test_grid_values_round_trip_through_optunas_choices():
    space = parse_space("\n".join(line for line in GOOD.splitlines() if "values" in line))
    assert space.grid_size() == 2 * 2 * 2
    grid = space.grid()
    assert grid["lora_target_modules"] == ['["q_proj", "v_proj"]', '["all-linear"]']  # Optuna stores scalars
    decoded = space.decode({name: values[-1] for name, values in grid.items()})
    assert decoded == {"lr_scheduler_type": "cosine", "bf16": True, "lora_target_modules": ["all-linear"]}
    assert len(space.grid_points()) == 8


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("learnig_rate: {values: [1e-3]}", "learnig_rate", "did you mean learning_rate"),
        ("warmup_ratio: {values: [0.1]}", "warmup_ratio", "sweep warmup_steps instead"),
        ("output_dir: {values: [a, b]}", "output_dir", "cannot be swept"),
        ("learning_rate: {values: []}", "learning_rate", "empty"),
        ("learning_rate: {values: 1e-3}", "learning_rate", "must be a list"),
        ("learning_rate: {values: [1e-3, -1]}", "learning_rate", "> 0"),
        ("lr_scheduler_type: {values: [linear, bogus]}", "lr_scheduler_type", "one of"),
        ("adam_beta1: {low: 0.5, high: 1.5}", "adam_beta1", "< 1"),
        ("learning_rate: {low: 1e-2, high: 1e-4}", "learning_rate", "must be below high"),
        ("weight_decay: {low: 0, high: 0.1, log: true}", "weight_decay", "log: true needs low > 0"),
        ("weight_decay: {low: 0, high: 0.1, log: maybe}", "weight_decay", "log must be true or false"),
        ("lr_scheduler_type: {low: 1, high: 2}", "lr_scheduler_type", "must be one of linear"),
        ("bf16: {low: 0, high: 1}", "bf16", "must be true or false"),
        ("bf16: {low: no, high: yes}", "bf16", "low/high need a numeric field"),
        ("per_device_train_batch_size: {low: 1.5, high: 8}", "per_device_train_batch_size", "integer"),
        ("max_steps: {low: -1, high: 5}", "max_steps", "got 0"),
        ("learning_rate: {low: 1e-5}", "learning_rate", "low and high"),
        ("learning_rate: {low: 1e-5, high: 1e-3, step: 1e-5}", "learning_rate", "got keys"),
        ("learning_rate: {values: [1e-3], low: 1e-5, high: 1e-3}", "learning_rate", "not both"),
        ("learning_rate: 1e-3", "learning_rate", "give {values"),
        ("{}", "space", "empty"),
        ("- learning_rate", "space", "must map"),
        ("learning_rate: {values: [1e-3", "space", "not valid YAML"),
    ],
)
def test_bad_spaces_name_the_field(text, field, words):
    with pytest.raises(FieldError) as caught:
        parse_space(text)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ":")
    assert words in str(caught.value)


def test_a_grid_refuses_a_range_naming_its_field():
    space = parse_space("learning_rate: {low: 1e-5, high: 1e-3}\nseed: {values: [1, 2]}")
    with pytest.raises(FieldError) as caught:
        space.grid()
    assert caught.value.field == "learning_rate"


def test_a_missing_space_file_is_a_field_error(tmp_path):
    with pytest.raises(FieldError) as caught:
        load_space(str(tmp_path / "nope.yaml"))
    assert caught.value.field == "space"
