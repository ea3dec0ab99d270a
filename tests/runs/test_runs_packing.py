"""Packing as a run field, and the planned number of updates: the pre-flight's count equals the max_steps of the
run's real SFTTrainer (built by the worker's own code) for packed and unpacked data of several shapes, lengths
and epoch counts, including rows that TRL drops when max_length leaves them without a trained token."""

from __future__ import annotations

import pytest
from helpers.sft_data import datasets_in, trainer_max_steps

from lrexplorer.core.facts import Facts
from lrexplorer.core.fields import FieldError
from lrexplorer.frontend.preflight import preflight
from lrexplorer.runs.estimates import count_examples
from lrexplorer.runs.spec import RunSpec

CPU = Facts(gpu_capabilities=(), cpu_bf16=False, flash_attn=False)
BASE = {"max_steps": -1, "save_strategy": "no", "logging_steps": 1}

# (dataset, settings): every packing strategy, cuts that drop rows, epochs that end mid-way
CASES = [
    ("arithmetic", {"packing": True, "max_length": 64, "per_device_train_batch_size": 8, "num_train_epochs": 1}),
    ("arithmetic", {"packing": True, "max_length": 32, "packing_strategy": "wrapped", "num_train_epochs": 0.5}),
    ("facts", {"packing": True, "max_length": 256, "per_device_train_batch_size": 2, "num_train_epochs": 3}),
    ("facts", {"packing": True, "max_length": 20, "packing_strategy": "bfd_split", "num_train_epochs": 2.5}),
    ("text", {"packing": True, "max_length": 64, "per_device_train_batch_size": 3, "num_train_epochs": 2}),
    ("text", {"packing": True, "max_length": 200, "gradient_accumulation_steps": 3, "num_train_epochs": 1}),
    ("text", {"packing": True, "max_length": 32, "packing_strategy": "bfd_split", "num_train_epochs": 1}),
    ("prompt_completion", {"packing": True, "max_length": 48, "packing_strategy": "wrapped", "num_train_epochs": 2}),
    ("prompt_completion", {"max_length": 40, "per_device_train_batch_size": 4, "num_train_epochs": 1}),
    ("chat", {"assistant_only_loss": True, "max_length": 64, "gradient_accumulation_steps": 2, "num_train_epochs": 3}),
    ("chat", {"packing": True, "max_length": 128, "assistant_only_loss": True, "num_train_epochs": 1.5}),
    ("arithmetic", {"max_length": 128, "per_device_train_batch_size": 16, "num_train_epochs": 1}),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return datasets_in(tmp_path_factory.mktemp("data"))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "given"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_planned_updates_equal_the_real_trainers_max_steps(name, given, data, tmp_path):
    values = RunSpec.from_dict({**BASE, **given, "dataset": data[name]}, CPU).values
    pf = preflight(values, CPU)
    assert pf.ok, pf.errors
    assert pf.plan is not None, pf.plan_error
    assert pf.plan.total_steps == trainer_max_steps(values, tmp_path / "run")


@pytest.mark.slow
def test_rows_that_the_cut_leaves_untrained_are_not_planned(data, tmp_path):
    # A prompt longer than max_length leaves no completion token: TRL drops the row, so counting rows over-plans.
    values = RunSpec.from_dict({**BASE, "dataset": data["prompt_completion"], "max_length": 16}, CPU).values
    pf = preflight(values, CPU)
    rows = count_examples(values)
    assert pf.num_examples is not None and pf.num_examples < rows
    assert f"of which TRL drops {rows - pf.num_examples:,}" in pf.data.how
    assert pf.plan.total_steps == trainer_max_steps(values, tmp_path / "run")


def test_a_cut_that_keeps_no_row_is_an_error_naming_max_length():
    pf = preflight({"assistant_only_loss": True, "max_length": 4}, CPU)
    assert not pf.ok and "max_length" in [e.field for e in pf.errors]
    assert "all 2,000 rows are cut before their first trained token" in str(pf.errors[0])


def test_packing_is_a_run_field_that_reaches_sftconfig_and_is_checked_as_trl_checks_it():
    spec = RunSpec.from_dict({"packing": True, "packing_strategy": "wrapped", "max_length": 64}, CPU)
    kwargs = spec.sft_kwargs(use_cpu=True)
    assert kwargs["packing"] is True and kwargs["packing_strategy"] == "wrapped"
    from trl import SFTConfig

    config = SFTConfig(
        output_dir="unused",
        report_to="none",
        use_cpu=True,
        bf16=False,
        **{k: kwargs[k] for k in ("packing", "packing_strategy", "max_length")},
    )
    assert (config.packing, config.packing_strategy) == (True, "wrapped")
    with pytest.raises(FieldError) as caught:
        RunSpec.from_dict({"packing": True, "max_length": None}, CPU)
    assert caught.value.field == "max_length"
    with pytest.raises(FieldError) as caught:
        RunSpec.from_dict({"packing_strategy": "first_fit"}, CPU)
    assert "bfd, bfd_split, wrapped" in str(caught.value)
    # padding_free with a max_length is refused only without packing, as SFTTrainer refuses it.
    RunSpec.from_dict({"packing": True, "padding_free": True, "max_length": 64}, CPU)
    with pytest.raises(FieldError):
        RunSpec.from_dict({"padding_free": True, "max_length": 64}, CPU)
