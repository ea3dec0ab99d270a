"""Step arithmetic equals what the installed transformers Trainer and accelerate compute."""

from __future__ import annotations

import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrexplorer.catalogues.params import CATALOGUE, translate
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.steps import batches_per_process, plan_steps, warmup_steps_for


@pytest.fixture(scope="module")
def trainer(tiny_llama, tmp_path_factory):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path_factory.mktemp("t")), report_to="none", use_cpu=True)
    return Trainer(model=tiny_llama(), args=args)


def real_values(trainer, tmp, n, batch, ga, epochs, max_steps, drop_last):
    """(updates per epoch, max_steps, epochs) from Trainer.set_initial_training_values on a real DataLoader."""
    from torch.utils.data import DataLoader
    from transformers import TrainingArguments

    args = TrainingArguments(
        output_dir=tmp,
        report_to="none",
        use_cpu=True,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=ga,
        num_train_epochs=epochs,
        max_steps=max_steps,
        dataloader_drop_last=drop_last,
    )
    loader = DataLoader(list(range(n)), batch_size=batch, drop_last=drop_last)
    epochs_run, upe, *_rest, total = trainer.set_initial_training_values(args, loader)
    return upe, total, epochs_run


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 5000),
    batch=st.integers(1, 64),
    ga=st.integers(1, 16),
    epochs=st.one_of(st.integers(1, 5).map(float), st.floats(0.05, 6.0)),
    max_steps=st.one_of(st.just(-1), st.integers(1, 3000)),
    drop_last=st.booleans(),
)
def test_plan_matches_trainer(trainer, tmp_path_factory, n, batch, ga, epochs, max_steps, drop_last):
    tmp = str(tmp_path_factory.getbasetemp())
    if drop_last and n < batch:
        with pytest.raises(FieldError) as err:
            plan_steps(
                num_examples=n, per_device_train_batch_size=batch, dataloader_drop_last=True, max_steps=max_steps
            )
        assert err.value.field == "num_examples"
        if max_steps < 0:  # the Trainer refuses too
            with pytest.raises(ValueError):
                real_values(trainer, tmp, n, batch, ga, epochs, max_steps, drop_last)
        else:  # the Trainer would start endless epochs over an empty loader
            assert real_values(trainer, tmp, n, batch, ga, epochs, max_steps, drop_last)[2] == sys.maxsize
        return
    plan = plan_steps(
        num_examples=n,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=ga,
        num_train_epochs=epochs,
        max_steps=max_steps,
        dataloader_drop_last=drop_last,
    )
    upe, total, epochs_run = real_values(trainer, tmp, n, batch, ga, epochs, max_steps, drop_last)
    assert (plan.updates_per_epoch, plan.total_steps) == (upe, total)
    if total > 0 and upe:
        assert plan.epochs == epochs_run


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 3000), batch=st.integers(1, 32), world=st.integers(1, 8), drop_last=st.booleans())
def test_batches_per_process_matches_accelerate(n, batch, world, drop_last):
    """Every process of a world_size run gets the length accelerate's sharded DataLoader reports."""
    from accelerate.data_loader import prepare_data_loader
    from torch.utils.data import DataLoader

    ours = batches_per_process(n, batch, world, drop_last)
    for rank in range(world):
        loader = prepare_data_loader(
            DataLoader(list(range(n)), batch_size=batch, drop_last=drop_last), num_processes=world, process_index=rank
        )
        assert len(loader) == ours


@pytest.mark.parametrize("total", [1, 7, 100, 1234])
@pytest.mark.parametrize("warmup", [0, 0.0, 0.03, 0.1, 0.5, 0.999, 1, 1.0, 1.7, 5, 100, 5000])
def test_warmup_matches_training_arguments(total, warmup):
    from transformers import TrainingArguments

    real = TrainingArguments(output_dir="/tmp/lrx", report_to="none", warmup_steps=warmup).get_warmup_steps(total)
    assert warmup_steps_for(total, warmup) == real


@pytest.mark.parametrize("ratio", [0.0, 0.03, 0.1, 0.5])
def test_deprecated_warmup_ratio_is_the_fraction_form(ratio):
    """transformers 5 dropped warmup_ratio; the same fraction now goes in warmup_steps."""
    from transformers import TrainingArguments

    with pytest.raises(TypeError):
        TrainingArguments(output_dir="/tmp/lrx", warmup_ratio=ratio)
    real = TrainingArguments(output_dir="/tmp/lrx", report_to="none", warmup_steps=ratio).get_warmup_steps(321)
    values, notes, errors = translate({"warmup_ratio": ratio}, CATALOGUE)  # how every front end reads the old name
    assert not errors and warmup_steps_for(321, values["warmup_steps"]) == real
    assert "warmup_steps" in notes[0]


def test_world_size_divides_updates():
    plan = plan_steps(num_examples=1000, per_device_train_batch_size=8, world_size=4, num_train_epochs=1)
    assert plan.batches_per_epoch == math.ceil(math.ceil(1000 / 8) / 4)
    assert plan.global_batch_size == 32
    assert plan.total_steps == plan.updates_per_epoch == 32


def test_epoch_boundaries():
    plan = plan_steps(num_examples=100, per_device_train_batch_size=10, num_train_epochs=2.5)
    assert plan.total_steps == 25 and plan.epoch_boundaries() == [10, 20]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"per_device_train_batch_size": 0, "max_steps": 10}, "per_device_train_batch_size"),
        ({"gradient_accumulation_steps": -1, "max_steps": 10}, "gradient_accumulation_steps"),
        ({"max_steps": 0}, "max_steps"),
        ({}, "max_steps"),
        ({"num_examples": 10, "num_train_epochs": 0}, "num_train_epochs"),
        ({"max_steps": 10, "warmup_steps": -1}, "warmup_steps"),
        ({"max_steps": 10, "world_size": 0}, "world_size"),
        ({"num_examples": 0, "max_steps": 10}, "num_examples"),
        ({"num_examples": 10, "num_train_epochs": 1e308}, "num_train_epochs"),
        ({"max_steps": 10**30}, "max_steps"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(FieldError) as err:
        plan_steps(**kwargs)
    assert err.value.field == field and field in str(err.value)
