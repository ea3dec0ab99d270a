"""The data view's totals are TRL's: compared with the real SFTTrainer of the run (the worker's `build_trainer`)
on the same data, with the tokens in the loss counted from the batches its own dataloader and collator make.
The stand-in preparation (TRL's private `_prepare_dataset`) is compared with the real trainer's data, and the
list of settings it depends on with the SFTConfig fields that method reads."""

from __future__ import annotations

import inspect
import re

import pytest
from helpers.sft_data import datasets_in, real_trainer

from lrexplorer.catalogues.params import CATALOGUE, TRAIN
from lrexplorer.core.facts import Facts
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.training.data_view import data_view
from lrexplorer.runs.training.prepare import SFT_FIELDS, prepare

CPU = Facts(gpu_capabilities=(), cpu_bf16=False, flash_attn=False)
BASE = {"max_steps": 5, "save_strategy": "no", "per_device_train_batch_size": 4}
CASES = [
    ("arithmetic", {"max_length": 16}),
    ("arithmetic", {"max_length": 64, "packing": True}),
    ("facts", {"max_length": 20, "packing": True}),
    ("facts", {"max_length": 20, "packing": True, "packing_strategy": "bfd_split"}),
    ("text", {"max_length": 48, "packing": True, "packing_strategy": "wrapped"}),
    ("text", {"max_length": 40}),
    ("prompt_completion", {"max_length": 24}),
    ("prompt_completion", {"max_length": 64, "packing": True}),
    ("chat", {"max_length": 100, "assistant_only_loss": True}),
    ("chat", {"max_length": None, "padding_free": True}),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return datasets_in(tmp_path_factory.mktemp("data"))


def _trained_labels(trainer) -> int:
    """Labels the loss scores over one epoch: labels[..., 1:] != -100 over every batch the Trainer's dataloader
    gives (the count the Trainer passes to the loss as num_items_in_batch)."""
    return sum(int((batch["labels"][..., 1:] != -100).sum()) for batch in trainer.get_train_dataloader())


@pytest.mark.slow
@pytest.mark.parametrize(("name", "given"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_totals_equal_those_of_the_real_trainer(name, given, data, tmp_path):
    values = RunSpec.from_dict({**BASE, **given, "dataset": data[name]}, CPU).values
    view = data_view(values, examples=2)
    trainer = real_trainer(values, tmp_path / "run")
    prepared = trainer.train_dataset
    assert view.sequences == len(prepared)
    assert view.tokens == sum(len(ids) for ids in prepared["input_ids"])
    assert view.loss_tokens == _trained_labels(trainer)
    assert view.padding_free == trainer.padding_free
    whole = real_trainer({**values, "max_length": None, "packing": False, "padding_free": False}, tmp_path / "raw")
    lengths = [len(ids) for ids in whole.train_dataset["input_ids"]]
    assert view.rows == len(lengths) and view.tokens_lost == sum(lengths) - view.tokens
    cuts = (values["max_length"] is not None and values["packing_strategy"] == "bfd") or not values["packing"]
    limit = values["max_length"] or max(lengths)
    assert view.truncated_rows == (sum(n > limit for n in lengths) if cuts else 0)
    assert view.dropped_rows == (0 if values["packing"] else len(lengths) - len(prepared))


@pytest.mark.slow
@pytest.mark.parametrize("given", [{"max_length": 16}, {"max_length": 64, "packing": True}, {"max_length": 40}])
def test_the_stand_in_preparation_is_the_real_trainers_data(given, data, tmp_path):
    for name in ("facts", "prompt_completion"):
        values = RunSpec.from_dict({**BASE, **given, "dataset": data[name]}, CPU).values
        ours = prepare(values)
        real = real_trainer(values, tmp_path / name)
        assert ours.padding_free == real.padding_free
        assert ours.data.to_dict() == real.train_dataset.to_dict()


def test_assistant_only_loss_on_plain_text_is_refused_naming_the_field(data):
    values = RunSpec.from_dict({"dataset": data["text"], "assistant_only_loss": True}, CPU).values
    with pytest.raises(FieldError) as caught:
        data_view(values)
    assert caught.value.field == "assistant_only_loss"


def test_every_sftconfig_field_the_preparation_reads_is_one_it_is_given():
    """A catalogue field that reaches SFTConfig and that `_prepare_dataset` reads must be in SFT_FIELDS, or the
    data view would prepare with the default while the run uses the field's value."""
    from trl import SFTTrainer

    read = set(re.findall(r"\bargs\.(\w+)", inspect.getsource(SFTTrainer._prepare_dataset)))
    assert {"max_length", "packing_strategy", "seed"} <= read  # the grep sees the method's reads
    run_fields = {p.name for p in CATALOGUE.values() if TRAIN in p.tools and p.target == "sft"}
    assert (read & run_fields) - set(SFT_FIELDS) == set()


def test_examples_mark_trained_masked_first_and_cut_tokens():
    prompts_only = RunSpec.from_dict({"max_length": 4, "assistant_only_loss": True}, CPU).values
    view = data_view(prompts_only, examples=1)  # every row keeps only prompt tokens: TRL drops them all
    assert (view.sequences, view.dropped_rows, view.loss_tokens) == (0, 2000, 0) and view.examples[0].dropped
    values = RunSpec.from_dict({"max_length": 16}, CPU).values
    view = data_view(values, examples=1)
    (row,) = view.examples
    kinds = [t.kind for t in row.tokens]
    assert kinds[0] == "first" and kinds[1:16] == ["trained"] * 15 and set(kinds[16:]) == {"cut"}
    assert "".join(t.text for t in row.tokens).startswith("<|user|>")
    aligned = RunSpec.from_dict({"max_length": 128, "assistant_only_loss": True}, CPU).values
    (row,) = data_view(aligned, examples=1).examples
    text = {t.kind: "".join(x.text for x in row.tokens if x.kind == t.kind) for t in row.tokens}
    assert "<|user|>" in text["masked"] and "<|end|>" in text["trained"] and "first" not in text
    packed = RunSpec.from_dict({"max_length": 64, "packing": True}, CPU).values
    seq = data_view(packed, examples=1).examples[0]
    docs = sorted({t.doc for t in seq.tokens})
    firsts = [t.doc for t in seq.tokens if t.kind == "first"]
    assert len(docs) > 1 and firsts == docs  # each document starts afresh: its first token is not predicted
