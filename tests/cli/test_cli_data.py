"""`lrexplorer data`: TRL's totals of the run's prepared data as JSON or text, its examples token by token, and
bad input refused with exit 2 naming the flag, writing nothing."""

from __future__ import annotations

import json
import os

import pytest
from helpers.runs import write_jsonl
from helpers.sft_data import prompt_completion_rows

from lrexplorer.cli import main

KEYS = {"rows", "sequences", "tokens", "loss_tokens", "truncated_rows", "examples"}


def _trl_prepared(rows, **config):
    """TRL's own preparation through a real SFTTrainer (the built-in model, untrained), for comparison."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from lrexplorer.catalogues.builtin import load_tokenizer, make_model

    tok = load_tokenizer()
    args = SFTConfig(output_dir="unused", report_to="none", use_cpu=True, bf16=False, **config)
    model = make_model("tiny", tok, 0, "sdpa")
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok)


@pytest.mark.slow
def test_json_totals_are_those_of_trls_preparation(tmp_path, capsys):
    rows = prompt_completion_rows(120, 2, 30, seed=4)
    path = write_jsonl(tmp_path / "pc.jsonl", rows)
    assert main(["data", "--dataset", str(path), "--max_length", "24", "--examples", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= KEYS and len(out["examples"]) == 2
    trainer = _trl_prepared(rows, max_length=24)
    prepared = trainer.train_dataset
    whole = [len(x) for x in _trl_prepared(rows, max_length=None).train_dataset["input_ids"]]
    assert out["rows"] == len(rows) and out["sequences"] == len(prepared) < len(rows)  # rows left untrained drop
    assert out["tokens"] == sum(len(x) for x in prepared["input_ids"])
    assert out["loss_tokens"] == sum(int((b["labels"][..., 1:] != -100).sum()) for b in trainer.get_train_dataloader())
    assert out["truncated_rows"] == sum(n > 24 for n in whole)
    assert out["tokens_lost"] == sum(whole) - out["tokens"]
    tokens = out["examples"][0]["tokens"]
    assert {"id", "text", "kind", "doc"} <= set(tokens[0])
    assert [t["kind"] for t in tokens if t["kind"] != "cut"][:1] == ["masked"]  # the prompt carries no loss


def test_text_marks_the_loss_masks_the_cut_and_packing_boundaries(capsys):
    assert main(["data", "--max_length", "16", "--examples", "1"]) == 0
    out = capsys.readouterr().out
    assert "truncated_rows  2,000" in out and "(<|user|>)" in out and "✂{" in out
    assert main(["data", "--max_length", "64", "--packing", "--examples", "1"]) == 0
    out = capsys.readouterr().out
    assert "sequences       668" in out and " ‖ (<|user|>)" in out and "padding-free" in out
    assert main(["data", "--assistant_only_loss", "--examples", "1"]) == 0
    assert "[<|user|>⏎" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--packing", "--max_length", "null"], "--max_length"),
        (["--dataset", "missing.jsonl"], "--dataset"),
        (["--packing_strategy", "greedy"], "--packing_strategy"),
        (["--examples", "500"], "examples"),
    ],
)
def test_bad_input_exits_2_naming_the_flag_and_writes_nothing(argv, flag, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["data", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrexplorer data: error:") and flag in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_plain_text_with_assistant_only_loss_is_refused(tmp_path, capsys):
    path = write_jsonl(tmp_path / "t.jsonl", [{"text": "one line"}, {"text": "another"}])
    assert main(["data", "--dataset", str(path), "--assistant_only_loss"]) == 2
    assert "--assistant_only_loss: needs a conversational dataset" in capsys.readouterr().err
