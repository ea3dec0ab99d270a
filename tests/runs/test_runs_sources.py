"""Models and data: the bundled assets, local files through the real loaders, fast failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers.runs import save_tiny_hub_model, write_jsonl

from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.builtin_data import FACTS, RELATIONS, all_datasets
from lrexplorer.catalogues.make_assets import dataset_lines
from lrexplorer.catalogues.params import FieldError
from lrexplorer.core.facts import Facts
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.training import sources

CPU = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)


def test_bundled_datasets_are_the_generator_output():
    for name, splits in all_datasets().items():
        for split, rows in splits.items():
            text = Path(builtin.dataset_files(name)[split]).read_text(encoding="utf-8")
            assert text == dataset_lines(rows), (
                name,
                split,
            )
    assert builtin.builtin_datasets() == ["arithmetic", "facts"]


def test_facts_hold_out_one_paraphrase_of_every_fact():
    splits = all_datasets()["facts"]
    assert len(splits["test"]) == len(FACTS) and len(splits["train"]) == 5 * len(FACTS)
    test_questions = {r["messages"][0]["content"] for r in splits["test"]}
    train_questions = {r["messages"][0]["content"] for r in splits["train"]}
    assert not test_questions & train_questions  # the held-out wording is never trained on
    answers = {r["messages"][1]["content"] for r in splits["train"]}
    assert {r["messages"][1]["content"] for r in splits["test"]} <= answers  # ... but the fact is
    assert all(len(q) == 6 for q, _ in RELATIONS.values())


def test_tokenizer_chat_template_marks_assistant_tokens():
    tok = builtin.load_tokenizer()
    assert tok.eos_token == "<|end|>" and tok.pad_token_id != tok.eos_token_id
    messages = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "2 + 2 = 4."}]
    out = tok.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert tok.decode([i for i, m in zip(ids, mask) if m]) == "2 + 2 = 4.<|end|>"
    size = sum(
        p.stat().st_size
        for p in (builtin.ASSETS).rglob("*")
        if p.is_file() and ("tokenizer" in p.parts or "datasets" in p.parts)
    )
    assert size < 2_000_000  # assets stay small


def test_builtin_model_is_a_few_million_llama_parameters_and_seeded():
    import torch

    tok = builtin.load_tokenizer()
    a = builtin.make_model("tiny", tok, seed=3, attn_implementation="sdpa")
    b = builtin.make_model("tiny", tok, seed=3, attn_implementation="sdpa")
    n = sum(p.numel() for p in a.parameters())
    assert type(a).__name__ == "LlamaForCausalLM" and 1_000_000 < n < 10_000_000
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert a.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_local_data_files_load_through_datasets(tmp_path, suffix):
    import pandas as pd

    rows = [{"prompt": f"Say {i}", "completion": f" {i}"} for i in range(7)]
    path = tmp_path / f"data{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, rows)
    elif suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path)
    spec = RunSpec.from_dict({"dataset": str(path)}, CPU)
    assert sources.check_sources(spec.values) == []
    train, evaluation = sources.load_splits(spec.values)
    assert len(train) == 7 and evaluation is None and set(train.column_names) == {"prompt", "completion"}


def test_data_without_sft_columns_or_split_is_refused(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(FieldError, match="messages"):
        sources.load_splits(RunSpec.from_dict({"dataset": str(path)}, CPU).values)
    good = write_jsonl(tmp_path / "good.jsonl", [{"text": "hello"}])
    with pytest.raises(FieldError) as err:
        sources.load_splits(RunSpec.from_dict({"dataset": str(good), "eval_strategy": "epoch"}, CPU).values)
    assert err.value.field == "dataset_test_split"


def test_builtin_splits_load(tmp_path):
    values = RunSpec.from_dict({"dataset": "builtin:facts", "eval_strategy": "epoch"}, CPU).values
    train, evaluation = sources.load_splits(values)
    assert len(train) == 5 * len(FACTS) and len(evaluation) == len(FACTS)


def test_local_model_folder_loads_through_from_pretrained(tmp_path):
    folder = save_tiny_hub_model(tmp_path / "tiny-hub")
    values = RunSpec.from_dict({"model": str(folder)}, CPU).values
    assert sources.check_sources(values) == []
    tok = sources.load_tokenizer(values)
    model = sources.load_model(values, tok, "eager")
    assert model.config._attn_implementation == "eager" and model.config.hidden_size == 32


@pytest.mark.parametrize(
    ("field", "ref", "words"),
    [
        ("model", "/no/such/model", "no such file or folder"),
        ("model", "./missing-model", "no such file or folder"),
        ("dataset", "missing/data.jsonl", "no such file or folder"),
        ("model", "builtin:huge", "unknown built-in model"),
        ("dataset", "builtin:nope", "builtin:arithmetic"),
        ("model", "some-org/some-model-that-is-not-cached", "HF_HUB_OFFLINE"),
        ("dataset", "some-org/some-dataset-not-cached", "HF_HUB_OFFLINE"),
    ],
)
def test_missing_sources_fail_fast_with_the_field(monkeypatch, field, ref, words):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    values = RunSpec.from_dict({field: ref}, CPU).values
    errors = sources.check_sources(values)
    assert [e.field for e in errors] == [field] and words in str(errors[0])


def test_folder_without_config_is_not_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    errors = sources.check_sources(RunSpec.from_dict({"model": str(tmp_path / "empty")}, CPU).values)
    assert "config.json" in str(errors[0])


def test_unreachable_hub_fails_within_seconds(monkeypatch):
    """Online mode without a network (this machine): a clear message, not a hang."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(sources, "PROBE_TIMEOUT_S", 3.0)
    values = RunSpec.from_dict({"model": "lrexplorer-test/surely-not-a-repo-3141"}, CPU).values
    start = time.monotonic()
    errors = sources.check_sources(values)
    assert time.monotonic() - start < 20
    assert errors and errors[0].field == "model"
    assert "Hub" in str(errors[0]) and json.dumps(str(errors[0]))
